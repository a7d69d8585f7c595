//! The paper's chain of four models in candle, on local files only: no tokio, no axum, no hub.
//!
//! # Layout
//! - [`attention`]: one new position attending over a key/value cache on the CPU.
//! - [`error`]: the crate's one error type; every failure names the file or field at fault.
//! - [`clip_zero_shot`]: zero-shot emotion probabilities from CLIP (`openai/clip-vit-base-patch32`)
//!   and the prompts "a painting that feels {emotion}".
//! - [`checkpoint`]: finding and opening a checkpoint directory in the Hugging Face layout
//!   (`config.json`, `model.safetensors` or `pytorch_model.bin`, `tokenizer.json`).
//! - [`device`]: choosing the compute device and dtype (CPU, or CUDA with the `cuda` feature).
//! - [`emotion`]: the emotion labeller facade: an image in, the five probabilities, the label and
//!   which labeller out.
//! - [`encodec`]: the EnCodec 32 kHz decoder (codes → waveform) that MusicGen uses.
//! - [`encodec_stream`]: streaming EnCodec decoding, equal to the whole-at-once decode.
//! - [`gemv`]: the CPU product of a few activation rows with a weight matrix (decoder steps).
//! - [`image_prep`]: pixel values as transformers' image processors make them (PIL/torchvision
//!   antialiased resize, crop, normalisation) from a checkpoint's preprocessor config.
//! - [`musicgen`]: MusicGen-small: T5 text encoder, the delayed-codebook decoder with guidance
//!   and sampling, frames streamed as they are made.
//! - [`resnet_bigru`]: the paper's emotion head (BiGRU, self-attention, linear) on ResNet-50
//!   features.
//! - [`train`]: training the head on a folder-per-emotion dataset with a frozen backbone.
//! - [`random_weights`]: seeded random weights of any shape, to build full-size models from a
//!   config alone (benchmarks, demo models).
//! - [`resnet`]: ResNet in transformers' layout (`microsoft/resnet-50`), the emotion labeller's
//!   backbone: the last stage's feature map, or every stage's output.
//!
//! # Plan
//! The other models arrive one issue at a time, each in its own module following the same shape
//! (a serde `Config` with the checkpoint's field names and a `validate()`, `Model::new(&cfg, vb)`
//! with checkpoint key names, `&mut self` KV caches):
//! - `clip_zero_shot`: the emotion labeller's zero-shot fallback.
//! - `blip`, `falcon_rw`: the emotion-conditioned caption and the musical description.
//! - `pipeline`: the four stages and the paper's variants, with events and cancellation.
//! - `tiny`: tiny random-weight model sets in the real layouts, for demos and tests.

pub mod attention;
pub mod checkpoint;
pub mod clip_zero_shot;
pub mod device;
pub mod emotion;
pub mod encodec;
pub mod encodec_stream;
pub mod error;
pub mod gemv;
pub mod image_prep;
pub mod musicgen;
pub mod random_weights;
pub mod resnet;
pub mod resnet_bigru;
pub mod train;

pub use error::{Error, Result};
