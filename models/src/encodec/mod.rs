//! The EnCodec 32 kHz codec as MusicGen uses it: audio codes → waveform ([`Decoder`]), and audio →
//! codes ([`Encoder`]) for fine-tuning.
//!
//! EnCodec (Défossez et al., "High Fidelity Neural Audio Compression", 2022) ported from Hugging
//! Face transformers' `EncodecModel.decode` and `encode` (`modeling_encodec.py`, 5.24): the
//! non-causal SEANet decoder and encoder with reflect padding, weight-normalised convolutions and
//! a two-layer LSTM, and the residual vector quantizer. It loads the `audio_encoder.*` tensors of
//! `facebook/musicgen-small` (or the `facebook/encodec_32khz` checkpoint) unchanged, with weight
//! norm (`weight_g`/`weight_v`) folded at load time. Generation only decodes; the encoder is
//! loaded on its own, by the commands that read music.
//!
//! - [`config`]: the Hugging Face `EncodecConfig` and its derived numbers.
//! - [`conv`]: weight-normalised convolutions with transformers' padding and trimming.
//! - [`lstm`]: the LSTM with an explicit, carriable state.
//! - [`quantizer`]: code checking, the codebook lookup and the nearest-codeword encode.
//! - [`seanet`]: the SEANet decoder, split into the stages a stream runs separately.
//! - [`encoder`]: the SEANet encoder and the whole encode.
//! - `speed` (tests only): where the streaming decode's time goes, printed.
//!
//! Streaming is in [`crate::encodec_stream`].

pub mod config;
pub mod conv;
pub mod encoder;
pub mod lstm;
pub mod quantizer;
pub mod seanet;
#[cfg(test)]
mod speed;

use candle_core::{DType, Result, Tensor};
use candle_nn::VarBuilder;

pub use config::Config;
pub use encoder::Encoder;
pub use lstm::LstmState;
pub use quantizer::ResidualVectorQuantizer;
pub use seanet::SeanetDecoder;

/// How far the decoder looks around a frame, in code frames (50 per second for MusicGen).
///
/// The decoder is the first convolution (reads `conv_in_left`/`conv_in_right` frames of codes),
/// then a causal LSTM (reads *every* earlier frame: its receptive field is unbounded on the left
/// and empty on the right), then the upsampling stack (reads `upsample_left`/`upsample_right`
/// frames of LSTM output). A stream is exact when it carries the LSTM state and gives the two
/// convolutional parts this much context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptiveField {
    /// Code frames the first convolution reads to the left of a frame.
    pub conv_in_left: usize,
    /// Code frames the first convolution reads to the right of a frame.
    pub conv_in_right: usize,
    /// LSTM-output frames the upsampling stack reads to the left of a frame's samples.
    pub upsample_left: usize,
    /// LSTM-output frames the upsampling stack reads to the right of a frame's samples.
    pub upsample_right: usize,
}

impl ReceptiveField {
    /// Convolutional context to the left, in code frames (the LSTM's is unbounded on top).
    pub fn left_frames(&self) -> usize {
        self.conv_in_left + self.upsample_left
    }

    /// Context to the right, in code frames: the lookahead a stream must wait for.
    pub fn right_frames(&self) -> usize {
        self.conv_in_right + self.upsample_right
    }
}

/// The EnCodec decoder: quantizer decode and SEANet decoder.
#[derive(Debug, Clone)]
pub struct Decoder {
    cfg: Config,
    quantizer: ResidualVectorQuantizer,
    decoder: SeanetDecoder,
}

impl Decoder {
    /// Builds the decoder from `vb` at the EnCodec model's prefix: `audio_encoder` in a MusicGen
    /// checkpoint (pass `vb.pp("audio_encoder")`), the root in a standalone EnCodec one. Reads
    /// `quantizer.layers.{k}.codebook.embed` and `decoder.layers.*`. The config is validated first.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let quantizer = ResidualVectorQuantizer::new(
            cfg.num_codebooks(),
            cfg.codebook_size,
            cfg.codebook_dim(),
            vb.pp("quantizer"),
        )?;
        let decoder = SeanetDecoder::new(cfg, vb.pp("decoder"))?;
        Ok(Self {
            cfg: cfg.clone(),
            quantizer,
            decoder,
        })
    }

    /// Decodes `codes` (`[batch, codebooks, frames]`, u32 or i64, each in `0..codebook_size`) to
    /// audio `[batch, 1, frames · hop_length]` in f32. Errors (never panics) on a wrong shape,
    /// a wrong number of codebooks, zero frames or an out-of-range code.
    pub fn decode(&self, codes: &Tensor) -> Result<Tensor> {
        let latent = self.quantizer.decode(codes)?;
        self.decoder.forward(&latent)?.to_dtype(DType::F32)
    }

    /// The quantized latent `[batch, hidden, frames]` for `codes` (transformers'
    /// `quantizer.decode`), for tests and for callers that run the stages themselves.
    pub fn quantizer_decode(&self, codes: &Tensor) -> Result<Tensor> {
        self.quantizer.decode(codes)
    }

    /// The quantizer.
    pub fn quantizer(&self) -> &ResidualVectorQuantizer {
        &self.quantizer
    }

    /// The SEANet decoder and its stages.
    pub fn seanet(&self) -> &SeanetDecoder {
        &self.decoder
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The receptive field of the convolutional parts, in frames (see [`ReceptiveField`]).
    /// MusicGen-small: 3 + 3 frames for the first convolution, 1 + 1 for the upsampling stack.
    pub fn receptive_field(&self) -> ReceptiveField {
        self.receptive_field_with_extra(0)
    }

    /// As [`Self::receptive_field`], with the upsampling stack's right side widened so that
    /// `extra_right_samples` more samples past a frame run are exact too (a crossfade tail).
    pub fn receptive_field_with_extra(&self, extra_right_samples: usize) -> ReceptiveField {
        let (conv_in_left, conv_in_right) = self.decoder.conv_in_halo();
        let (upsample_left, upsample_right) = self.decoder.upsample_halo(extra_right_samples);
        ReceptiveField {
            conv_in_left,
            conv_in_right,
            upsample_left,
            upsample_right,
        }
    }
}
