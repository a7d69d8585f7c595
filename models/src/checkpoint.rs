//! A checkpoint directory in the Hugging Face layout, as users download it: a `config.json`,
//! weights as `model.safetensors` (or sharded with `model.safetensors.index.json`, or a legacy
//! `pytorch_model.bin`), and usually a `tokenizer.json`. Every error names the file at fault.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::de::DeserializeOwned;
use tokenizers::Tokenizer;

use crate::error::{Error, Result, Unsupported};

/// The weight files a checkpoint directory holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightFiles {
    /// One or more safetensors files (several when sharded).
    Safetensors(Vec<PathBuf>),
    /// A PyTorch pickle, for checkpoints published only that way.
    PytorchBin(PathBuf),
}

impl WeightFiles {
    /// The file to name in an error about the weights.
    pub fn first(&self) -> &Path {
        match self {
            WeightFiles::Safetensors(paths) => &paths[0],
            WeightFiles::PytorchBin(path) => path,
        }
    }
}

/// A local checkpoint directory.
#[derive(Clone, Debug)]
pub struct CheckpointDir {
    root: PathBuf,
}

impl CheckpointDir {
    /// Opens a directory, refusing a path that is not one.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if !root.is_dir() {
            return Err(Error::MissingFile {
                path: root,
                what: "checkpoint directory",
            });
        }
        Ok(Self { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of a file in the directory, or an error naming it when it is not there.
    pub fn require(&self, name: &str, what: &'static str) -> Result<PathBuf> {
        let path = self.root.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::MissingFile { path, what })
        }
    }

    /// Reads and parses a JSON file such as `config.json`.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let path = self.require(name, "JSON configuration")?;
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| Error::Config { path, source })
    }

    /// Reads a config such as `config.json` and checks it with `validate` (a config's own
    /// `validate`), naming the file in a refusal.
    pub fn read_config<T: DeserializeOwned>(
        &self,
        name: &str,
        validate: impl FnOnce(&T) -> Result<(), Unsupported>,
    ) -> Result<T> {
        let config: T = self.read_json(name)?;
        validate(&config).map_err(|u| u.at(self.root.join(name)))?;
        Ok(config)
    }

    /// Loads `tokenizer.json`; `what` says which tokenizer the model needs when it is missing.
    pub fn tokenizer(&self, what: &'static str) -> Result<Tokenizer> {
        let path = self.require("tokenizer.json", what)?;
        Tokenizer::from_file(&path).map_err(|e| Error::Tokenizer {
            path,
            message: e.to_string(),
        })
    }

    /// Builds a model from the weights converted to `dtype` on `device`, naming the weight file
    /// when they do not fit it (a missing key, a wrong shape).
    pub fn build<T>(
        &self,
        dtype: DType,
        device: &Device,
        build: impl FnOnce(VarBuilder<'static>) -> candle_core::Result<T>,
    ) -> Result<T> {
        let path = self.weight_files()?.first().to_owned();
        let vb = self.var_builder(dtype, device)?;
        build(vb).map_err(|source| Error::Weights { path, source })
    }

    /// Finds the weight files, preferring safetensors over a PyTorch pickle.
    pub fn weight_files(&self) -> Result<WeightFiles> {
        let single = self.root.join("model.safetensors");
        if single.is_file() {
            return Ok(WeightFiles::Safetensors(vec![single]));
        }
        let index = self.root.join("model.safetensors.index.json");
        if index.is_file() {
            return self.sharded_files(&index).map(WeightFiles::Safetensors);
        }
        let bin = self.root.join("pytorch_model.bin");
        if bin.is_file() {
            return Ok(WeightFiles::PytorchBin(bin));
        }
        Err(Error::MissingFile {
            path: single,
            what: "weights (model.safetensors, model.safetensors.index.json or pytorch_model.bin)",
        })
    }

    fn sharded_files(&self, index: &Path) -> Result<Vec<PathBuf>> {
        #[derive(serde::Deserialize)]
        struct Index {
            weight_map: std::collections::HashMap<String, String>,
        }
        let name = index
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let index: Index = self.read_json(name)?;
        let shards: BTreeSet<String> = index.weight_map.into_values().collect();
        shards
            .iter()
            .map(|shard| self.require(shard, "weight shard named by the index"))
            .collect()
    }

    /// Opens the weights for `Model::new(&cfg, vb)`, converting them to `dtype` on `device`.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> Result<VarBuilder<'static>> {
        match self.weight_files()? {
            WeightFiles::Safetensors(paths) => {
                for path in &paths {
                    check_safetensors_header(path)?;
                }
                // SAFETY: the files are memory-mapped read-only; like every candle loader we
                // rely on them not being modified while the model is alive.
                #[allow(unsafe_code)]
                unsafe { VarBuilder::from_mmaped_safetensors(&paths, dtype, device) }.map_err(
                    |source| Error::Weights {
                        path: paths[0].clone(),
                        source,
                    },
                )
            }
            WeightFiles::PytorchBin(path) => VarBuilder::from_pth(&path, dtype, device)
                .map_err(|source| Error::Weights { path, source }),
        }
    }
}

