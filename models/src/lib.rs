//! The paper's chain of four models in candle, on local files only: no tokio, no axum, no hub.
//!
//! # Layout
//! - [`attention`]: one new position attending over a key/value cache on the CPU.
//! - [`blip`]: BLIP-large image captioning conditioned on the emotion by a text prefix: ViT
//!   encoder, BERT decoder with KV cache, greedy and beam search as transformers runs them.
//! - [`error`]: the crate's one error type; every failure names the file or field at fault.
//! - [`clip_zero_shot`]: zero-shot emotion probabilities from CLIP (`openai/clip-vit-base-patch32`)
//!   and the prompts "a painting that feels {emotion}".
//! - [`checkpoint`]: finding and opening a checkpoint directory in the Hugging Face layout
//!   (`config.json`, `model.safetensors` or `pytorch_model.bin`, `tokenizer.json`).
//! - [`device`]: choosing the compute device and dtype (CPU, or CUDA with the `cuda` feature).
//! - [`encodec`]: the EnCodec 32 kHz decoder (codes → waveform) that MusicGen uses.
//! - [`encodec_stream`]: streaming EnCodec decoding, equal to the whole-at-once decode.
//! - [`falcon_rw`]: Falcon-RW-1B: ALiBi decoder with KV cache, greedy or seeded sampling, the
//!   paper's description prompt and its cleaning.
//! - [`gemv`]: the CPU product of a few activation rows with a weight matrix (decoder steps).
//! - [`qgemv`]: the CPU product of activation rows with a weight matrix in quantized blocks.
//! - [`image_prep`]: pixel values as transformers' image processors make them (PIL/torchvision
//!   antialiased resize, crop, normalisation) from a checkpoint's preprocessor config.
//! - [`musicgen`]: MusicGen-small: T5 text encoder, the delayed-codebook decoder with guidance
//!   and sampling, frames streamed as they are made.
//! - [`random_weights`]: seeded random weights of any shape, to build full-size models from a
//!   config alone (benchmarks, demo models).
//! - [`tiny`]: tiny random-weight model sets in the real layouts, made in Rust (demos, tests).
//! - [`resnet`]: ResNet in transformers' layout (`microsoft/resnet-50`), the emotion labeller's
//!   backbone: the last stage's feature map, or every stage's output.
//!
//! # Plan
//! The other models arrive one issue at a time, each in its own module following the same shape
//! (a serde `Config` with the checkpoint's field names and a `validate()`, `Model::new(&cfg, vb)`
//! with checkpoint key names, `&mut self` KV caches):
//! - `resnet_bigru`, `train`: the emotion labeller's head and its training.
//! - `pipeline`: the four stages and the paper's variants, with events and cancellation.

pub mod attention;
pub mod blip;
pub mod checkpoint;
pub mod clip_zero_shot;
pub mod device;
pub mod encodec;
pub mod encodec_stream;
pub mod error;
pub mod falcon_rw;
pub mod gemv;
pub mod image_prep;
pub mod musicgen;
pub mod qgemv;
pub mod random_weights;
pub mod resnet;
pub mod tiny;

pub use error::{Error, Result};
