//! PANNs CNN14 (Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio
//! Pattern Recognition", 2020) in eval mode, as `Cnn14.forward` runs it: the log-mel front end,
//! `bn0` over the mel bands, six conv blocks (two 3×3 convolutions without bias, each followed by
//! BatchNorm with running statistics and ReLU; 2×2 average pooling after blocks 1–5, none after
//! block 6), the mean over frequency, max plus mean over time, `fc1` with ReLU and `fc_audioset`,
//! whose output (before the sigmoid) is what audioldm_eval calls the logits. Dropout and
//! SpecAugment are off. Layer widths, the STFT window, the mel bands and the classes come from the
//! checkpoint; its keys are loaded unchanged. [`Cnn14::new`] builds the same network from any
//! `VarBuilder`, such as [`crate::random_weights::RandomWeights`] for a full-size model
//! ([`Cnn14Dims::published`]) in benchmarks.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{D, DType, Device, Module, ModuleT, Tensor};
use candle_nn::{BatchNorm, Conv2d, Conv2dConfig, Linear, VarBuilder};

use super::frontend::LogMel;
use super::weights::read_state_dict;
use super::{normalise_clip, normalise_clip_at};
use crate::error::{Error, Result};

/// BatchNorm2d's default epsilon, which PANNs keeps.
const BATCH_NORM_EPS: f64 = 1e-5;
/// The number of conv blocks.
const BLOCKS: usize = 6;
/// The blocks followed by 2×2 average pooling (the first five): the time and frequency axes
/// shrink 32-fold, so a clip needs at least 32 frames and the model at least 32 mel bands.
const POOLED_BLOCKS: usize = 5;
const MIN_EXTENT: usize = 1 << POOLED_BLOCKS;

/// The sizes of one CNN14: read from a checkpoint's tensors' shapes (the hop aside), or
/// [`Cnn14Dims::published`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cnn14Dims {
    /// The STFT window (1024 in the published 32 kHz model).
    pub window: usize,
    /// The hop between frames (320 in the published 32 kHz model; not in the checkpoint).
    pub hop: usize,
    /// Mel bands (64).
    pub mel_bands: usize,
    /// Output channels of the six conv blocks (64, 128, 256, 512, 1024, 2048).
    pub widths: [usize; BLOCKS],
    /// Classes of `fc_audioset` (527, AudioSet's).
    pub classes: usize,
}

impl Cnn14Dims {
    /// The published 32 kHz model's sizes (`Cnn14_mAP=0.431.pth`): window 1024, hop 320, 64 mel
    /// bands, blocks of 64 to 2048 channels, `fc1` 2048 → 2048 (it keeps the last block's width)
    /// and 527 classes.
    pub fn published() -> Self {
        Self {
            window: 1024,
            hop: 320,
            mel_bands: 64,
            widths: [64, 128, 256, 512, 1024, 2048],
            classes: 527,
        }
    }

    /// Refuses sizes the network cannot run at: no window or hop, or too few mel bands to pool.
    fn check(&self) -> candle_core::Result<()> {
        if self.window == 0 || self.hop == 0 {
            candle_core::bail!("a window of {} and a hop of {}", self.window, self.hop);
        }
        if self.mel_bands < MIN_EXTENT {
            candle_core::bail!(
                "{} mel bands, fewer than the {MIN_EXTENT} CNN14's pooling needs",
                self.mel_bands
            );
        }
        Ok(())
    }
}

/// One conv block: (conv 3×3 → BatchNorm → ReLU) twice.
struct ConvBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
}

impl ConvBlock {
    fn new(inputs: usize, outputs: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let config = Conv2dConfig {
            padding: 1,
            ..Default::default()
        };
        let conv = |inputs, name| -> candle_core::Result<Conv2d> {
            let weight = vb.get((outputs, inputs, 3, 3), &format!("{name}.weight"))?;
            Ok(Conv2d::new(weight, None, config))
        };
        let norm = |name| candle_nn::batch_norm(outputs, BATCH_NORM_EPS, vb.pp(name));
        Ok(Self {
            conv1: conv(inputs, "conv1")?,
            bn1: norm("bn1")?,
            conv2: conv(outputs, "conv2")?,
            bn2: norm("bn2")?,
        })
    }

    fn forward(&self, x: &Tensor, pool: bool) -> candle_core::Result<Tensor> {
        let x = self.bn1.forward_t(&self.conv1.forward(x)?, false)?.relu()?;
        let x = self
            .bn2
            .forward_t(&self.conv2.forward(&x)?, false)?
            .relu()?;
        if pool { x.avg_pool2d(2) } else { Ok(x) }
    }
}

