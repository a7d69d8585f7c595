//! The paper's music metrics as plain functions over what the models give (embeddings, logits)
//! or over samples (THD), in f64, each equal to the reference it names.

pub mod clap_score;
pub mod fad;
pub mod histogram_kl;
pub mod isc;
pub mod numpy_random;
pub mod paired_kl;
pub mod thd;
