//! The Ekphrasis server: serves the web app, takes painting uploads, and speaks protocol v1
//! over a WebSocket. Everything with I/O lives here; model compute lives in `ekphrasis-models`.
//!
//! # Layout
//! The command line:
//! - [`cli`]: the `ekphrasis` command tree, assembled from the subcommands' flags.
//! - [`commands`]: one module per subcommand (`serve`, `emotion`, `caption`, `enhance`,
//!   `compose`, `describe`, `generate`, `train`, `models`, `gallery`), and what they share in
//!   [`commands::common`] (the chain's model flags, printing a stage's result, flag values).
//! - [`bench`](mod@bench): `ekphrasis bench`, speed and memory figures, one module a benchmark.
//!
//! Serving:
//! - [`server`]: binding, running and shutting down, testable without a process.
//! - [`serve`](mod@serve): the accept loop: HTTP/1.1 and upgrades, the connection cap with its
//!   503, deadlines for quiet clients.
//! - [`config`]: serve settings from flags, environment variables and an optional TOML file.
//! - [`state`]: what every request handler shares, and starting it (store, gallery, models).
//! - [`http`]: the router: uploads, stored files with range requests, tracks, the gallery,
//!   share pages with link previews, health, metrics, the app's static files, one `AppError`.
//! - [`ws`]: one WebSocket session: handshake, requests, its job's messages and audio.
//! - [`jobs`]: the model runtime: worker threads owning the models, the bounded queue, one
//!   driver per job (messages, audio frames, time limit, recording the track);
//!   [`chain_request`]: the pipeline request for a piece.
//! - [`store`]: what the server keeps: SQLite (images, tracks) and files in an object store.
//! - [`upload`]: sniffing, size and pixel checks and decoding of an uploaded image.
//! - [`gallery`]: the gallery folder and its manifest.
//! - [`metrics`]: Prometheus metrics.
//!
//! Used by both:
//! - [`checkpoints`]: where each role's checkpoint comes from (flags, `--models`, the Hugging
//!   Face cache, the demo models), which emotion labeller runs, and loading them.
//! - [`audio`]: WAV files and the Ogg Vorbis download; reading music of any format and rate.
//! - [`dataset`]: painting–music data for fine-tuning (manifests, the codes and text cache).
//! - [`evaluation`]: the paper's music metrics over two folders of audio (`eval`, `experiment`).

pub mod audio;
pub mod bench;
pub mod chain_request;
pub mod checkpoints;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod dataset;
pub mod evaluation;
pub mod gallery;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod serve;
pub mod server;
pub mod state;
pub mod store;
pub mod upload;
pub mod ws;

pub use config::ServeConfig;
pub use server::Server;

/// The server's name and version, as sent in the handshake and health.
pub const SERVER_NAME: &str = concat!("ekphrasis/", env!("CARGO_PKG_VERSION"));