/// PANNs CNN14 with its front end, ready to give one clip's logits.
pub struct Cnn14 {
    dims: Cnn14Dims,
    front_end: LogMel,
    bn0: BatchNorm,
    blocks: Vec<ConvBlock>,
    fc1: Linear,
    fc_audioset: Linear,
    device: Device,
}

impl Cnn14 {
    /// Loads a checkpoint (the published `Cnn14_mAP=0.431.pth`, a torch dict whose `"model"`
    /// entry is the state dict, or the state dict as `.safetensors`), run at the hop the
    /// published models use for their window (5/16 of it: 320 for 1024, 160 for 512).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::load_with_hop(path, None, device)
    }

    /// Loads a checkpoint as [`Cnn14::load`] does, at `hop` when given.
    pub fn load_with_hop(path: &Path, hop: Option<usize>, device: &Device) -> Result<Self> {
        let tensors = read_state_dict(path, device)?;
        let weights_error = |source| Error::Weights {
            path: path.to_owned(),
            source,
        };
        let dims = read_dims(&tensors, hop).map_err(weights_error)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        Self::new(&dims, vb).map_err(weights_error)
    }

    /// CNN14 of the sizes `dims` over the weights in `vb` (the checkpoint's keys:
    /// `spectrogram_extractor.*`, `logmel_extractor.melW`, `bn0.*`, `conv_block{1..6}.*`, `fc1.*`,
    /// `fc_audioset.*`), on `vb`'s device: what [`Self::load`] builds, and a way to a full-size
    /// model with random weights for benchmarks.
    ///
    /// With [`crate::random_weights::RandomWeights`] the STFT kernels are noise rather than
    /// windowed DFT rows, and the mel matrix `melW` is filled symmetrically about zero, so about
    /// half the mel powers are negative and sit at the log's floor (-100 dB); the BatchNorm
    /// scales (`bn0.weight`, `conv_blockN.bnM.weight`: no "norm" in their names) are drawn about
    /// zero rather than set to one. The logits are finite but meaningless, and the work done is
    /// the real model's.
    pub fn new(dims: &Cnn14Dims, vb: VarBuilder) -> candle_core::Result<Self> {
        dims.check()?;
        let device = vb.device().clone();
        let front_end = LogMel::new(&vb, dims.window, dims.mel_bands, dims.hop)?;
        let bn0 = candle_nn::batch_norm(dims.mel_bands, BATCH_NORM_EPS, vb.pp("bn0"))?;
        let mut inputs = 1;
        let mut blocks = Vec::with_capacity(BLOCKS);
        for (i, &outputs) in dims.widths.iter().enumerate() {
            blocks.push(ConvBlock::new(
                inputs,
                outputs,
                vb.pp(format!("conv_block{}", i + 1)),
            )?);
            inputs = outputs;
        }
        let fc1 = candle_nn::linear(inputs, inputs, vb.pp("fc1"))?;
        let fc_audioset = candle_nn::linear(inputs, dims.classes, vb.pp("fc_audioset"))?;
        Ok(Self {
            dims: dims.clone(),
            front_end,
            bn0,
            blocks,
            fc1,
            fc_audioset,
            device,
        })
    }

    /// The checkpoint's sizes.
    pub fn dims(&self) -> &Cnn14Dims {
        &self.dims
    }

    /// The logits of one clip: its first channel at the model's rate (32 kHz for the published
    /// model), before audioldm_eval's normalisation, which this applies ([`normalise_clip`]).
    pub fn logits(&self, samples: &[f32]) -> Result<Vec<f32>> {
        self.logits_of_normalised(&normalise_clip(samples))
    }

    /// The logits of one clip at `sample_rate` (its first channel), normalised and resampled to
    /// 32 kHz as audioldm_eval does ([`normalise_clip_at`]). For the published 32 kHz model.
    pub fn logits_at(&self, samples: &[f32], sample_rate: u32) -> Result<Vec<f32>> {
        self.logits_of_normalised(&normalise_clip_at(samples, sample_rate))
    }

    /// The logits of one clip already normalised (DC removed, at least 1 s).
    pub fn logits_of_normalised(&self, samples: &[f32]) -> Result<Vec<f32>> {
        let log_mel = self.log_mel(samples)?;
        Ok(self.classify(&log_mel)?.to_vec1()?)
    }

    /// The front end's output for one normalised clip, shape (frames, mel bands), before `bn0`.
    pub fn log_mel(&self, samples: &[f32]) -> Result<Tensor> {
        let frames = self.front_end.frames(samples.len());
        if frames < MIN_EXTENT {
            return Err(Error::Input(format!(
                "PANNs CNN14: a clip of {} samples gives {frames} frames, fewer than the {MIN_EXTENT} its pooling needs",
                samples.len()
            )));
        }
        self.front_end.log_mel(samples, &self.device)
    }

    /// The logits for one log-mel spectrogram (frames, mel bands).
    fn classify(&self, log_mel: &Tensor) -> candle_core::Result<Tensor> {
        // bn0 normalises each mel band: the bands are its channels.
        let (frames, mel_bands) = log_mel.dims2()?;
        let x = self.bn0.forward_t(&log_mel.t()?.unsqueeze(0)?, false)?;
        let mut x = x
            .squeeze(0)?
            .t()?
            .contiguous()?
            .reshape((1, 1, frames, mel_bands))?;
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(&x, i < POOLED_BLOCKS)?;
        }
        let x = x.mean(D::Minus1)?;
        let x = (x.max(D::Minus1)? + x.mean(D::Minus1)?)?;
        let x = self.fc1.forward(&x)?.relu()?;
        self.fc_audioset.forward(&x)?.squeeze(0)
    }
}

