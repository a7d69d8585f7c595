//! ResNet (He et al., "Deep Residual Learning for Image Recognition", 2015) in transformers'
//! layout (`ResNetModel` / `ResNetForImageClassification`, checkpoint `microsoft/resnet-50`): the
//! backbone of the emotion labeller. It returns the last stage's feature map (before pooling) and,
//! on request, every stage's output. Checkpoint keys are loaded unchanged
//! (`embedder.embedder.convolution`, `encoder.stages.{i}.layers.{j}.layer.{k}`, …); each
//! BatchNorm (eval mode, running statistics, eps 1e-5) is folded into its convolution at load time.

use std::path::Path;

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder};
use serde::Deserialize;

use crate::checkpoint::CheckpointDir;
use crate::error::Unsupported;
use crate::error::{Error, Result};
use crate::image_prep::ImageProcessorConfig;
use crate::random_weights::RandomWeights;

/// BatchNorm2d's default epsilon, which transformers' ResNet keeps.
const BATCH_NORM_EPS: f64 = 1e-5;

/// The key of the stem convolution, used to tell the checkpoint layouts apart.
const STEM_KEY: &str = "embedder.embedder.convolution.weight";

/// A ResNet `config.json` (`ResNetConfig` in transformers), with the checkpoint's field names.
/// Unknown fields (labels, backbone indices, `dtype`/`torch_dtype`) are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ResNetConfig {
    /// `"resnet"` in every ResNet config; another value means a foreign checkpoint.
    #[serde(default)]
    pub model_type: Option<String>,
    /// Input channels (3).
    #[serde(default = "default_num_channels")]
    pub num_channels: usize,
    /// Channels of the 7x7 stem convolution (64).
    pub embedding_size: usize,
    /// Output channels of each stage ([256, 512, 1024, 2048]).
    pub hidden_sizes: Vec<usize>,
    /// Layers in each stage ([3, 4, 6, 3]).
    pub depths: Vec<usize>,
    /// `"bottleneck"` (ResNet-50 and deeper) or `"basic"` (ResNet-18/34).
    #[serde(default = "default_layer_type")]
    pub layer_type: String,
    /// The activation; only `"relu"` is supported.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// Whether the first stage downsamples with stride 2.
    #[serde(default)]
    pub downsample_in_first_stage: bool,
    /// Whether a bottleneck's stride sits on its first 1x1 convolution instead of the 3x3 one.
    #[serde(default)]
    pub downsample_in_bottleneck: bool,
}

fn default_num_channels() -> usize {
    3
}
fn default_layer_type() -> String {
    "bottleneck".into()
}
fn default_hidden_act() -> String {
    "relu".into()
}

/// The kind of residual layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LayerType {
    Basic,
    Bottleneck,
}

impl ResNetConfig {
    /// The published `microsoft/resnet-50` configuration (labels left out).
    pub fn resnet50() -> Self {
        serde_json::from_str(include_str!("../../presets/resnet-50.json"))
            .expect("the compiled-in resnet-50 config parses")
    }

    /// Refuses options this implementation does not support, naming the field.
    pub fn validate(&self) -> Result<(), Unsupported> {
        if let Some(model_type) = &self.model_type
            && model_type != "resnet"
        {
            return Err(Unsupported::new(
                "model_type",
                format!("`{model_type}` is not a ResNet (expected `resnet`)"),
            ));
        }
        self.layer_kind()?;
        if self.hidden_act != "relu" {
            return Err(Unsupported::new(
                "hidden_act",
                format!("`{}` is not supported (only relu)", self.hidden_act),
            ));
        }
        if self.num_channels == 0 || self.embedding_size == 0 {
            return Err(Unsupported::new(
                "embedding_size",
                "num_channels and embedding_size must be positive",
            ));
        }
        if self.hidden_sizes.is_empty() || self.hidden_sizes.len() != self.depths.len() {
            return Err(Unsupported::new(
                "depths",
                format!(
                    "{} stage depths for {} hidden sizes (need the same, non-zero number)",
                    self.depths.len(),
                    self.hidden_sizes.len()
                ),
            ));
        }
        if self.depths.contains(&0) {
            return Err(Unsupported::new(
                "depths",
                "every stage needs at least one layer",
            ));
        }
        if self.layer_kind()? == LayerType::Bottleneck && self.hidden_sizes.iter().any(|&h| h < 4) {
            return Err(Unsupported::new(
                "hidden_sizes",
                "bottleneck stages need at least 4 channels (they reduce by 4)",
            ));
        }
        if self.hidden_sizes.contains(&0) {
            return Err(Unsupported::new(
                "hidden_sizes",
                "every size must be positive",
            ));
        }
        Ok(())
    }

