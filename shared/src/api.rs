//! Bodies of the HTTP API: uploads, health and errors.

use serde::{Deserialize, Serialize};

use crate::ids::ImageId;
use crate::protocol::ErrorCode;

/// Body of every HTTP error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// What went wrong, in plain words.
    pub message: String,
}

/// Answer to `POST /api/images`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadedImage {
    /// SHA-256 of the uploaded bytes.
    pub id: ImageId,
    /// Width after EXIF orientation, in pixels.
    pub width: u32,
    /// Height after EXIF orientation, in pixels.
    pub height: u32,
}

/// Answer to `GET /api/health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"` while the server serves.
    pub status: String,
    /// The server's name and version.
    pub server: String,
    /// The protocol version of `/ws`.
    pub protocol: u32,
    /// Whether the music models are loaded; when not, why.
    pub models: ModelsStatus,
}

/// Whether the server can run the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelsStatus {
    Ready,
    Unavailable { reason: String },
}
