//! CLAP's audio tower as transformers' `ClapAudioModel` runs it for the unfused checkpoints
//! (HTSAT, Chen et al. 2022: a Swin Transformer over the mel spectrogram): batch norm over mel
//! bands, the frames stretched bicubically to `spec_size · freq_ratio` (1001 → 1024), folded into
//! a square "image", patch embedding, stages of window attention with relative position bias and
//! shifted windows joined by patch merging, a final layer norm and the mean over all tokens (what
//! the reference's grouped reshape and average pool come to). Weight names as published
//! (`audio_model.audio_encoder.*`).

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::{Activation, Conv2d, Conv2dConfig, LayerNorm, Linear, VarBuilder};

use super::bicubic;
use super::config::ClapAudioConfig;

/// `nn.LayerNorm`'s default epsilon, used where transformers does not pass the config's.
const TORCH_LN_EPS: f64 = 1e-5;
/// `nn.BatchNorm2d`'s default epsilon.
const BATCH_NORM_EPS: f64 = 1e-5;
/// What the shifted-window mask adds between tokens of different regions.
const MASKED: f32 = -100.0;

/// The HTSAT encoder up to its pooled output (`ClapAudioModel.pooler_output`).
#[derive(Debug, Clone)]
pub struct AudioEncoder {
    config: ClapAudioConfig,
    /// Batch norm folded into `x · scale + shift`, per mel band.
    bn_scale: Tensor,
    bn_shift: Tensor,
    patch_proj: Conv2d,
    patch_norm: Option<LayerNorm>,
    stages: Vec<Stage>,
    norm: LayerNorm,
}

