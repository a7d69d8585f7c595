//! Bodies of the HTTP API: uploads, health, tracks, the gallery and errors.

use serde::{Deserialize, Serialize};

use crate::domain::{Emotion, EmotionProbabilities, Variant};
use crate::ids::{GalleryId, ImageId, TrackId};
use crate::protocol::ErrorCode;
use crate::request::Settings;

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
    /// The address people reach this server at (`--public-url`), when it is set: share links
    /// and the kiosk's QR codes use it instead of the address the page was opened at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// A cluster's web node: each shared service (`broker`, `database`, `store`) and `ok` or
    /// what is wrong with it, and the live workers. Absent for a single process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterHealth>,
}

/// How a cluster looks from one web node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterHealth {
    /// `broker`, `database`, `store`: `ok`, or what is wrong.
    pub services: std::collections::BTreeMap<String, String>,
    /// The workers that published their card lately, by name.
    pub workers: Vec<String>,
}

/// Whether the server can run the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelsStatus {
    Ready {
        /// True when the server runs the tiny random-weight demo models (no real weights were
        /// found): the chain works end to end, but the music is noise.
        #[serde(default)]
        demo: bool,
        /// The variants this server can run (optimized needs a fine-tuned MusicGen).
        #[serde(default)]
        variants: Vec<Variant>,
        /// Which MusicGen composes each variant: `musicgen` (the base one), or the variant's own
        /// fine-tuned one (`musicgen-lyrical`, …; `optimized` for the optimized variant). Track
        /// records name it as `composer` among their model revisions.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        composers: std::collections::BTreeMap<Variant, String>,
    },
    Unavailable {
        reason: String,
    },
}

/// A finished track: `GET /api/tracks/{id}`, and the data of the share page `/t/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackInfo {
    pub id: TrackId,
    /// The share page, `/t/{id}`.
    pub share_path: String,
    /// The settings it was made with (the seed included), so it can be made again.
    pub settings: Settings,
    /// The painting: `/api/images/{sha256}`.
    pub image_url: String,
    /// The gallery item it was made from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gallery: Option<GalleryId>,
    pub emotion: Emotion,
    pub probabilities: EmotionProbabilities,
    /// `resnet-bigru` or `clip-zero-shot`.
    pub labeller: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The text MusicGen was conditioned on.
    pub music_text: String,
    pub sample_rate: u32,
    /// Length of the audio, in seconds.
    pub seconds: f32,
    /// The audio as 16-bit WAV (supports HTTP range requests).
    pub wav_url: String,
    /// The audio in a compressed format (Ogg Vorbis).
    pub compressed_url: String,
    /// Which model checkpoint produced each stage (role → revision).
    pub model_revisions: std::collections::BTreeMap<String, String>,
    /// True when the tiny demo models made it.
    #[serde(default)]
    pub demo: bool,
    /// How closely the music matches its words, by CLAP (when the server has a CLAP model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clap: Option<ClapAlignment>,
    /// Seconds since 1970-01-01 UTC.
    pub created_at: i64,
}

impl TrackInfo {
    /// The same with its texts made [`plain`](crate::text::plain) (tracks stored before the
    /// server cleaned its texts may carry control characters).
    pub fn into_plain(mut self) -> Self {
        use crate::text::plain;
        self.caption = self.caption.as_deref().map(plain);
        self.description = self.description.as_deref().map(plain);
        self.music_text = plain(&self.music_text);
        self
    }
}

/// How closely a track's music matches words: the cosine of CLAP's audio and text embeddings
/// (−1 to 1; the paper's CLAP score), once for "{emotion} song" (the paper's Fig. 3) and once
/// for the text MusicGen composed from (the description in the lyrical and optimized variants).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClapAlignment {
    /// Against "{emotion} song", the emotion being the labeller's.
    pub emotion: f32,
    /// Against the text MusicGen was conditioned on.
    pub music_text: f32,
}

/// One painting of the gallery: `GET /api/gallery` answers a list of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GalleryItem {
    pub id: GalleryId,
    pub title: String,
    pub artist: String,
    /// Year or period as written in `gallery.toml` (e.g. `1889`, `c. 1665`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<String>,
    /// Where the image comes from.
    pub credit: String,
    /// Its licence (e.g. `CC0-1.0`, `public domain`).
    pub licence: String,
    /// What the painting shows, in words, for people who cannot see it.
    #[serde(default)]
    pub alt: String,
    /// The painting: `/api/images/{sha256}`.
    pub image_url: String,
    /// Width and height in pixels.
    pub width: u32,
    pub height: u32,
    /// The pre-rendered track (`ekphrasis gallery render`), when there is one for the models
    /// this server runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<TrackId>,
}