    fn layer_kind(&self) -> Result<LayerType, Unsupported> {
        match self.layer_type.as_str() {
            "basic" => Ok(LayerType::Basic),
            "bottleneck" => Ok(LayerType::Bottleneck),
            other => Err(Unsupported::new(
                "layer_type",
                format!("`{other}` is not supported (basic or bottleneck)"),
            )),
        }
    }

    /// The channels of the last stage's feature map (2048 for ResNet-50).
    pub fn out_channels(&self) -> usize {
        self.hidden_sizes
            .last()
            .copied()
            .unwrap_or(self.embedding_size)
    }
}

/// A convolution with its BatchNorm folded in: `conv(x) * γ/√(σ²+ε) + (β − μ·γ/√(σ²+ε))`.
#[derive(Debug, Clone)]
struct ConvBn {
    conv: Conv2d,
}

impl ConvBn {
    /// Loads `{vb}.convolution.weight` and `{vb}.normalization.{weight,bias,running_mean,running_var}`.
    fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let weight = vb
            .pp("convolution")
            .get((out_channels, in_channels, kernel, kernel), "weight")?;
        let norm = vb.pp("normalization");
        let gamma = norm.get(out_channels, "weight")?;
        let beta = norm.get(out_channels, "bias")?;
        let mean = norm.get(out_channels, "running_mean")?;
        let var = norm.get(out_channels, "running_var")?;
        // Fold in f32 at least, whatever the load dtype, then convert back.
        let dtype = weight.dtype();
        let compute = if dtype == DType::F64 {
            DType::F64
        } else {
            DType::F32
        };
        let scale =
            (gamma.to_dtype(compute)? / (var.to_dtype(compute)? + BATCH_NORM_EPS)?.sqrt()?)?;
        let weight = weight
            .to_dtype(compute)?
            .broadcast_mul(&scale.reshape((out_channels, 1, 1, 1))?)?
            .to_dtype(dtype)?;
        let bias =
            (beta.to_dtype(compute)? - (mean.to_dtype(compute)? * &scale)?)?.to_dtype(dtype)?;
        let cfg = Conv2dConfig {
            padding: kernel / 2,
            stride,
            ..Default::default()
        };
        Ok(Self {
            conv: Conv2d::new(weight, Some(bias), cfg),
        })
    }
}

impl Module for ConvBn {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        self.conv.forward(xs)
    }
}

/// One residual layer: the main branch, an optional projection shortcut, then ReLU.
#[derive(Debug, Clone)]
struct ResidualLayer {
    /// The branch's convolutions; ReLU follows every one but the last.
    branch: Vec<ConvBn>,
    /// `None` is the identity shortcut.
    shortcut: Option<ConvBn>,
}

impl ResidualLayer {
    fn new(
        cfg: &ResNetConfig,
        kind: LayerType,
        in_channels: usize,
        out_channels: usize,
        stride: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let shortcut = if in_channels != out_channels || stride != 1 {
            Some(ConvBn::new(
                in_channels,
                out_channels,
                1,
                stride,
                vb.pp("shortcut"),
            )?)
        } else {
            None
        };
        let vb = vb.pp("layer");
        let branch = match kind {
            LayerType::Basic => vec![
                ConvBn::new(in_channels, out_channels, 3, stride, vb.pp("0"))?,
                ConvBn::new(out_channels, out_channels, 3, 1, vb.pp("1"))?,
            ],
            LayerType::Bottleneck => {
                let reduced = out_channels / 4;
                let (first, middle) = if cfg.downsample_in_bottleneck {
                    (stride, 1)
                } else {
                    (1, stride)
                };
                vec![
                    ConvBn::new(in_channels, reduced, 1, first, vb.pp("0"))?,
                    ConvBn::new(reduced, reduced, 3, middle, vb.pp("1"))?,
                    ConvBn::new(reduced, out_channels, 1, 1, vb.pp("2"))?,
                ]
            }
        };
        Ok(Self { branch, shortcut })
    }
}