/// The sizes in a CNN14 state dict; `hop` or 5/16 of the window.
fn read_dims(
    tensors: &HashMap<String, Tensor>,
    hop: Option<usize>,
) -> candle_core::Result<Cnn14Dims> {
    let shape = |key: &str| -> candle_core::Result<Vec<usize>> {
        tensors.get(key).map(|t| t.dims().to_vec()).ok_or_else(|| {
            candle_core::Error::Msg(format!("no tensor `{key}`: not a PANNs CNN14 state dict"))
        })
    };
    let dim = |key: &str, axis: usize| -> candle_core::Result<usize> {
        shape(key)?
            .get(axis)
            .copied()
            .ok_or_else(|| candle_core::Error::Msg(format!("`{key}` has no axis {axis}")))
    };
    let window = dim("spectrogram_extractor.stft.conv_real.weight", 2)?;
    let mel_bands = dim("logmel_extractor.melW", 1)?;
    // A hop of 0, like too few mel bands, is refused by `Cnn14Dims::check`.
    let hop = match hop {
        Some(hop) => hop,
        None if window % 16 == 0 => window * 5 / 16,
        None => {
            candle_core::bail!("an STFT window of {window}: no published hop for it (give one)")
        }
    };
    let mut widths = [0; BLOCKS];
    for (i, width) in widths.iter_mut().enumerate() {
        *width = dim(&format!("conv_block{}.conv1.weight", i + 1), 0)?;
    }
    let classes = dim("fc_audioset.weight", 0)?;
    Ok(Cnn14Dims {
        window,
        hop,
        mel_bands,
        widths,
        classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_weights::RandomWeights;

    #[test]
    fn random_weights_build_a_model_giving_finite_logits() {
        let dims = Cnn14Dims {
            window: 64,
            hop: 20,
            mel_bands: 32,
            widths: [2, 3, 4, 5, 6, 7],
            classes: 5,
        };
        let vb = RandomWeights::new(1).var_builder(DType::F32, &Device::Cpu);
        let model = Cnn14::new(&dims, vb).unwrap();
        assert_eq!(model.dims(), &dims);
        let tone: Vec<f32> = (0..8_000).map(|n| (n as f32 * 0.05).sin() * 0.3).collect();
        let logits = model.logits(&tone).unwrap();
        assert_eq!(logits.len(), dims.classes);
        assert!(logits.iter().all(|l| l.is_finite()), "{logits:?}");
    }

    #[test]
    fn sizes_it_cannot_run_at_are_refused() {
        let vb = RandomWeights::new(1).var_builder(DType::F32, &Device::Cpu);
        let few_bands = Cnn14Dims {
            mel_bands: 16,
            ..Cnn14Dims::published()
        };
        assert!(Cnn14::new(&few_bands, vb.clone()).is_err());
        let no_hop = Cnn14Dims {
            hop: 0,
            ..Cnn14Dims::published()
        };
        assert!(Cnn14::new(&no_hop, vb).is_err());
    }
}
