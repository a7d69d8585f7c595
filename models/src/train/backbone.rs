//! The frozen backbone training computes features with: a ResNet checkpoint in transformers'
//! layout (`microsoft/resnet-50`), its image preprocessing, and an identity that changes
//! whenever its features could (the config, preprocessing and weight files' bytes), which keys
//! the on-disk feature cache.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use image::RgbImage;
use sha2::{Digest, Sha256};

use crate::checkpoint::{CheckpointDir, WeightFiles};
use crate::emotion::resnet::{ResNet, ResNetConfig, resnet_prefix};
use crate::error::{Error, Result};
use crate::image_prep::{ImageProcessorConfig, pixel_values};

/// A ResNet that turns images into feature maps.
#[derive(Debug)]
pub struct Backbone {
    resnet: ResNet,
    processor: ImageProcessorConfig,
    identity: String,
    checkpoint: Option<CheckpointDir>,
    device: Device,
}

impl Backbone {
    /// Loads a ResNet checkpoint directory (`config.json`, weights, `preprocessor_config.json`).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let checkpoint = CheckpointDir::open(dir)?;
        let config: serde_json::Value = checkpoint.read_json("config.json")?;
        match config.get("model_type").and_then(|t| t.as_str()) {
            Some("resnet") | None => {}
            Some(other) => {
                return Err(Error::Unsupported {
                    path: checkpoint.root().join("config.json"),
                    field: "model_type",
                    message: format!(
                        "\"{other}\": the backbone must be a ResNet checkpoint such as \
                         microsoft/resnet-50"
                    ),
                });
            }
        }
        let (resnet, processor) = ResNet::load(dir, device)?;
        let identity = identity_of(&checkpoint)?;
        Ok(Self {
            resnet,
            processor,
            identity,
            checkpoint: Some(checkpoint),
            device: device.clone(),
        })
    }

    /// A backbone with seeded random weights (benchmarks); it cannot be saved into a model.
    pub fn random(
        config: &ResNetConfig,
        processor: ImageProcessorConfig,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        Ok(Self {
            resnet: ResNet::random(config, seed, device)?,
            processor,
            identity: format!("random weights, seed {seed}, {config:?}"),
            checkpoint: None,
            device: device.clone(),
        })
    }

    /// What the feature cache is keyed by.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Channels of the feature map (2048 for ResNet-50).
    pub fn feature_size(&self) -> usize {
        self.resnet.config().out_channels()
    }

    /// The device the backbone runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The checkpoint directory, when loaded from one.
    pub fn checkpoint(&self) -> Option<&CheckpointDir> {
        self.checkpoint.as_ref()
    }

    /// The feature maps (B, C, h, w) of a batch of images.
    pub fn features(&self, images: &[RgbImage]) -> Result<Tensor> {
        let pixels = images
            .iter()
            .map(|image| pixel_values(image, &self.processor, &self.device))
            .collect::<Result<Vec<_>>>()?;
        if let Some(first) = pixels.first()
            && pixels.iter().any(|p| p.dims() != first.dims())
        {
            return Err(Error::Input(
                "the backbone's preprocessing gives images of different sizes; training \
                     needs a preprocessor_config.json that crops to one size"
                    .into(),
            ));
        }
        let batch = Tensor::stack(&pixels, 0)?;
        self.resnet.forward(&batch)
    }

    /// The backbone's weights as the emotion model stores them: every tensor of the checkpoint's
    /// ResNet under `resnet.` (the ImageNet classifier left out), whichever layout it came in.
    pub fn model_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let Some(checkpoint) = &self.checkpoint else {
            return Err(Error::Input(
                "a backbone with random weights cannot be saved into an emotion model".into(),
            ));
        };
        let prefix = resnet_prefix(checkpoint)?;
        let files = checkpoint.weight_files()?;
        let tensors: Vec<(String, Tensor)> = match &files {
            WeightFiles::Safetensors(paths) => {
                let mut all = Vec::new();
                for path in paths {
                    let map =
                        candle_core::safetensors::load(path, &Device::Cpu).map_err(|source| {
                            Error::Weights {
                                path: path.clone(),
                                source,
                            }
                        })?;
                    all.extend(map);
                }
                all
            }
            WeightFiles::PytorchBin(path) => {
                candle_core::pickle::read_all(path).map_err(|source| Error::Weights {
                    path: path.clone(),
                    source,
                })?
            }
        };
        let mut out = HashMap::new();
        for (name, tensor) in tensors {
            let name = if prefix.is_empty() {
                if name.starts_with("embedder.") || name.starts_with("encoder.") {
                    format!("resnet.{name}")
                } else {
                    continue;
                }
            } else if name.starts_with(prefix) {
                name
            } else {
                continue;
            };
            // Keep integer buffers (num_batches_tracked) as they are; store floats as f32.
            let tensor = if tensor.dtype().is_float() {
                tensor.to_dtype(DType::F32)?
            } else {
                tensor
            };
            out.insert(name, tensor);
        }
        Ok(out)
    }

    /// The backbone's `config.json` as JSON, its ImageNet label names left out.
    pub fn config_json(&self) -> Result<serde_json::Value> {
        let Some(checkpoint) = &self.checkpoint else {
            return Err(Error::Input("a random backbone has no config file".into()));
        };
        let mut value: serde_json::Value = checkpoint.read_json("config.json")?;
        if let Some(map) = value.as_object_mut() {
            map.remove("id2label");
            map.remove("label2id");
        }
        Ok(value)
    }
}

/// A hash of the files that decide a checkpoint's features.
fn identity_of(checkpoint: &CheckpointDir) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut files = vec![
        checkpoint.root().join("config.json"),
        checkpoint.root().join("preprocessor_config.json"),
        checkpoint.root().join("processor_config.json"),
    ];
    match checkpoint.weight_files()? {
        WeightFiles::Safetensors(paths) => files.extend(paths),
        WeightFiles::PytorchBin(path) => files.push(path),
    }
    for path in files.iter().filter(|p| p.is_file()) {
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut buffer = vec![0u8; 1 << 20];
        hasher.update(
            path.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        loop {
            let read = file.read(&mut buffer).map_err(io)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
    }
    Ok(format!("resnet {}", hex::encode(hasher.finalize())))
}