impl Module for ResidualLayer {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let last = self.branch.len() - 1;
        let mut hidden = xs.clone();
        for (i, conv) in self.branch.iter().enumerate() {
            hidden = conv.forward(&hidden)?;
            if i != last {
                hidden = hidden.relu()?;
            }
        }
        let residual = match &self.shortcut {
            Some(shortcut) => shortcut.forward(xs)?,
            None => xs.clone(),
        };
        (hidden + residual)?.relu()
    }
}

/// ResNet up to the last stage (transformers' `ResNetModel` without its pooler).
#[derive(Debug, Clone)]
pub struct ResNet {
    config: ResNetConfig,
    stem: ConvBn,
    stages: Vec<Vec<ResidualLayer>>,
}

impl ResNet {
    /// Builds the network from weights; `vb` is at the `ResNetModel` root (see [`resnet_prefix`]).
    pub fn new(cfg: &ResNetConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate().map_err(|u| u.at("config.json"))?;
        Ok(Self::build(cfg, vb)?)
    }

    fn build(cfg: &ResNetConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        // validated by the caller
        let kind = if cfg.layer_type == "basic" {
            LayerType::Basic
        } else {
            LayerType::Bottleneck
        };
        let stem = ConvBn::new(
            cfg.num_channels,
            cfg.embedding_size,
            7,
            2,
            vb.pp("embedder").pp("embedder"),
        )?;
        let vb_stages = vb.pp("encoder").pp("stages");
        let mut stages = Vec::with_capacity(cfg.depths.len());
        let mut in_channels = cfg.embedding_size;
        for (i, (&out_channels, &depth)) in cfg.hidden_sizes.iter().zip(&cfg.depths).enumerate() {
            let stride = if i > 0 || cfg.downsample_in_first_stage {
                2
            } else {
                1
            };
            let vb_layers = vb_stages.pp(i).pp("layers");
            let mut layers = Vec::with_capacity(depth);
            for j in 0..depth {
                let (layer_in, layer_stride) = if j == 0 {
                    (in_channels, stride)
                } else {
                    (out_channels, 1)
                };
                layers.push(ResidualLayer::new(
                    cfg,
                    kind,
                    layer_in,
                    out_channels,
                    layer_stride,
                    vb_layers.pp(j),
                )?);
            }
            stages.push(layers);
            in_channels = out_channels;
        }
        Ok(Self {
            config: cfg.clone(),
            stem,
            stages,
        })
    }

    /// Loads a checkpoint directory (`config.json`, weights, `preprocessor_config.json`), either
    /// layout: `ResNetForImageClassification` (keys under `resnet.`, the classifier ignored) or
    /// `ResNetModel`. Returns the network and the image processor settings it was trained with.
    pub fn load(dir: &Path, device: &Device) -> Result<(Self, ImageProcessorConfig)> {
        let ckpt = CheckpointDir::open(dir)?;
        ckpt.require("config.json", "ResNet config")?;
        let config: ResNetConfig = ckpt.read_config("config.json", ResNetConfig::validate)?;
        let processor = ImageProcessorConfig::load(&ckpt)?;
        let weights_path = ckpt.weight_files()?.first().to_owned();
        let vb = ckpt.var_builder(DType::F32, device)?;
        let prefix = prefix_in(&vb).ok_or_else(|| Error::Weights {
            path: weights_path.clone(),
            source: candle_core::Error::Msg(format!(
                "not a ResNet in transformers' layout: no `{STEM_KEY}` or `resnet.{STEM_KEY}`"
            )),
        })?;
        let vb = if prefix.is_empty() {
            vb
        } else {
            vb.pp(prefix.trim_end_matches('.'))
        };
        let model = Self::build(&config, vb).map_err(|source| Error::Weights {
            path: weights_path,
            source,
        })?;
        Ok((model, processor))
    }

    /// A network with seeded random weights, built from a config alone (benchmarks, demos).
    pub fn random(cfg: &ResNetConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::new(
            cfg,
            RandomWeights::new(seed).var_builder(DType::F32, device),
        )
    }

