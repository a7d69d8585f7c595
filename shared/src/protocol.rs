//! The WebSocket's JSON control messages (protocol v1). Binary audio frames are in
//! [`crate::frame`]; `docs/protocol.md` describes the whole exchange.
//!
//! Each side's first message is its `hello`, carrying [`PROTOCOL_VERSION`]. Every message is a
//! JSON object whose `type` field names the variant. Unknown fields are ignored, so later
//! versions may add fields without breaking older peers.

use serde::{Deserialize, Serialize};

use crate::domain::{Stage, StageResult, StageState};
use crate::ids::{JobId, TrackId};
use crate::request::{GenerateRequest, Settings};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Messages from the browser (or any client) to the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// The handshake: must be the first message.
    Hello {
        protocol: u32,
        /// Who is talking, for the logs (`ekphrasis-app/0.1.0`).
        #[serde(default)]
        agent: String,
    },
    /// Make music from a painting.
    Generate(GenerateRequest),
    /// Run only the stages before composing (emotion, caption, description), so the person can
    /// read and edit the description; answered by stage messages and `described`. Nothing is
    /// stored. A later `generate` with `description` set composes from the edited text.
    Describe(GenerateRequest),
    /// Stop this connection's job, if it has one.
    Cancel,
    /// Follow a job this client started on another connection (after a reconnect, perhaps to
    /// another web node of a cluster): its messages are sent again from the start, and its
    /// audio frames from frame `from_frame` on. Added in protocol 1. A job whose connection
    /// closed without `cancel` goes on for the server's grace (30 s by default) waiting for
    /// this; an unknown job, one that ended or was given up more than the grace ago, or one
    /// another connection follows is refused (`not_found`, `busy`) naming it.
    Resume { job: JobId, from_frame: u32 },
}

/// Messages from the server to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The handshake: the server's first message.
    Hello {
        protocol: u32,
        /// The server's name and version (`ekphrasis/0.1.0`).
        server: String,
    },
    /// A `Generate` request was taken: the job's id, its place in the queue (0 = running) and
    /// the resolved settings it will run with.
    Accepted {
        job: JobId,
        position: u32,
        settings: Settings,
    },
    /// The job's place in the queue changed (0 = running now).
    Queued { job: JobId, position: u32 },
    /// A stage started, or finished with its result.
    Stage {
        job: JobId,
        stage: Stage,
        state: StageState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<StageResult>,
    },
    /// How the binary audio frames that follow are to be read.
    AudioFormat {
        job: JobId,
        sample_rate: u32,
        channels: u16,
        encoding: SampleEncoding,
    },
    /// The music is complete and stored.
    Done {
        job: JobId,
        track: TrackId,
        /// Path of the track's share page, e.g. `/t/{track}`.
        share_path: String,
        seconds: f32,
        /// True when an identical earlier request's stored track was returned instead of
        /// composing again (its stages and audio are sent just the same).
        #[serde(default)]
        reused: bool,
    },
    /// A `describe` job finished: every stage its variant needs has reported.
    Described { job: JobId },
    /// The job started over on another worker (its worker stopped): what was sent of it is
    /// void; its stages and audio follow again, frames counting from 0. `attempt` counts from 1
    /// for the first run. Added in protocol 1, sent only by a cluster.
    Restarted { job: JobId, attempt: u32 },
    /// Something went wrong; `job` is set when it concerns one.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<JobId>,
    },
}

impl ServerMsg {
    /// An error about the connection or a request, not tied to a job.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Error {
            code,
            message: message.into(),
            job: None,
        }
    }
}

/// How PCM samples are laid out in audio frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleEncoding {
    /// Signed 16-bit little-endian integers, channels interleaved.
    S16le,
}

/// Machine-readable error codes, shared by the WebSocket and the HTTP API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The peers speak different protocol versions.
    ProtocolMismatch,
    /// A message came before the handshake.
    HandshakeRequired,
    /// A message could not be read (not JSON, unknown type, missing field).
    MalformedMessage,
    /// A request field is out of range; the message names the field.
    InvalidRequest,
    /// The uploaded image or gallery item does not exist.
    ImageNotFound,
    /// The models needed are not loaded on this server.
    ModelsUnavailable,
    /// This connection already has a job running.
    Busy,
    /// The queue is full: try again shortly.
    QueueFull,
    /// The job was cancelled.
    Cancelled,
    /// The job ran past the server's time limit, or an upload stalled past the client timeout.
    TimedOut,
    /// An upload is larger than the server accepts.
    PayloadTooLarge,
    /// An upload is not a JPEG, PNG or WebP image.
    UnsupportedMediaType,
    /// An upload could not be decoded, or has too many pixels.
    UnprocessableImage,
    /// An HTTP request is malformed.
    BadRequest,
    /// No such resource.
    NotFound,
    /// The server's disk is full: nothing new can be stored until room is made.
    InsufficientStorage,
    /// Something failed inside the server; details are in its log.
    Internal,
    /// A code this build does not know (sent by a newer peer).
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_by_type() {
        let hello = ClientMsg::Hello {
            protocol: 1,
            agent: "test".into(),
        };
        assert_eq!(
            serde_json::to_string(&hello).unwrap(),
            r#"{"type":"hello","protocol":1,"agent":"test"}"#
        );
        assert_eq!(
            serde_json::to_string(&ClientMsg::Cancel).unwrap(),
            r#"{"type":"cancel"}"#
        );
        let err = ServerMsg::error(ErrorCode::ModelsUnavailable, "no models");
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"type":"error","code":"models_unavailable","message":"no models"}"#
        );
    }

    #[test]
    fn unknown_error_codes_and_fields_are_tolerated() {
        let msg: ServerMsg = serde_json::from_str(
            r#"{"type":"error","code":"from_the_future","message":"m","extra":1}"#,
        )
        .unwrap();
        assert_eq!(msg, ServerMsg::error(ErrorCode::Unknown, "m"));
    }
}
