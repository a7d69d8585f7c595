//! What fine-tuning computes once per clip and per text, kept on disk: a clip's EnCodec codes
//! (keyed by the file's bytes, the clip length and the codec's checkpoint revision) and a text's
//! T5 states (keyed by the text and the checkpoint revision), one small safetensors file each,
//! written through a temporary name and a rename.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use sha2::{Digest, Sha256};

/// A cache folder (`codes/`, `states/`).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    revision: String,
}

impl Cache {
    /// The cache at `root` for the checkpoint of `revision`.
    pub fn new(root: &Path, revision: &str) -> Self {
        Self {
            root: root.to_path_buf(),
            revision: revision.to_string(),
        }
    }

    /// The key of a clip: its bytes, the clip length and the revision.
    pub fn clip_key(&self, bytes: &[u8], clip_seconds: f64) -> String {
        let mut hasher = Sha256::new();
        hasher.update(bytes);
        hasher.update(clip_seconds.to_le_bytes());
        hasher.update(self.revision.as_bytes());
        hex::encode(hasher.finalize())
    }

    /// The key of a text: the text and the revision.
    pub fn text_key(&self, text: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(text.as_bytes());
        hasher.update([0]);
        hasher.update(self.revision.as_bytes());
        hex::encode(hasher.finalize())
    }

    /// The codes `[codebook][frame]` stored under `key`, if any.
    pub fn codes(&self, key: &str) -> anyhow::Result<Option<Vec<Vec<u32>>>> {
        match self.read(&self.path("codes", key))? {
            Some(t) => Ok(Some(t.to_vec2::<u32>()?)),
            None => Ok(None),
        }
    }

    /// Stores codes under `key`.
    pub fn put_codes(&self, key: &str, codes: &[Vec<u32>]) -> anyhow::Result<()> {
        let frames = codes.first().map_or(0, Vec::len);
        let tensor = Tensor::from_vec(codes.concat(), (codes.len(), frames), &Device::Cpu)?;
        self.write(&self.path("codes", key), tensor)
    }

    /// The T5 states stored under `key`, if any.
    pub fn states(&self, key: &str, device: &Device) -> anyhow::Result<Option<Tensor>> {
        Ok(self
            .read(&self.path("states", key))?
            .map(|t| t.to_device(device))
            .transpose()?)
    }

    /// Stores T5 states under `key`.
    pub fn put_states(&self, key: &str, states: &Tensor) -> anyhow::Result<()> {
        let states = states.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
        self.write(&self.path("states", key), states)
    }

    fn path(&self, kind: &str, key: &str) -> PathBuf {
        self.root.join(kind).join(format!("{key}.safetensors"))
    }

    fn read(&self, path: &Path) -> anyhow::Result<Option<Tensor>> {
        if !path.is_file() {
            return Ok(None);
        }
        let mut tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .with_context(|| format!("{}: a broken cache file (delete it)", path.display()))?;
        Ok(tensors.remove("value"))
    }

    fn write(&self, path: &Path, tensor: Tensor) -> anyhow::Result<()> {
        let dir = path.parent().expect("cache files live in a folder");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let temp = path.with_extension("partial");
        let tensors = HashMap::from([("value".to_string(), tensor)]);
        candle_core::safetensors::save(&tensors, &temp)
            .with_context(|| format!("writing {}", temp.display()))?;
        std::fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_states_come_back_under_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path(), "rev1");
        let key = cache.clip_key(b"music", 30.0);
        assert_ne!(
            key,
            cache.clip_key(b"music", 10.0),
            "the clip length counts"
        );
        assert_ne!(key, Cache::new(dir.path(), "rev2").clip_key(b"music", 30.0));
        assert!(cache.codes(&key).unwrap().is_none());
        cache.put_codes(&key, &[vec![1, 2], vec![3, 4]]).unwrap();
        assert_eq!(
            cache.codes(&key).unwrap(),
            Some(vec![vec![1, 2], vec![3, 4]])
        );
        let text = cache.text_key("calm");
        let states = Tensor::new(&[[1f32, 2.0], [3.0, 4.0]], &Device::Cpu).unwrap();
        cache.put_states(&text, &states).unwrap();
        let back = cache.states(&text, &Device::Cpu).unwrap().unwrap();
        assert_eq!(
            back.to_vec2::<f32>().unwrap(),
            states.to_vec2::<f32>().unwrap()
        );
    }
}
