//! The Ekphrasis server: serves the web app, takes painting uploads, and speaks protocol v1
//! over a WebSocket. Everything with I/O lives here; model compute lives in `ekphrasis-models`.
//!
//! # Layout
//! - [`cli`]: the `ekphrasis` command line. Its commands, one module each: [`emotion_cmd`],
//!   [`caption_cmd`], [`enhance_cmd`], [`compose`], [`chain_cmd`] (`describe`, `generate`),
//!   [`train_cmd`] (`train emotion`), [`models_cmd`] (`models fetch`, `models tiny`).
//! - [`bench`](mod@bench): `ekphrasis bench`, speed and memory figures: `compose` there, and
//!   [`bench_emotion`], [`bench_caption`], [`bench_enhance`], [`bench_chain`] (time to first
//!   audio), [`bench_server`] (the job runtime per variant).
//! - [`catalog`]: the default checkpoint of each model role and where a role's directory comes
//!   from; [`hub`]: checkpoint directories from paths or Hugging Face hub ids.
//! - [`wav`]: 16-bit PCM WAV files; [`ogg`]: the compressed download (Ogg Vorbis).
//! - [`config`]: serve settings from flags, environment variables and an optional TOML file.
//! - [`model_set`]: which checkpoint each role uses (flags, `--models`, the cache, the demo
//!   models), their revisions, loading them; [`chain_request`]: the pipeline request for a piece.
//! - [`jobs`]: the model runtime: worker threads owning the models, the bounded queue, one
//!   driver per job (messages, audio frames, time limit, recording the track).
//! - [`gallery`]: the gallery folder and its manifest; [`gallery_cmd`]: `gallery render`.
//! - [`metrics`]: Prometheus metrics.
//! - [`server`]: binding, running and shutting down, testable without a process.
//! - [`state`]: what every request handler shares, and starting it (store, gallery, models).
//! - [`http`]: the router: uploads, stored files with range requests, tracks, the gallery,
//!   share pages with link previews, health, metrics, the app's static files, one `AppError`.
//! - [`upload`]: sniffing, size and pixel checks and decoding of an uploaded image.
//! - [`store`]: what the server keeps: SQLite (images, tracks) and files in an object store.
//! - [`ws`]: one WebSocket session: handshake, requests, its job's messages and audio.

pub mod bench;
pub mod bench_caption;
pub mod bench_chain;
pub mod bench_emotion;
pub mod bench_enhance;
pub mod bench_server;
pub mod caption_cmd;
pub mod catalog;
pub mod chain_cmd;
pub mod chain_request;
pub mod cli;
pub mod compose;
pub mod config;
pub mod emotion_cmd;
pub mod enhance_cmd;
pub mod gallery;
pub mod gallery_cmd;
pub mod http;
pub mod hub;
pub mod jobs;
pub mod metrics;
pub mod model_set;
pub mod models_cmd;
pub mod ogg;
pub mod server;
pub mod state;
pub mod store;
pub mod train_cmd;
pub mod upload;
pub mod wav;
pub mod ws;

pub use config::ServeConfig;
pub use server::Server;

/// The server's name and version, as sent in the handshake and health.
pub const SERVER_NAME: &str = concat!("ekphrasis/", env!("CARGO_PKG_VERSION"));
