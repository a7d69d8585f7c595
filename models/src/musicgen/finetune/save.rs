//! Writing a fine-tuned MusicGen as a complete checkpoint in the published layout: every tensor
//! of the base checkpoint (the trained ones replaced) in one `model.safetensors` with the
//! `{"format": "pt"}` metadata transformers expects, the base's `config.json`,
//! `generation_config.json` and tokenizer files, and `training.json`, written last. Each file goes
//! through a temporary name and a rename, so an interrupted run never leaves a directory that
//! looks complete.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::checkpoint::{CheckpointDir, WeightFiles};
use crate::error::{Error, Result};
use crate::train::save::{rename, temp_path, write_json};

/// Files copied from the base checkpoint when present (`config.json` is required).
const COPIED: [&str; 6] = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "spiece.model",
];

/// Every tensor of the checkpoint at `base`, on the CPU, by name.
pub fn base_tensors(base: &Path) -> Result<HashMap<String, Tensor>> {
    let ckpt = CheckpointDir::open(base)?;
    let files = ckpt.weight_files()?;
    let mut tensors = HashMap::new();
    match files {
        WeightFiles::Safetensors(paths) => {
            for path in paths {
                let loaded = candle_core::safetensors::load(&path, &Device::Cpu)
                    .map_err(|source| Error::Weights { path, source })?;
                tensors.extend(loaded);
            }
        }
        WeightFiles::PytorchBin(path) => {
            let loaded = candle_core::pickle::read_all(&path)
                .map_err(|source| Error::Weights { path, source })?;
            tensors.extend(loaded);
        }
    }
    Ok(tensors)
}

/// Writes `out` from the checkpoint at `base` with `trained` tensors (checkpoint names) in place
/// of the base's; `training` becomes `training.json`. A trained name the base lacks, or of
/// another shape, is an error and nothing is written.
pub fn write_checkpoint(
    base: &Path,
    out: &Path,
    trained: &BTreeMap<String, Tensor>,
    training: &serde_json::Value,
) -> Result<()> {
    let mut tensors = base_tensors(base)?;
    for (name, tensor) in trained {
        let Some(old) = tensors.get(name) else {
            return Err(Error::Input(format!(
                "{name} is not a tensor of the base checkpoint {}",
                base.display()
            )));
        };
        if old.dims() != tensor.dims() {
            return Err(Error::Input(format!(
                "{name}: trained shape {:?} differs from the base's {:?}",
                tensor.dims(),
                old.dims()
            )));
        }
        let tensor = tensor.to_device(&Device::Cpu)?.to_dtype(old.dtype())?;
        tensors.insert(name.clone(), tensor);
    }
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.to_owned(),
        source,
    })?;
    let weights = out.join("model.safetensors");
    let temp = temp_path(&weights);
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let mut sorted: Vec<(&String, &Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    safetensors::serialize_to_file(sorted, Some(metadata), &temp).map_err(|e| Error::Io {
        path: temp.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    rename(&temp, &weights)?;
    for name in COPIED {
        let from = base.join(name);
        if !from.is_file() {
            continue;
        }
        let to = out.join(name);
        let temp = temp_path(&to);
        std::fs::copy(&from, &temp).map_err(|source| Error::Io {
            path: from.clone(),
            source,
        })?;
        rename(&temp, &to)?;
    }
    write_json(&out.join("training.json"), training)
}
