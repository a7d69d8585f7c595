//! One fixture set as `models/fixtures/*.py` writes it: `expected.safetensors` (tensors computed
//! by transformers or PyTorch) and `expected.json` (ids, texts and settings), beside the tiny
//! checkpoint they were computed from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

/// A fixture directory's expected outputs.
pub struct Fixture {
    /// The directory (the tiny checkpoint is in it too).
    pub dir: PathBuf,
    /// `expected.safetensors`, on the CPU.
    pub tensors: HashMap<String, Tensor>,
    /// `expected.json`.
    pub json: Value,
}

impl Fixture {
    /// Reads both expected files of `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        Ok(Self {
            dir: dir.to_owned(),
            tensors: expected_tensors(dir)?,
            json: expected_json(dir)?,
        })
    }

    /// The expected tensor `name`.
    pub fn tensor(&self, name: &str) -> Result<&Tensor> {
        self.tensors.get(name).ok_or_else(|| {
            Error::Input(format!(
                "{}: no tensor `{name}`",
                self.dir.join("expected.safetensors").display()
            ))
        })
    }

    /// Integer tensor `name` as u32 ids on `device`.
    pub fn ids_tensor(&self, name: &str, device: &Device) -> Result<Tensor> {
        Ok(self.tensor(name)?.to_dtype(DType::U32)?.to_device(device)?)
    }

    /// The JSON value at `pointer` (`/greedy/new_ids`), read as `T`.
    pub fn value<T: DeserializeOwned>(&self, pointer: &str) -> Result<T> {
        let value = self.json.pointer(pointer).ok_or_else(|| {
            Error::Input(format!(
                "{}: nothing at `{pointer}`",
                self.dir.join("expected.json").display()
            ))
        })?;
        serde_json::from_value(value.clone()).map_err(|source| Error::Config {
            path: self.dir.join("expected.json"),
            source,
        })
    }
}

/// A fixture directory's `expected.safetensors`, on the CPU.
pub fn expected_tensors(dir: &Path) -> Result<HashMap<String, Tensor>> {
    let path = dir.join("expected.safetensors");
    if !path.is_file() {
        return Err(Error::MissingFile {
            path,
            what: "the reference's expected tensors",
        });
    }
    candle_core::safetensors::load(&path, &Device::Cpu)
        .map_err(|source| Error::Weights { path, source })
}

/// A fixture directory's `expected.json`.
pub fn expected_json(dir: &Path) -> Result<Value> {
    let path = dir.join("expected.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| Error::Config { path, source })
}
