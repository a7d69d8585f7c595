//! Writing a trained emotion model directory: `model.safetensors` (the backbone's ResNet under
//! `resnet.`, the head under `head.`), the backbone's `preprocessor_config.json`, and
//! `config.json` last, each through a temporary file and a rename, so an interrupted run never
//! leaves a directory that looks complete.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::backbone::Backbone;
use crate::emotion::resnet_bigru::HeadConfig;
use crate::emotion::resnet_bigru::config::{ARCHITECTURE, MODEL_TYPE};
use crate::error::{Error, Result};

/// Writes the model directory `out` (created if needed); `training` goes into `config.json`.
pub fn write_model(
    out: &Path,
    backbone: &Backbone,
    head_weights: &BTreeMap<String, Tensor>,
    head: &HeadConfig,
    training: serde_json::Value,
) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        path: out.to_owned(),
        source,
    })?;
    let mut tensors: HashMap<String, Tensor> = backbone.model_tensors()?;
    for (name, tensor) in head_weights {
        tensors.insert(name.clone(), tensor.to_device(&Device::Cpu)?);
    }
    let weights = out.join("model.safetensors");
    let temp = temp_path(&weights);
    candle_core::safetensors::save(&tensors, &temp).map_err(|source| Error::Weights {
        path: temp.clone(),
        source,
    })?;
    rename(&temp, &weights)?;

    let preprocessor = preprocessor_json(backbone)?;
    write_json(&out.join("preprocessor_config.json"), &preprocessor)?;

    let labels: Vec<&str> = ekphrasis_shared::domain::Emotion::ALL
        .iter()
        .map(|e| e.as_str())
        .collect();
    let config = serde_json::json!({
        "model_type": MODEL_TYPE,
        "architecture": ARCHITECTURE,
        "labels": labels,
        "backbone": backbone.config_json()?,
        "head": head,
        "training": training,
    });
    write_json(&out.join("config.json"), &config)
}

/// The backbone's image processor settings as a `preprocessor_config.json` value.
fn preprocessor_json(backbone: &Backbone) -> Result<serde_json::Value> {
    let Some(checkpoint) = backbone.checkpoint() else {
        return Err(Error::Input(
            "a random backbone has no preprocessing files".into(),
        ));
    };
    if checkpoint.root().join("processor_config.json").is_file() {
        let value: serde_json::Value = checkpoint.read_json("processor_config.json")?;
        if let Some(section) = value.get("image_processor") {
            return Ok(section.clone());
        }
    }
    checkpoint.read_json("preprocessor_config.json")
}

pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Config {
        path: path.to_owned(),
        source,
    })?;
    let temp = temp_path(path);
    std::fs::write(&temp, text + "\n").map_err(|source| Error::Io {
        path: temp.clone(),
        source,
    })?;
    rename(&temp, path)
}

pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

pub(crate) fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|source| Error::Io {
        path: to.to_owned(),
        source,
    })
}
