//! The `ekphrasis` subcommands, one module each, each owning its clap flags and its `run`;
//! [`cli`](crate::cli) assembles them into the command tree and `main` dispatches. What several
//! share is in [`common`].
//!
//! - [`serve`]: the server; [`worker`]: a cluster's model worker.
//! - [`emotion`], [`caption`], [`enhance`], [`compose`]: one stage of the chain each.
//! - [`encode`]: music to EnCodec codes, as fine-tuning reads it.
//! - [`dataset`]: `dataset build` and `dataset texts`, the painting–music data set.
//! - [`describe`], [`generate`]: the chain's first three stages, or all four.
//! - [`train`]: `train emotion` (the emotion labeller's head), `train musicgen` (fine-tuning).
//! - [`eval`]: the paper's music metrics over two folders; [`experiment`]: the paper's whole
//!   experiment (test split → each variant's music → Table II and Fig. 3).
//! - [`models`]: `models fetch` (the default checkpoints), `models tiny` (tiny demo models).
//! - [`gallery`]: `gallery render`, a stored track for every gallery painting.
//! - [`parity`]: the models on their tiny fixtures against the reference's outputs, on any
//!   device and dtype (what the GPU bundle checks first).
//!
//! `ekphrasis bench` lives apart, in [`bench`](crate::bench).

pub mod caption;
pub mod common;
pub mod compose;
pub mod dataset;
pub mod describe;
pub mod emotion;
pub mod encode;
pub mod enhance;
pub mod eval;
pub mod experiment;
pub mod gallery;
pub mod generate;
pub mod models;
pub mod parity;
pub mod serve;
pub mod train;
pub mod worker;