impl AudioEncoder {
    /// Builds the encoder from `audio_model.audio_encoder`.
    pub fn new(config: &ClapAudioConfig, vb: VarBuilder) -> Result<Self> {
        let mels = config.num_mel_bins;
        let bn = vb.pp("batch_norm");
        let weight = bn.get(mels, "weight")?;
        let bias = bn.get(mels, "bias")?;
        let mean = bn.get(mels, "running_mean")?;
        let var = bn.get(mels, "running_var")?;
        let bn_scale = weight.div(&(var + BATCH_NORM_EPS)?.sqrt()?)?;
        let bn_shift = bias.sub(&mean.mul(&bn_scale)?)?;

        let (kernel, _) = config.patch_size.get();
        let (stride, _) = config.patch_stride.get();
        let patch = vb.pp("patch_embed");
        let patch_proj = candle_nn::conv2d(
            config.patch_embed_input_channels,
            config.patch_embeds_hidden_size,
            kernel,
            Conv2dConfig {
                padding: (kernel - stride) / 2,
                stride,
                ..Default::default()
            },
            patch.pp("proj"),
        )?;
        let patch_norm = if config.enable_patch_layer_norm {
            Some(candle_nn::layer_norm(
                config.patch_embeds_hidden_size,
                TORCH_LN_EPS,
                patch.pp("norm"),
            )?)
        } else {
            None
        };

        let (gh, gw) = config.grid();
        let stages = (0..config.depths.len())
            .map(|i| {
                let last = i + 1 == config.depths.len();
                Stage::new(
                    config,
                    i,
                    (gh >> i, gw >> i),
                    !last,
                    vb.pp(format!("layers.{i}")),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let norm = candle_nn::layer_norm(config.num_features(), TORCH_LN_EPS, vb.pp("norm"))?;
        Ok(Self {
            config: config.clone(),
            bn_scale,
            bn_shift,
            patch_proj,
            patch_norm,
            stages,
            norm,
        })
    }

    /// The pooled output `(batch, hidden_size)` of input features `(batch, 1, frames, mels)`.
    pub fn forward(&self, features: &Tensor) -> Result<Tensor> {
        let image = self.spectrogram_image(features)?;
        let patches = self.patch_proj.forward(&image)?;
        let mut hidden = patches.flatten_from(2)?.transpose(1, 2)?.contiguous()?;
        if let Some(norm) = &self.patch_norm {
            hidden = norm.forward(&hidden)?;
        }
        for stage in &self.stages {
            hidden = stage.forward(&hidden)?;
        }
        self.norm.forward(&hidden)?.mean(1)
    }

    /// Batch norm, the bicubic stretch and the fold into the square image
    /// `(batch, 1, spec_size, spec_size)` (`reshape_mel2img`).
    pub fn spectrogram_image(&self, features: &Tensor) -> Result<Tensor> {
        let (batch, channels, frames, mels) = features.dims4()?;
        let normed = features
            .broadcast_mul(&self.bn_scale)?
            .broadcast_add(&self.bn_shift)?;
        let ratio = self.config.freq_ratio();
        let spec_width = self.config.spec_size * ratio;
        let spec_height = self.config.spec_size / ratio;
        if frames > spec_width || mels > spec_height {
            candle_core::bail!(
                "{frames} frames × {mels} mel bands do not fit the audio tower's \
                 {spec_width} × {spec_height}"
            );
        }
        let mut x = normed;
        if frames < spec_width {
            x = bicubic::resize_tensor(&x, spec_width, mels)?;
        }
        if mels < spec_height {
            // as the reference: back to the original frame count with the full mel height
            x = bicubic::resize_tensor(&x, frames, spec_height)?;
        }
        let (_, _, time, freq) = x.dims4()?;
        x.reshape((batch, channels * ratio, time / ratio, freq))?
            .permute((0, 1, 3, 2))?
            .contiguous()?
            .reshape((batch, channels, freq * ratio, time / ratio))
    }
}

/// One stage: its blocks, then patch merging unless it is the last.
#[derive(Debug, Clone)]
struct Stage {
    blocks: Vec<SwinBlock>,
    merge: Option<PatchMerging>,
}

impl Stage {
    fn new(
        config: &ClapAudioConfig,
        index: usize,
        resolution: (usize, usize),
        merges: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        let width = config.stage_width(index);
        let heads = config.num_attention_heads[index];
        let blocks = (0..config.depths[index])
            .map(|b| {
                let shift = if b % 2 == 0 {
                    0
                } else {
                    config.window_size / 2
                };
                SwinBlock::new(
                    config,
                    width,
                    heads,
                    resolution,
                    shift,
                    vb.pp(format!("blocks.{b}")),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let merge = if merges {
            Some(PatchMerging::new(width, resolution, vb.pp("downsample"))?)
        } else {
            None
        };
        Ok(Self { blocks, merge })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        match &self.merge {
            Some(merge) => merge.forward(&x),
            None => Ok(x),
        }
    }
}

/// A Swin block: (shifted) window attention and an MLP, each with a pre-norm and a residual.
#[derive(Debug, Clone)]
struct SwinBlock {
    norm_before: LayerNorm,
    attention: WindowAttention,
    norm_after: LayerNorm,
    fc_in: Linear,
    fc_out: Linear,
    activation: Activation,
    resolution: (usize, usize),
    window: usize,
    shift: usize,
    /// `(windows, N, N)`: 0 within a region, −100 across regions; `None` without a shift.
    mask: Option<Tensor>,
}

impl SwinBlock {
    fn new(
        config: &ClapAudioConfig,
        width: usize,
        heads: usize,
        resolution: (usize, usize),
        shift: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let (h, w) = resolution;
        // transformers: a resolution no larger than the window gets one unshifted window
        let (window, shift) = if h.min(w) <= config.window_size {
            (h.min(w), 0)
        } else {
            (config.window_size, shift)
        };
        let eps = config.layer_norm_eps;
        let hidden = (config.mlp_ratio * width as f64) as usize;
        let padded = (h.div_ceil(window) * window, w.div_ceil(window) * window);
        let mask = if shift > 0 {
            Some(shift_mask(padded, window, shift, vb.device())?)
        } else {
            None
        };
        Ok(Self {
            norm_before: candle_nn::layer_norm(width, eps, vb.pp("layernorm_before"))?,
            attention: WindowAttention::new(
                width,
                heads,
                config.window_size,
                config.qkv_bias,
                vb.pp("attention"),
            )?,
            norm_after: candle_nn::layer_norm(width, eps, vb.pp("layernorm_after"))?,
            fc_in: candle_nn::linear(width, hidden, vb.pp("intermediate.dense"))?,
            fc_out: candle_nn::linear(hidden, width, vb.pp("output.dense"))?,
            activation: config.hidden_act,
            resolution,
            window,
            shift,
            mask,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, _, channels) = x.dims3()?;
        let (h, w) = self.resolution;
        let win = self.window;
        let mut grid = self
            .norm_before
            .forward(x)?
            .reshape((batch, h, w, channels))?;
        let (hp, wp) = (h.div_ceil(win) * win, w.div_ceil(win) * win);
        if hp > h {
            grid = grid.pad_with_zeros(1, 0, hp - h)?;
        }
        if wp > w {
            grid = grid.pad_with_zeros(2, 0, wp - w)?;
        }
        let shift = self.shift as i32;
        if shift > 0 {
            grid = grid.roll(-shift, 1)?.roll(-shift, 2)?;
        }
        let windows = grid
            .reshape((batch, hp / win, win, wp / win, win, channels))?
            .permute((0, 1, 3, 2, 4, 5))?
            .contiguous()?
            .reshape((batch * (hp / win) * (wp / win), win * win, channels))?;
        let attended = self.attention.forward(&windows, self.mask.as_ref())?;
        let mut grid = attended
            .reshape((batch, hp / win, wp / win, win, win, channels))?
            .permute((0, 1, 3, 2, 4, 5))?
            .contiguous()?
            .reshape((batch, hp, wp, channels))?;
        if shift > 0 {
            grid = grid.roll(shift, 1)?.roll(shift, 2)?;
        }
        if hp > h || wp > w {
            grid = grid.narrow(1, 0, h)?.narrow(2, 0, w)?;
        }
        let x = (x + grid.contiguous()?.reshape((batch, h * w, channels))?)?;
        let mlp = self.norm_after.forward(&x)?;
        let mlp = self
            .fc_out
            .forward(&self.fc_in.forward(&mlp)?.apply(&self.activation)?)?;
        x + mlp
    }
}

/// The shifted-window mask of a padded `(height, width)` grid: each position's region
/// (3 × 3 regions cut at `size − window` and `size − shift`), windows partitioned as the tokens.
fn shift_mask(
    (height, width): (usize, usize),
    window: usize,
    shift: usize,
    device: &Device,
) -> Result<Tensor> {
    let region =
        |i: usize, size: usize| usize::from(i >= size - window) + usize::from(i >= size - shift);
    let n = window * window;
    let mut mask = Vec::with_capacity((height / window) * (width / window) * n * n);
    for wy in 0..height / window {
        for wx in 0..width / window {
            let ids: Vec<usize> = (0..n)
                .map(|k| {
                    let (y, x) = (wy * window + k / window, wx * window + k % window);
                    region(y, height) * 3 + region(x, width)
                })
                .collect();
            for &a in &ids {
                for &b in &ids {
                    mask.push(if a == b { 0.0 } else { MASKED });
                }
            }
        }
    }
    Tensor::from_vec(mask, ((height / window) * (width / window), n, n), device)
}

/// Multi-head self-attention within a window, with the learnt relative position bias.
#[derive(Debug, Clone)]
struct WindowAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    heads: usize,
    head_dim: usize,
    /// `(heads, N, N)` for `N = window²` tokens.
    position_bias: Tensor,
}

impl WindowAttention {
    fn new(
        width: usize,
        heads: usize,
        window: usize,
        qkv_bias: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        let attn = vb.pp("self");
        let linear = |name: &str| {
            if qkv_bias {
                candle_nn::linear(width, width, attn.pp(name))
            } else {
                candle_nn::linear_no_bias(width, width, attn.pp(name))
            }
        };
        let span = 2 * window - 1;
        let table = attn.get((span * span, heads), "relative_position_bias_table")?;
        let n = window * window;
        let index: Vec<u32> = (0..n)
            .flat_map(|i| {
                (0..n).map(move |j| {
                    let dy = i / window + window - 1 - j / window;
                    let dx = i % window + window - 1 - j % window;
                    (dy * span + dx) as u32
                })
            })
            .collect();
        let index = Tensor::from_vec(index, n * n, table.device())?;
        let position_bias = table
            .index_select(&index, 0)?
            .reshape((n, n, heads))?
            .permute((2, 0, 1))?
            .contiguous()?;
        Ok(Self {
            query: linear("query")?,
            key: linear("key")?,
            value: linear("value")?,
            output: candle_nn::linear(width, width, vb.pp("output.dense"))?,
            heads,
            head_dim: width / heads,
            position_bias,
        })
    }

    /// `windows`: `(batch · windows, N, width)`; `mask`: `(windows, N, N)`.
    fn forward(&self, windows: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (count, n, width) = windows.dims3()?;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((count, n, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.query.forward(windows)?)?;
        let k = split(self.key.forward(windows)?)?;
        let v = split(self.value.forward(windows)?)?;
        let scores = (q.matmul(&k.t()?.contiguous()?)? / (self.head_dim as f64).sqrt())?;
        let mut scores = scores.broadcast_add(&self.position_bias)?;
        if let Some(mask) = mask {
            let per_image = mask.dim(0)?;
            scores = scores
                .reshape((count / per_image, per_image, self.heads, n, n))?
                .broadcast_add(&mask.unsqueeze(1)?.unsqueeze(0)?)?
                .reshape((count, self.heads, n, n))?;
        }
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((count, n, width))?;
        self.output.forward(&context)
    }
}

/// Patch merging: each 2 × 2 neighbourhood concatenated (in transformers' order: (0,0), (1,0),
/// (0,1), (1,1) as (row, column)), normalised and reduced to twice the width.
#[derive(Debug, Clone)]
struct PatchMerging {
    norm: LayerNorm,
    reduction: Linear,
    resolution: (usize, usize),
}

impl PatchMerging {
    fn new(width: usize, resolution: (usize, usize), vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            norm: candle_nn::layer_norm(4 * width, TORCH_LN_EPS, vb.pp("norm"))?,
            reduction: candle_nn::linear_no_bias(4 * width, 2 * width, vb.pp("reduction"))?,
            resolution,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, _, channels) = x.dims3()?;
        let (h, w) = self.resolution;
        let mut grid = x.reshape((batch, h, w, channels))?;
        if h % 2 == 1 {
            grid = grid.pad_with_zeros(1, 0, 1)?;
        }
        if w % 2 == 1 {
            grid = grid.pad_with_zeros(2, 0, 1)?;
        }
        let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
        let merged = grid
            .reshape((batch, h2, 2, w2, 2, channels))?
            .permute((0, 1, 3, 4, 2, 5))?
            .contiguous()?
            .reshape((batch, h2 * w2, 4 * channels))?;
        self.reduction.forward(&self.norm.forward(&merged)?)
    }
}
