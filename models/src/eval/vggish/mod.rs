//! VGGish (Hershey et al., "CNN Architectures for Large-Scale Audio Classification", 2017) as the
//! paper's `calc_fad.py` / `calc_kl.py` run it: torchvggish's `VGG` without the PCA
//! post-processing and with its final ReLU removed, over torchvggish's own input pipeline
//! ([`frontend`]).
//!
//! The checkpoint is torchvggish's state dict as published (`vggish-10086976.pth`, zip or legacy
//! pickle) or the same keys in a `.safetensors` file, read by [`crate::eval::torch_state_dict`]
//! and checked against VGGish's layout by [`VggishShape`]: `features.{0,3,6,8,11,13}` are the six
//! 3×3 convolutions (each followed by a ReLU, with 2×2 max pooling after the 1st, 2nd, 4th and
//! 6th) and `embeddings.{0,2,4}` the three linear layers (ReLU between them, none after the last).
//! Widths come from the checkpoint (the published model: 64/128/256/256/512/512 channels and
//! 4096/4096/128 features); the 96×64 input pooled four times leaves 6×4, flattened in NHWC
//! order (height, width, channel) as torchvggish does before the first linear layer.

pub mod frontend;
pub mod resampy;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Linear, VarBuilder};

use crate::error::{Error, Result};
use crate::eval::torch_state_dict::read_state_dict;
use frontend::Examples;

/// The state-dict indices of the convolutions inside `features`.
const CONV_KEYS: [usize; 6] = [0, 3, 6, 8, 11, 13];
/// After which convolutions (by position in [`CONV_KEYS`]) a 2×2 max pooling follows.
const POOL_AFTER: [usize; 4] = [0, 1, 3, 5];
/// The state-dict indices of the linear layers inside `embeddings`.
const LINEAR_KEYS: [usize; 3] = [0, 2, 4];
/// Height × width of the last feature map (96×64 halved four times).
const FINAL_MAP: (usize, usize) = (6, 4);
/// Examples run through the network at once.
const BATCH: usize = 32;

/// The layer widths a checkpoint holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VggishShape {
    /// Output channels of the six convolutions.
    pub conv_channels: [usize; 6],
    /// Output features of the three linear layers; the last is the embedding size.
    pub linear_features: [usize; 3],
}

impl VggishShape {
    /// The published model's widths (`vggish-10086976.pth`).
    pub fn published() -> Self {
        Self {
            conv_channels: [64, 128, 256, 256, 512, 512],
            linear_features: [4096, 4096, 128],
        }
    }

    /// The widths of the state dict `tensors`, checked for a consistent chain of layers.
    fn of(tensors: &HashMap<String, Tensor>) -> candle_core::Result<Self> {
        let dims = |key: &str| {
            tensors.get(key).map(|t| t.dims().to_vec()).ok_or_else(|| {
                candle_core::Error::Msg(format!("no tensor `{key}`: not a VGGish state dict"))
            })
        };
        let mut conv_channels = [0; 6];
        let mut inputs = 1;
        for (slot, index) in conv_channels.iter_mut().zip(CONV_KEYS) {
            let key = format!("features.{index}.weight");
            let shape = dims(&key)?;
            match shape[..] {
                [out, input, 3, 3] if input == inputs => *slot = out,
                _ => candle_core::bail!(
                    "`{key}` is {shape:?}, not [out, {inputs}, 3, 3]: not a VGGish state dict"
                ),
            }
            inputs = *slot;
        }
        let mut linear_features = [0; 3];
        let mut inputs = FINAL_MAP.0 * FINAL_MAP.1 * inputs;
        for (slot, index) in linear_features.iter_mut().zip(LINEAR_KEYS) {
            let key = format!("embeddings.{index}.weight");
            let shape = dims(&key)?;
            match shape[..] {
                [out, input] if input == inputs => *slot = out,
                _ => candle_core::bail!(
                    "`{key}` is {shape:?}, not [out, {inputs}]: not a VGGish state dict"
                ),
            }
            inputs = *slot;
        }
        Ok(Self {
            conv_channels,
            linear_features,
        })
    }

    /// The embedding size (128 for the published model).
    pub fn embedding_size(&self) -> usize {
        self.linear_features[2]
    }
}

/// VGGish with its weights, ready to embed examples.
#[derive(Debug)]
pub struct Vggish {
    shape: VggishShape,
    convs: Vec<Conv2d>,
    linears: Vec<Linear>,
    device: Device,
}

