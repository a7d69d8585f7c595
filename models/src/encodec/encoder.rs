//! The EnCodec encoder as transformers runs it for MusicGen's codec (`EncodecModel.encode` with
//! the default bandwidth, no normalisation, no chunking): the SEANet encoder (first convolution,
//! per downsampling ratio residual blocks → ELU → strided convolution, then the LSTM, ELU and the
//! last convolution), then the residual vector quantizer's encode. Audio `[batch, 1, samples]`
//! at the codec's rate becomes codes `[batch, codebooks, ceil(samples / hop)]`.

use candle_core::{Module, Result, Tensor, bail};
use candle_nn::VarBuilder;

use super::config::Config;
use super::conv::NormConv1d;
use super::lstm::EncodecLstm;
use super::quantizer::ResidualVectorQuantizer;
use super::seanet::{ResnetBlock, elu};

/// One downsampling stage: residual blocks, ELU, strided convolution.
#[derive(Debug, Clone)]
struct DownsampleStage {
    blocks: Vec<ResnetBlock>,
    conv: NormConv1d,
}

/// The SEANet encoder (`EncodecEncoder`), loaded from `{vb}.layers.{n}` with transformers' layer
/// numbering (ELUs take a number but hold no weight).
#[derive(Debug, Clone)]
pub struct SeanetEncoder {
    conv_in: NormConv1d,
    stages: Vec<DownsampleStage>,
    lstm: EncodecLstm,
    conv_out: NormConv1d,
}

impl SeanetEncoder {
    /// Loads the encoder at `vb` (the `encoder` prefix of an EnCodec checkpoint).
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("layers");
        let conv_in = NormConv1d::new(
            cfg.audio_channels,
            cfg.num_filters,
            cfg.kernel_size,
            1,
            1,
            vb.pp(0),
        )?;
        let mut index = 1;
        let mut scale = cfg.num_filters;
        let mut stages = Vec::with_capacity(cfg.upsampling_ratios.len());
        for &ratio in cfg.upsampling_ratios.iter().rev() {
            let mut blocks = Vec::with_capacity(cfg.num_residual_layers);
            for j in 0..cfg.num_residual_layers {
                let dilation = cfg.dilation_growth_rate.pow(j as u32);
                blocks.push(ResnetBlock::new(cfg, scale, dilation, vb.pp(index))?);
                index += 1;
            }
            // layers[index] is the ELU.
            let conv = NormConv1d::new(scale, scale * 2, 2 * ratio, ratio, 1, vb.pp(index + 1))?;
            index += 2;
            stages.push(DownsampleStage { blocks, conv });
            scale *= 2;
        }
        let lstm = EncodecLstm::new(scale, cfg.num_lstm_layers, vb.pp(index))?;
        // layers[index + 1] is the final ELU.
        let conv_out = NormConv1d::new(
            scale,
            cfg.hidden_size,
            cfg.last_kernel_size,
            1,
            1,
            vb.pp(index + 2),
        )?;
        Ok(Self {
            conv_in,
            stages,
            lstm,
            conv_out,
        })
    }

    /// `[batch, channels, samples]` → the latent `[batch, hidden, ceil(samples / hop)]`.
    pub fn forward(&self, audio: &Tensor) -> Result<Tensor> {
        let mut xs = self.conv_in.forward(audio)?;
        for stage in &self.stages {
            for block in &stage.blocks {
                xs = block.forward(&xs)?;
            }
            xs = stage.conv.forward(&elu(&xs)?)?;
        }
        let (xs, _) = self.lstm.forward_with_state(&xs, None)?;
        self.conv_out.forward(&elu(&xs)?)
    }
}

/// The EnCodec encoder: SEANet encoder and quantizer encode at the default bandwidth.
#[derive(Debug, Clone)]
pub struct Encoder {
    cfg: Config,
    encoder: SeanetEncoder,
    quantizer: ResidualVectorQuantizer,
    codebooks: usize,
}

impl Encoder {
    /// Builds the encoder from `vb` at the EnCodec model's prefix (`audio_encoder` in a MusicGen
    /// checkpoint): reads `encoder.layers.*` and `quantizer.layers.{k}.codebook.embed`. The
    /// config is validated first.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let encoder = SeanetEncoder::new(cfg, vb.pp("encoder"))?;
        let quantizer = ResidualVectorQuantizer::new(
            cfg.num_codebooks(),
            cfg.codebook_size,
            cfg.codebook_dim(),
            vb.pp("quantizer"),
        )?;
        Ok(Self {
            cfg: cfg.clone(),
            encoder,
            quantizer,
            codebooks: cfg.encode_codebooks(),
        })
    }

    /// Encodes `audio` (`[batch, 1, samples]` at the codec's rate, any float dtype) into codes
    /// `[batch, codebooks, frames]` (u32), `frames = ceil(samples / hop_length)`.
    pub fn encode(&self, audio: &Tensor) -> Result<Tensor> {
        let (_, channels, samples) = match audio.dims3() {
            Ok(d) => d,
            Err(_) => bail!(
                "encodec audio must be (batch, channels, samples), got shape {:?}",
                audio.dims()
            ),
        };
        if channels != self.cfg.audio_channels {
            bail!(
                "encodec audio has {channels} channels, the model takes {}",
                self.cfg.audio_channels
            )
        }
        if samples == 0 {
            bail!("encodec audio is empty")
        }
        let latent = self.latent(audio)?;
        self.quantizer.encode(&latent, self.codebooks)
    }

    /// The SEANet encoder's output `[batch, hidden, frames]` before quantization, for tests.
    pub fn latent(&self, audio: &Tensor) -> Result<Tensor> {
        let audio = audio.to_dtype(self.quantizer.dtype())?;
        self.encoder.forward(&audio)
    }

    /// Codebooks the encoder writes (transformers' count for the default bandwidth).
    pub fn codebooks(&self) -> usize {
        self.codebooks
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
}
