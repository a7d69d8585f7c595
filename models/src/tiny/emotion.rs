//! The tiny emotion model: a directory as `ekphrasis train emotion` writes it (see
//! `train::save`): `config.json` (`model_type` "ekphrasis-emotion", the labels, the backbone's
//! `ResNetConfig` — microsoft/resnet-50's with the sizes shrunk —, the head's sizes, and a
//! `training` record saying the weights are random), `model.safetensors` (the backbone under
//! `resnet.`, the head under `head.`) and the backbone's `preprocessor_config.json` for
//! 64-pixel images. Its labels are noise: it was never trained.

use std::path::Path;

use candle_core::Device;
use ekphrasis_shared::domain::Emotion;
use serde_json::{Value, json};

use super::recorder::RecordingWeights;
use super::{create_dir, parse, with_changes, write_json, write_weights};
use crate::emotion::resnet_bigru::config::{ARCHITECTURE, MODEL_TYPE};
use crate::emotion::resnet_bigru::{EmotionModel, EmotionModelConfig, HeadConfig};
use crate::error::Result;
use crate::image_prep::ImageProcessorConfig;

/// The image side the tiny emotion model's processor crops to.
pub const IMAGE_SIZE: usize = 64;

/// Writes a tiny emotion model (`model.safetensors`, `preprocessor_config.json`, then
/// `config.json`) into `dir`.
pub fn write_emotion(dir: &Path, seed: u64) -> Result<()> {
    let config_json = config(seed);
    let config: EmotionModelConfig = parse(dir, "config.json", &config_json)?;
    config.validate(&dir.join("config.json"))?;
    let processor_json = preprocessor();
    let processor = ImageProcessorConfig::from_json(
        &processor_json.to_string(),
        dir.join("preprocessor_config.json"),
    )?;
    let recorder = RecordingWeights::new(seed);
    EmotionModel::new(config, processor, recorder.var_builder(), &Device::Cpu)?;
    create_dir(dir)?;
    write_weights(dir, &recorder)?;
    write_json(dir, "preprocessor_config.json", &processor_json)?;
    write_json(dir, "config.json", &config_json)
}

/// The model's `config.json`: a four-stage bottleneck ResNet of 8 to 40 channels and a head of
/// two bidirectional GRU layers of 8 with 2 attention heads.
fn config(seed: u64) -> Value {
    let resnet50: Value = serde_json::from_str(include_str!("../../presets/resnet-50.json"))
        .expect("the compiled-in resnet-50 config parses");
    let backbone = with_changes(
        resnet50,
        &json!({"embedding_size": 8, "hidden_sizes": [16, 24, 32, 40], "depths": [1, 1, 1, 1]}),
    );
    let head = HeadConfig {
        feature_size: 40,
        gru_hidden: 8,
        gru_layers: 2,
        attention_heads: 2,
        dropout: 0.3,
    };
    let labels: Vec<&str> = Emotion::ALL.iter().map(|e| e.as_str()).collect();
    json!({
        "model_type": MODEL_TYPE,
        "architecture": ARCHITECTURE,
        "labels": labels,
        "backbone": backbone,
        "head": head,
        "training": {
            "source": "ekphrasis models tiny: random weights, never trained",
            "seed": seed
        }
    })
}

/// microsoft/resnet-50's `preprocessor_config.json` at [`IMAGE_SIZE`].
fn preprocessor() -> Value {
    let published: Value =
        serde_json::from_str(include_str!("../../presets/resnet-50-preprocessor.json"))
            .expect("the compiled-in resnet-50 processor config parses");
    with_changes(published, &json!({"size": IMAGE_SIZE}))
}
