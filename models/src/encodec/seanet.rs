//! The SEANet decoder (`EncodecDecoder`): first convolution, LSTM, then per upsampling ratio
//! ELU → transposed convolution → residual blocks, and ELU → last convolution. It is split into
//! three stages (input convolution, LSTM with explicit state, upsampling stack) so that a stream
//! can run each with the context it needs; running the three in a row is the whole decode.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::config::Config;
use super::conv::{NormConv1d, NormConvTranspose1d};
use super::lstm::{EncodecLstm, LstmState};

/// ELU with α = 1, through the CPU kernel where it applies.
pub(super) fn elu(xs: &Tensor) -> Result<Tensor> {
    match crate::kernels::codec::elu(xs)? {
        Some(ys) => Ok(ys),
        None => xs.elu(1.0),
    }
}

/// `EncodecResnetBlock` with an identity shortcut: `x + conv_k1(elu(conv_k(elu(x))))`, the
/// same in the encoder and the decoder.
#[derive(Debug, Clone)]
pub(super) struct ResnetBlock {
    conv1: NormConv1d,
    conv2: NormConv1d,
}

impl ResnetBlock {
    /// Loads `{vb}.block.1` and `{vb}.block.3`; the inner width is `dim // compress`, as
    /// transformers floors it.
    pub(super) fn new(cfg: &Config, dim: usize, dilation: usize, vb: VarBuilder) -> Result<Self> {
        let hidden = dim / cfg.compress;
        let vb = vb.pp("block");
        Ok(Self {
            conv1: NormConv1d::new(dim, hidden, cfg.residual_kernel_size, 1, dilation, vb.pp(1))?,
            conv2: NormConv1d::new(hidden, dim, 1, 1, 1, vb.pp(3))?,
        })
    }

    fn halo(&self) -> (usize, usize) {
        let (l1, r1) = self.conv1.halo();
        let (l2, r2) = self.conv2.halo();
        (l1 + l2, r1 + r2)
    }
}

impl Module for ResnetBlock {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let ys = self.conv1.forward(&elu(xs)?)?;
        let ys = self.conv2.forward(&elu(&ys)?)?;
        xs + ys
    }
}

/// One upsampling stage: ELU, transposed convolution, residual blocks.
#[derive(Debug, Clone)]
struct UpsampleStage {
    conv_tr: NormConvTranspose1d,
    blocks: Vec<ResnetBlock>,
}

/// The SEANet decoder, loaded from `{vb}.layers.{n}` with transformers' layer numbering (ELUs
/// take a number but hold no weight).
#[derive(Debug, Clone)]
pub struct SeanetDecoder {
    conv_in: NormConv1d,
    lstm: EncodecLstm,
    stages: Vec<UpsampleStage>,
    conv_out: NormConv1d,
}

impl SeanetDecoder {
    /// Loads the decoder at `vb` (the `decoder` prefix of an EnCodec checkpoint).
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("layers");
        let mut scale = cfg.lstm_dim();
        let conv_in = NormConv1d::new(cfg.hidden_size, scale, cfg.kernel_size, 1, 1, vb.pp(0))?;
        let lstm = EncodecLstm::new(scale, cfg.num_lstm_layers, vb.pp(1))?;
        let mut index = 2;
        let mut stages = Vec::with_capacity(cfg.upsampling_ratios.len());
        for &ratio in &cfg.upsampling_ratios {
            // layers[index] is the ELU.
            let conv_tr =
                NormConvTranspose1d::new(scale, scale / 2, 2 * ratio, ratio, vb.pp(index + 1))?;
            index += 2;
            let mut blocks = Vec::with_capacity(cfg.num_residual_layers);
            for j in 0..cfg.num_residual_layers {
                let dilation = cfg.dilation_growth_rate.pow(j as u32);
                blocks.push(ResnetBlock::new(cfg, scale / 2, dilation, vb.pp(index))?);
                index += 1;
            }
            stages.push(UpsampleStage { conv_tr, blocks });
            scale /= 2;
        }
        // layers[index] is the final ELU.
        let conv_out = NormConv1d::new(
            cfg.num_filters,
            cfg.audio_channels,
            cfg.last_kernel_size,
            1,
            1,
            vb.pp(index + 1),
        )?;
        Ok(Self {
            conv_in,
            lstm,
            stages,
            conv_out,
        })
    }

    /// Stage 1, `layers.0`: the first convolution on the quantized latent `[batch, hidden, frames]`.
    pub fn conv_in(&self, latent: &Tensor) -> Result<Tensor> {
        self.conv_in.forward(latent)
    }

    /// Stage 2, `layers.1`: the LSTM plus skip, from `state` (zeros when `None`); returns the
    /// state after the last frame too.
    pub fn lstm(&self, xs: &Tensor, state: Option<&LstmState>) -> Result<(Tensor, LstmState)> {
        self.lstm.forward_with_state(xs, state)
    }

    /// Stage 3, `layers.2..`: the upsampling stack, `[batch, lstm_dim, frames]` →
    /// `[batch, channels, frames · hop]`.
    pub fn upsample(&self, xs: &Tensor) -> Result<Tensor> {
        let mut xs = xs.clone();
        for stage in &self.stages {
            xs = stage.conv_tr.forward(&elu(&xs)?)?;
            for block in &stage.blocks {
                xs = block.forward(&xs)?;
            }
        }
        self.conv_out.forward(&elu(&xs)?)
    }

    /// The whole decoder: the three stages in a row, the LSTM from zeros.
    pub fn forward(&self, latent: &Tensor) -> Result<Tensor> {
        let xs = self.conv_in(latent)?;
        let (xs, _) = self.lstm(&xs, None)?;
        self.upsample(&xs)
    }

    /// Frames the first convolution reads left and right of an output frame.
    pub fn conv_in_halo(&self) -> (usize, usize) {
        self.conv_in.halo()
    }

    /// LSTM-output frames the upsampling stack reads left and right of a run of frames for the
    /// audio of that run, widened by `extra_right` samples at the end, to be exact. Computed
    /// backwards through the layers from the output: each stride-1 convolution adds its padding,
    /// each transposed convolution maps the halo to its input's rate.
    pub fn upsample_halo(&self, extra_right: usize) -> (usize, usize) {
        let mut halo = self.conv_out.halo();
        halo.1 += extra_right;
        for stage in self.stages.iter().rev() {
            for block in stage.blocks.iter().rev() {
                let (l, r) = block.halo();
                halo = (halo.0 + l, halo.1 + r);
            }
            halo = stage.conv_tr.input_halo(halo);
        }
        halo
    }
}
