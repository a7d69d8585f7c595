//! The feature cache: backbone features of each image, computed once. In memory for the run,
//! and on disk under `<out>/feature-cache/<backbone>/<sha256 of the image bytes>.safetensors`,
//! where `<backbone>` is a hash of the backbone's identity (its config, preprocessing and weight
//! files), so a rerun with the same backbone skips every image it has seen, whatever its name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The name of the cache folder inside the output folder.
pub const CACHE_DIR: &str = "feature-cache";

/// The lowercase hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Features by image hash, in memory and optionally on disk.
#[derive(Debug)]
pub struct FeatureCache {
    dir: Option<PathBuf>,
    memory: HashMap<String, Tensor>,
    device: Device,
}

impl FeatureCache {
    /// A cache for one backbone; on disk under `out_dir` when one is given.
    pub fn new(out_dir: Option<&Path>, backbone_identity: &str, device: &Device) -> Result<Self> {
        let dir = match out_dir {
            Some(out) => {
                let dir = out
                    .join(CACHE_DIR)
                    .join(&sha256_hex(backbone_identity.as_bytes())[..16]);
                std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                    path: dir.clone(),
                    source,
                })?;
                Some(dir)
            }
            None => None,
        };
        Ok(Self {
            dir,
            memory: HashMap::new(),
            device: device.clone(),
        })
    }

    /// The folder on disk, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The features for an image hash, from memory or disk. A cache file that cannot be read is
    /// treated as absent (and later overwritten).
    pub fn get(&mut self, key: &str) -> Option<Tensor> {
        if let Some(features) = self.memory.get(key) {
            return Some(features.clone());
        }
        let path = self.dir.as_ref()?.join(format!("{key}.safetensors"));
        if !path.is_file() {
            return None;
        }
        match candle_core::safetensors::load(&path, &self.device)
            .ok()
            .and_then(|mut map| map.remove("features"))
        {
            Some(features) => {
                self.memory.insert(key.to_string(), features.clone());
                Some(features)
            }
            None => {
                tracing::warn!(path = %path.display(), "unreadable cached features; recomputing");
                None
            }
        }
    }

    /// Keeps the features of an image hash, writing them to disk atomically.
    pub fn put(&mut self, key: &str, features: &Tensor) -> Result<()> {
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{key}.safetensors"));
            let temp = dir.join(format!(".{key}.tmp"));
            let io = |source| Error::Io {
                path: path.clone(),
                source,
            };
            features
                .save_safetensors("features", &temp)
                .map_err(|source| Error::Weights {
                    path: temp.clone(),
                    source,
                })?;
            std::fs::rename(&temp, &path).map_err(io)?;
        }
        self.memory.insert(key.to_string(), features.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_features_across_runs_on_disk_per_backbone() {
        let out = tempfile::tempdir().unwrap();
        let features = Tensor::new(&[[1f32, 2.], [3., 4.]], &Device::Cpu).unwrap();
        let key = sha256_hex(b"image bytes");
        let mut cache = FeatureCache::new(Some(out.path()), "backbone A", &Device::Cpu).unwrap();
        assert!(cache.get(&key).is_none());
        cache.put(&key, &features).unwrap();
        let mut rerun = FeatureCache::new(Some(out.path()), "backbone A", &Device::Cpu).unwrap();
        let got = rerun.get(&key).unwrap();
        assert_eq!(got.to_vec2::<f32>().unwrap(), [[1., 2.], [3., 4.]]);
        let mut other = FeatureCache::new(Some(out.path()), "backbone B", &Device::Cpu).unwrap();
        assert!(
            other.get(&key).is_none(),
            "another backbone's features are not reused"
        );

        std::fs::write(
            rerun.dir().unwrap().join(format!("{key}.safetensors")),
            b"junk",
        )
        .unwrap();
        let mut broken = FeatureCache::new(Some(out.path()), "backbone A", &Device::Cpu).unwrap();
        assert!(broken.get(&key).is_none(), "a broken file is recomputed");
    }
}