    /// The configuration the network was built from.
    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }

    /// The last stage's feature map `(B, hidden_sizes[-1], H/32, W/32)` for pixel values
    /// `(B, num_channels, H, W)`: transformers' `last_hidden_state`, before pooling.
    pub fn forward(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let mut hidden = self.embed(pixel_values)?;
        for stage in &self.stages {
            hidden = run_stage(stage, &hidden)?;
        }
        Ok(hidden)
    }

    /// The stem's output, then each stage's output: transformers' `hidden_states` with
    /// `output_hidden_states=True` (`1 + depths.len()` tensors).
    pub fn forward_stages(&self, pixel_values: &Tensor) -> Result<Vec<Tensor>> {
        let mut outputs = Vec::with_capacity(self.stages.len() + 1);
        outputs.push(self.embed(pixel_values)?);
        for stage in &self.stages {
            let next = run_stage(stage, &outputs[outputs.len() - 1])?;
            outputs.push(next);
        }
        Ok(outputs)
    }

    /// Stem: 7x7 stride-2 convolution, ReLU, then 3x3 stride-2 max pooling with padding 1.
    fn embed(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let dims = pixel_values.dims();
        if dims.len() != 4 || dims[1] != self.config.num_channels || dims[2] < 2 || dims[3] < 2 {
            return Err(Error::Input(format!(
                "ResNet pixel values must be (batch, {}, height ≥ 2, width ≥ 2), got {:?}",
                self.config.num_channels, dims
            )));
        }
        let xs = pixel_values.to_dtype(DType::F32)?;
        let xs = self.stem.forward(&xs)?.relu()?;
        // MaxPool2d pads with -inf; after ReLU every value is ≥ 0, so zero padding is the same.
        let xs = xs
            .pad_with_zeros(D::Minus2, 1, 1)?
            .pad_with_zeros(D::Minus1, 1, 1)?;
        Ok(xs.max_pool2d_with_stride(3, 2)?)
    }
}

fn run_stage(stage: &[ResidualLayer], xs: &Tensor) -> Result<Tensor> {
    let mut hidden = xs.clone();
    for layer in stage {
        hidden = layer.forward(&hidden)?;
    }
    Ok(hidden)
}

/// The key prefix of a ResNet checkpoint's backbone: `"resnet."` for
/// `ResNetForImageClassification` (`microsoft/resnet-50`), `""` for a bare `ResNetModel`.
pub fn resnet_prefix(dir: &CheckpointDir) -> Result<&'static str> {
    let weights_path = dir.weight_files()?.first().to_owned();
    let vb = dir.var_builder(DType::F32, &Device::Cpu)?;
    prefix_in(&vb).ok_or_else(|| Error::Weights {
        path: weights_path,
        source: candle_core::Error::Msg(format!(
            "not a ResNet in transformers' layout: no `{STEM_KEY}` or `resnet.{STEM_KEY}`"
        )),
    })
}

fn prefix_in(vb: &VarBuilder) -> Option<&'static str> {
    if vb.contains_tensor(&format!("resnet.{STEM_KEY}")) {
        Some("resnet.")
    } else if vb.contains_tensor(STEM_KEY) {
        Some("")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resnet50_preset_is_the_published_shape() {
        let cfg = ResNetConfig::resnet50();
        cfg.validate().unwrap();
        assert_eq!(cfg.depths, [3, 4, 6, 3]);
        assert_eq!(cfg.hidden_sizes, [256, 512, 1024, 2048]);
        assert_eq!(cfg.embedding_size, 64);
        assert_eq!(cfg.layer_type, "bottleneck");
        assert!(!cfg.downsample_in_first_stage && !cfg.downsample_in_bottleneck);
        assert_eq!(cfg.out_channels(), 2048);
    }

    #[test]
    fn unsupported_values_name_their_field() {
        type Change = fn(&mut ResNetConfig);
        let base = ResNetConfig::resnet50();
        let cases: [(&str, Change); 5] = [
            ("hidden_act", |c| c.hidden_act = "gelu".into()),
            ("layer_type", |c| c.layer_type = "preact".into()),
            ("depths", |c| c.depths.truncate(3)),
            ("depths", |c| c.depths[1] = 0),
            ("model_type", |c| c.model_type = Some("musicgen".into())),
        ];
        for (field, change) in cases {
            let mut cfg = base.clone();
            change(&mut cfg);
            let err = cfg.validate().unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }
}
