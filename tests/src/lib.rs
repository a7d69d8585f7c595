//! Helpers for the end-to-end tests: a real server on a loopback port with its own data folder,
//! a protocol-speaking WebSocket client, test images made on the spot, and the scale-out
//! cluster's real servers (NATS, PostgreSQL, S3) on loopback.
//!
//! The tests themselves are in `tests/tests/`; the browser tests are in `tests/browser/`.

pub mod cluster;
pub mod images;
pub mod nodes;
pub mod pieces;
pub mod server;
pub mod ws;

pub use server::TestServer;
pub use ws::WsClient;
