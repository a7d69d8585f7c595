//! Finding and loading the chain's checkpoints.
//!
//! - [`catalog`]: the default checkpoint of each model role, the files it needs, and where a
//!   role's directory comes from (a flag, `MODELS/<role>/`, the hub).
//! - [`hub`]: checkpoint directories from paths or Hugging Face hub ids (the cache, downloads).
//! - [`labeller`]: which emotion labeller to run (a trained model or zero-shot CLIP), loading it.
//! - [`model_set`]: one directory per role for the server (`--models`, the cache, the demo
//!   models), their revisions, loading them into a pipeline.
//! - [`quantize`]: what `--quantize` asks for and the format each model gets (`auto`: as
//!   measured on the device).
//! - [`source`]: the models of a job runtime, as a trait (checkpoint folders, or benchmarks'
//!   random full-size models).
//! - [`published`]: the evaluation checkpoints published as single files (VGGish, PANNs CNN14):
//!   their cache, downloads and pins.

pub mod catalog;
pub mod hub;
pub mod labeller;
pub mod model_set;
pub mod published;
pub mod quantize;
pub mod source;
