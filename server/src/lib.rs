//! The Ekphrasis server: serves the web app, takes painting uploads, and speaks protocol v1
//! over a WebSocket. Everything with I/O lives here; model compute lives in `ekphrasis-models`.
//!
//! # Layout
//! - [`cli`]: the `ekphrasis` command line. Its commands, one module each: [`emotion_cmd`],
//!   [`caption_cmd`], [`enhance_cmd`], [`compose`], [`chain_cmd`] (`describe`, `generate`),
//!   [`train_cmd`] (`train emotion`), [`models_cmd`] (`models fetch`, `models tiny`).
//! - [`bench`](mod@bench): `ekphrasis bench`, speed and memory figures: `compose` there, and
//!   [`bench_emotion`], [`bench_caption`], [`bench_enhance`], [`bench_chain`] (time to first
//!   audio).
//! - [`catalog`]: the default checkpoint of each model role and where a role's directory comes
//!   from; [`hub`]: checkpoint directories from paths or Hugging Face hub ids.
//! - [`wav`]: writing 16-bit PCM WAV files.
//! - [`config`]: serve settings from flags, environment variables and an optional TOML file.
//! - [`server`]: binding, running and shutting down, testable without a process.
//! - [`state`]: what every request handler shares.
//! - [`http`]: the router, the upload endpoint, health, the app's static files, one `AppError`.
//! - [`upload`]: sniffing, size and pixel checks and decoding of an uploaded image.
//! - [`store`]: what the server keeps under `--data`.
//! - [`ws`]: one WebSocket session: handshake, requests, errors.
//! - [`models`]: whether the model chain can run here, and why not.

pub mod bench;
pub mod bench_caption;
pub mod bench_chain;
pub mod bench_emotion;
pub mod bench_enhance;
pub mod caption_cmd;
pub mod catalog;
pub mod chain_cmd;
pub mod cli;
pub mod compose;
pub mod config;
pub mod emotion_cmd;
pub mod enhance_cmd;
pub mod http;
pub mod hub;
pub mod models;
pub mod models_cmd;
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