/// Refuses a file that is not safetensors before it is mapped, with a message naming it.
fn check_safetensors_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut len_bytes = [0u8; 8];
    let header_len = match file.read_exact(&mut len_bytes) {
        Ok(()) => u64::from_le_bytes(len_bytes),
        Err(_) => 0,
    };
    let mut first = [0u8; 1];
    let plausible = header_len >= 2
        && header_len <= file_len.saturating_sub(8)
        && file.read_exact(&mut first).is_ok()
        && first[0] == b'{';
    if plausible {
        Ok(())
    } else {
        Err(Error::Weights {
            path: path.to_owned(),
            source: candle_core::Error::Msg("not a safetensors file".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::Tensor;

    use super::*;

    fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        dir
    }

    #[test]
    fn missing_directory_and_files_are_named() {
        let err = CheckpointDir::open("/no/such/checkpoint").unwrap_err();
        assert!(err.to_string().contains("/no/such/checkpoint"), "{err}");
        let dir = dir_with(&[]);
        let ckpt = CheckpointDir::open(dir.path()).unwrap();
        let err = ckpt.weight_files().unwrap_err();
        assert!(err.to_string().contains("model.safetensors"), "{err}");
        let err = ckpt
            .read_json::<serde_json::Value>("config.json")
            .unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn bad_json_names_the_file() {
        let dir = dir_with(&[("config.json", b"{not json")]);
        let err = CheckpointDir::open(dir.path())
            .unwrap()
            .read_json::<serde_json::Value>("config.json")
            .unwrap_err();
        assert!(matches!(err, Error::Config { .. }));
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn safetensors_weights_load_by_key() {
        let dir = dir_with(&[]);
        let weight = Tensor::new(&[[1f32, 2.], [3., 4.]], &Device::Cpu).unwrap();
        let tensors = HashMap::from([("layer.weight".to_string(), weight)]);
        candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
        let vb = CheckpointDir::open(dir.path())
            .unwrap()
            .var_builder(DType::F32, &Device::Cpu)
            .unwrap();
        let loaded = vb.pp("layer").get((2, 2), "weight").unwrap();
        assert_eq!(loaded.to_vec2::<f32>().unwrap(), [[1., 2.], [3., 4.]]);
        assert!(vb.pp("layer").get((3, 2), "weight").is_err());
    }

    #[test]
    fn sharded_index_lists_every_shard_and_a_missing_shard_is_named() {
        let index = br#"{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"#;
        let dir = dir_with(&[
            ("model.safetensors.index.json", index),
            ("model-00001-of-00002.safetensors", b""),
        ]);
        let err = CheckpointDir::open(dir.path())
            .unwrap()
            .weight_files()
            .unwrap_err();
        assert!(err.to_string().contains("model-00002-of-00002"), "{err}");
    }

    #[test]
    fn foreign_weights_are_refused_with_the_file_name() {
        for bytes in [
            &b"GIF89a not weights at all"[..],
            &b""[..],
            &[255u8; 16][..],
        ] {
            let dir = dir_with(&[("model.safetensors", bytes)]);
            let Err(err) = CheckpointDir::open(dir.path())
                .unwrap()
                .var_builder(DType::F32, &Device::Cpu)
            else {
                panic!("foreign weights were accepted");
            };
            assert!(matches!(err, Error::Weights { .. }), "{err}");
            assert!(err.to_string().contains("model.safetensors"), "{err}");
        }
    }
}
