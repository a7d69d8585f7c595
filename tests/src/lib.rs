//! Helpers for the end-to-end tests: a real server on a loopback port with its own data folder,
//! a protocol-speaking WebSocket client, and test images made on the spot.
//!
//! The tests themselves are in `tests/tests/`; the browser tests are in `tests/browser/`.

pub mod images;
pub mod server;
pub mod ws;

pub use server::TestServer;
pub use ws::WsClient;
