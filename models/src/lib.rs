//! The paper's chain of four models in candle, on local files only: no tokio, no axum, no hub.
//! Each model follows one shape: a serde `Config` with the checkpoint's field names and a
//! `validate()`, `Model::new(&cfg, vb)` with checkpoint key names, `&mut self` KV caches.
//!
//! # Layout
//! The chain, in running order:
//! - [`emotion`]: the emotion labeller (an image in; the five probabilities, the label and which
//!   labeller out), over [`emotion::resnet_bigru`] (the paper's head: BiGRU, self-attention,
//!   linear on [`emotion::resnet`] features) or [`emotion::clip_zero_shot`] (CLIP against "a
//!   painting that feels …").
//! - [`blip`]: BLIP-large captioning conditioned on the emotion by a text prefix.
//! - [`falcon_rw`]: Falcon-RW-1B (ALiBi), the paper's description prompt and its cleaning.
//! - [`musicgen`]: MusicGen-small: T5 text encoder, the delayed-codebook decoder with guidance
//!   and sampling, frames streamed as they are made; [`encodec`] turns codes into a waveform and
//!   [`encodec_stream`] does it chunk by chunk, equal to the whole-at-once decode.
//! - [`pipeline`]: the four stages and the paper's variants, with events and cancellation.
//!
//! Around them:
//! - [`eval`]: the paper's music metrics (FAD, KL, Inception Score, CLAP, THD) and the models
//!   they listen through (VGGish, PANNs CNN14, CLAP).
//! - [`train`]: training the emotion head on a folder-per-emotion dataset, frozen backbone.
//! - [`image_prep`]: pixel values exactly as transformers' image processors make them.
//! - [`checkpoint`]: a checkpoint directory in the Hugging Face layout; [`error`]: the crate's
//!   one error type, naming the file or field at fault; [`device`]: CPU or CUDA, and the dtype.
//! - [`kernels`]: CPU kernels for one decoder step (attention over the cache read in place, the
//!   product of a few rows with f32 or packed q4k weights, one pool of compute threads) and the
//!   dense layer of BLIP, Falcon-RW and MusicGen over them, float or quantized (q8_0, q4k).
//! - [`random_weights`]: full-size models from a config alone (benchmarks); [`tiny`]: tiny
//!   random-weight model sets in the real layouts, made in Rust (demos, tests).
//! - [`parity`]: each model on its tiny fixture against the reference's outputs, on any device,
//!   in f32 or bf16 with stated tolerances (the model tests, and `ekphrasis parity` on a GPU).

pub mod blip;
pub mod checkpoint;
pub mod device;
pub mod emotion;
pub mod encodec;
pub mod encodec_stream;
pub mod error;
pub mod eval;
pub mod falcon_rw;
pub mod image_prep;
pub mod kernels;
pub mod musicgen;
pub mod parity;
pub mod pipeline;
pub mod random_weights;
pub mod tiny;
pub mod train;

#[cfg(test)]
mod test_util;

pub use error::{Error, Result};
