//! The complete emotion model as `ekphrasis train emotion` writes it and `--emotion-model DIR`
//! loads it: `config.json` (`model_type` "ekphrasis-emotion", the labels, the backbone's
//! transformers `ResNetConfig`, the head's sizes, what training recorded), `model.safetensors`
//! (the backbone under `resnet.` as in `microsoft/resnet-50`, the head under `head.`) and the
//! backbone's `preprocessor_config.json`.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use ekphrasis_shared::domain::EmotionProbabilities;
use image::RgbImage;
use serde::Deserialize;

use super::config::{ARCHITECTURE, HeadConfig, check_labels, check_model_type};
use super::emotion_probabilities;
use super::head::{EmotionHead, probabilities};
use crate::checkpoint::CheckpointDir;
use crate::emotion::resnet::{ResNet, ResNetConfig};
use crate::error::{Error, Result};
use crate::image_prep::{ImageProcessorConfig, pixel_values};
use crate::random_weights::RandomWeights;

/// An emotion model directory's `config.json`. Unknown fields are ignored.
#[derive(Clone, Debug, Deserialize)]
pub struct EmotionModelConfig {
    /// Always "ekphrasis-emotion".
    pub model_type: String,
    /// Always "resnet-bigru-attention".
    pub architecture: String,
    /// The output order: exactly happy, angry, sad, fun, neutral.
    pub labels: Vec<String>,
    /// The backbone's transformers `ResNetConfig`.
    pub backbone: ResNetConfig,
    /// The head's sizes.
    pub head: HeadConfig,
    /// What training recorded (informational).
    #[serde(default)]
    pub training: serde_json::Value,
}

impl EmotionModelConfig {
    /// Reads and checks `config.json`, refusing foreign configs with the file and field named.
    pub fn load(dir: &CheckpointDir) -> Result<Self> {
        let path = dir.require("config.json", "emotion model config")?;
        let value: serde_json::Value = dir.read_json("config.json")?;
        check_model_type(&value, &path)?;
        if value.get("architecture").and_then(|a| a.as_str()) != Some(ARCHITECTURE) {
            return Err(Error::Unsupported {
                path,
                field: "architecture",
                message: format!(
                    "{}: this build runs \"{ARCHITECTURE}\"",
                    value
                        .get("architecture")
                        .unwrap_or(&serde_json::Value::Null)
                ),
            });
        }
        let config: Self = serde_json::from_value(value).map_err(|source| Error::Config {
            path: path.clone(),
            source,
        })?;
        config.validate(&path)?;
        Ok(config)
    }

    /// Checks the labels, the backbone, the head and that they fit together.
    pub fn validate(&self, path: &Path) -> Result<()> {
        check_labels(&self.labels, path)?;
        self.backbone.validate().map_err(|u| Error::Unsupported {
            path: path.to_owned(),
            field: u.field,
            message: format!("backbone: {}", u.message),
        })?;
        self.head.validate(path)?;
        let channels = self.backbone.out_channels();
        if self.head.feature_size != channels {
            return Err(Error::Unsupported {
                path: path.to_owned(),
                field: "head.feature_size",
                message: format!(
                    "{} does not match the backbone's {channels} output channels",
                    self.head.feature_size
                ),
            });
        }
        Ok(())
    }
}

/// The ResNet backbone and the head, with the image preprocessing they were trained with.
#[derive(Debug)]
pub struct EmotionModel {
    backbone: ResNet,
    head: EmotionHead,
    processor: ImageProcessorConfig,
    config: EmotionModelConfig,
    device: Device,
}

impl EmotionModel {
    /// Loads an emotion model directory.
    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let ckpt = CheckpointDir::open(dir.as_ref())?;
        let config = EmotionModelConfig::load(&ckpt)?;
        let processor = ImageProcessorConfig::load(&ckpt)?;
        let weights = ckpt.weight_files()?.first().to_owned();
        let vb = ckpt.var_builder(DType::F32, device)?;
        Self::new(config, processor, vb, device).map_err(|err| match err {
            Error::Candle(source) => Error::Weights {
                path: weights,
                source,
            },
            other => other,
        })
    }

    /// Builds the model from weights at the model root (`resnet.…`, `head.…`).
    pub fn new(
        config: EmotionModelConfig,
        processor: ImageProcessorConfig,
        vb: VarBuilder,
        device: &Device,
    ) -> Result<Self> {
        let backbone = ResNet::new(&config.backbone, vb.pp("resnet"))?;
        let head = EmotionHead::new(&config.head, vb.pp("head"))?;
        Ok(Self {
            backbone,
            head,
            processor,
            config,
            device: device.clone(),
        })
    }

    /// A model with seeded random weights (benchmarks): the backbone and head configs given.
    pub fn random(
        backbone: ResNetConfig,
        head: HeadConfig,
        processor: ImageProcessorConfig,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        let config = EmotionModelConfig {
            model_type: super::config::MODEL_TYPE.into(),
            architecture: ARCHITECTURE.into(),
            labels: ekphrasis_shared::domain::Emotion::ALL
                .iter()
                .map(|e| e.as_str().to_string())
                .collect(),
            backbone,
            head,
            training: serde_json::Value::Null,
        };
        config.validate(Path::new("config"))?;
        let vb = RandomWeights::new(seed).var_builder(DType::F32, device);
        Self::new(config, processor, vb, device)
    }

    /// The model's settings.
    pub fn config(&self) -> &EmotionModelConfig {
        &self.config
    }

    /// The image preprocessing.
    pub fn processor(&self) -> &ImageProcessorConfig {
        &self.processor
    }

    /// The five probabilities for an image.
    pub fn classify(&self, image: &RgbImage) -> Result<EmotionProbabilities> {
        let pixels = pixel_values(image, &self.processor, &self.device)?.unsqueeze(0)?;
        let probs = self.probabilities_from_pixels(&pixels)?;
        emotion_probabilities(&probs, 0)
    }

    /// The probabilities (B, 5) for pixel values (B, 3, H, W).
    pub fn probabilities_from_pixels(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let features = self.backbone.forward(pixel_values)?;
        Ok(probabilities(&self.head_logits(&features)?)?)
    }

    /// The backbone's feature map (B, C, h, w) for pixel values (B, 3, H, W).
    pub fn features(&self, pixel_values: &Tensor) -> Result<Tensor> {
        self.backbone.forward(pixel_values)
    }

    /// The head's logits (B, 5) for a feature map (B, C, h, w).
    pub fn head_logits(&self, features: &Tensor) -> Result<Tensor> {
        Ok(self.head.forward(features)?)
    }
}