impl Vggish {
    /// Loads the state dict at `path` (`.pth` as published, or `.safetensors`) onto `device`.
    /// A missing file, a foreign file or one whose keys or shapes are not VGGish's is an error
    /// naming the file.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let tensors = read_state_dict(path, "VGGish checkpoint", None)?;
        let weights_error = |source| Error::Weights {
            path: path.to_owned(),
            source,
        };
        let shape = VggishShape::of(&tensors).map_err(weights_error)?;
        Self::new(
            &shape,
            VarBuilder::from_tensors(tensors, DType::F32, device),
        )
        .map_err(weights_error)
    }

    /// VGGish of the widths `shape` over the weights in `vb` (keys `features.N.*`,
    /// `embeddings.N.*`): what [`Self::load`] builds, and a way to a full-size model with
    /// random weights ([`crate::random_weights::RandomWeights`]) for benchmarks.
    pub fn new(shape: &VggishShape, vb: VarBuilder) -> candle_core::Result<Self> {
        let device = vb.device().clone();
        let mut convs = Vec::with_capacity(CONV_KEYS.len());
        let mut inputs = 1;
        let config = Conv2dConfig {
            padding: 1,
            ..Default::default()
        };
        for (&out, index) in shape.conv_channels.iter().zip(CONV_KEYS) {
            let vb = vb.pp(format!("features.{index}"));
            convs.push(candle_nn::conv2d(inputs, out, 3, config, vb)?);
            inputs = out;
        }
        let mut linears = Vec::with_capacity(LINEAR_KEYS.len());
        let mut inputs = FINAL_MAP.0 * FINAL_MAP.1 * inputs;
        for (&out, index) in shape.linear_features.iter().zip(LINEAR_KEYS) {
            linears.push(candle_nn::linear(
                inputs,
                out,
                vb.pp(format!("embeddings.{index}")),
            )?);
            inputs = out;
        }
        Ok(Self {
            shape: shape.clone(),
            convs,
            linears,
            device,
        })
    }

    /// The layer widths of the loaded checkpoint.
    pub fn shape(&self) -> &VggishShape {
        &self.shape
    }

    /// The embedding size (128 for the published model).
    pub fn embedding_size(&self) -> usize {
        self.shape.embedding_size()
    }

    /// The network on a `(n, 96, 64)` or `(n, 1, 96, 64)` batch of log-mel examples: the
    /// `(n, embedding_size)` embeddings (no PCA, no final ReLU).
    pub fn forward(&self, examples: &Tensor) -> Result<Tensor> {
        let mut x = match examples.rank() {
            3 => examples.unsqueeze(1)?,
            _ => examples.clone(),
        };
        for (i, conv) in self.convs.iter().enumerate() {
            x = conv.forward(&x)?.relu()?;
            if POOL_AFTER.contains(&i) {
                x = x.max_pool2d(2)?;
            }
        }
        // NCHW → NHWC, then flatten: torchvggish's transpose(1, 3).transpose(1, 2).
        let mut x = x.permute((0, 2, 3, 1))?.contiguous()?.flatten_from(1)?;
        for (i, linear) in self.linears.iter().enumerate() {
            x = linear.forward(&x)?;
            if i + 1 < self.linears.len() {
                x = x.relu()?;
            }
        }
        Ok(x)
    }

    /// The embeddings of one clip's examples, one row each (none for a clip without examples).
    pub fn embed(&self, examples: &Examples) -> Result<Vec<Vec<f32>>> {
        let mut rows = Vec::with_capacity(examples.count);
        if examples.is_empty() {
            return Ok(rows);
        }
        let all = examples.to_tensor(&self.device)?;
        for start in (0..examples.count).step_by(BATCH) {
            let len = BATCH.min(examples.count - start);
            let batch = all.narrow(0, start, len)?;
            let embeddings = self.forward(&batch)?.to_dtype(DType::F32)?;
            rows.extend(embeddings.to_vec2::<f32>()?);
        }
        Ok(rows)
    }

    /// The embeddings of mono `samples` at `rate` samples per second: [`frontend::examples`]
    /// then [`Self::embed`]. A clip shorter than one example (0.975 s) gives no rows.
    pub fn embed_audio(&self, samples: &[f32], rate: u32) -> Result<Vec<Vec<f32>>> {
        self.embed(&frontend::examples(samples, rate)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_weights::RandomWeights;

    #[test]
    fn random_weights_build_a_model_of_any_width() {
        let shape = VggishShape {
            conv_channels: [2, 3, 4, 4, 5, 6],
            linear_features: [7, 8, 9],
        };
        let vb = RandomWeights::new(1).var_builder(DType::F32, &Device::Cpu);
        let model = Vggish::new(&shape, vb).unwrap();
        let examples = Tensor::zeros((3, 96, 64), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(model.forward(&examples).unwrap().dims(), &[3, 9]);
        assert_eq!(model.embedding_size(), 9);
    }
}
