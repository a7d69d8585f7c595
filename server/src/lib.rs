//! The Ekphrasis server: serves the web app, takes painting uploads, and speaks protocol v1
//! over a WebSocket. Everything with I/O lives here; model compute lives in `ekphrasis-models`.
//!
//! # Layout
//! - [`cli`]: the `ekphrasis` command line; [`compose`]: its `compose` command.
//! - [`emotion_cmd`]: `ekphrasis emotion`; [`train_cmd`]: `ekphrasis train emotion`.
//! - [`bench`]: `ekphrasis bench`, speed and memory figures; [`bench_emotion`]: its `emotion`.
//! - [`hub`]: checkpoint directories from paths or Hugging Face hub ids.
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
pub mod bench_emotion;
pub mod cli;
pub mod compose;
pub mod config;
pub mod emotion_cmd;
pub mod http;
pub mod hub;
pub mod models;
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
