//! Types shared by the Ekphrasis app (wasm32), server and tests: protocol v1 and the domain words.
//!
//! # Layout
//! - [`domain`]: emotions, variants, pipeline stages and their results.
//! - [`request`]: a client's `Generate` request and its resolution into checked, defaulted
//!   [`request::Settings`].
//! - [`ids`]: identifiers of images, gallery items, jobs and tracks.
//! - [`protocol`]: the JSON control messages of the WebSocket, with the handshake.
//! - [`frame`]: the binary audio frame codec.
//! - [`api`]: bodies of the HTTP API (uploads, health, errors).
//! - [`text`]: model and people's text made safe to store and show.
//!
//! The crate depends on serde only, so it builds for wasm32 and native alike. The protocol is
//! written down in `docs/protocol.md`; this crate is its single definition.

pub mod api;
pub mod domain;
pub mod frame;
pub mod ids;
pub mod protocol;
pub mod request;
pub mod text;

pub use domain::{Emotion, EmotionProbabilities, Stage, StageResult, StageState, Variant};
pub use frame::{AudioFrame, FrameError};
pub use ids::{ImageId, ImageRef, JobId, TrackId};
pub use protocol::{ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg};
pub use request::{GenerateRequest, RequestError, Settings};
