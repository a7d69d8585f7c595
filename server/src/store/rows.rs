//! Tracks and jobs as plain column values (text, 64-bit integers, doubles, booleans), the form
//! both backends bind and read, with the conversions to and from the typed records in one place.

use std::collections::BTreeMap;

use anyhow::Context;
use ekphrasis_shared::api::ClapAlignment;
use ekphrasis_shared::domain::{Emotion, Variant};
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{ImageId, ImageRef, JobId, Settings, TrackId};

use super::{JobKind, JobRow, JobState, RequestKey, TrackRecord, TrackStore, TrackTexts};

/// The `tracks` columns in [`TrackColumns`]' order.
pub(super) const TRACK_COLUMNS: &str = "id, request_key, image_id, gallery_id, variant, seconds, \
     seed, top_k, temperature, guidance, given_description, emotion, probabilities, labeller, \
     caption, description, description_fallback, music_text, model_revisions, demo, \
     sample_rate, samples, wav_key, ogg_key, created_at, clap_emotion, clap_music_text";

/// The `jobs` columns in [`JobColumns`]' order.
pub(super) const JOB_COLUMNS: &str = "id, request_key, kind, variant, settings, image_id, state, \
     attempt, worker, cancel_requested, queue_seq, track_id, error, created_at, updated_at";

/// `n` numbered placeholders: `?1, ?2, …` for SQLite (`prefix` `?`), `$1, $2, …` for PostgreSQL.
pub(super) fn placeholders(prefix: char, n: usize) -> String {
    (1..=n)
        .map(|i| format!("{prefix}{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `tracks` row.
#[derive(Clone, Debug)]
pub(super) struct TrackColumns {
    pub id: String,
    pub request_key: String,
    pub image_id: String,
    pub gallery_id: Option<String>,
    pub variant: String,
    pub seconds: f64,
    pub seed: i64,
    pub top_k: i64,
    pub temperature: f64,
    pub guidance: f64,
    pub given_description: Option<String>,
    pub emotion: String,
    pub probabilities: String,
    pub labeller: String,
    pub caption: Option<String>,
    pub description: Option<String>,
    pub description_fallback: bool,
    pub music_text: String,
    pub model_revisions: String,
    pub demo: bool,
    pub sample_rate: i64,
    pub samples: i64,
    pub wav_key: String,
    pub ogg_key: String,
    pub created_at: i64,
    pub clap_emotion: Option<f64>,
    pub clap_music_text: Option<f64>,
}

impl TrackColumns {
    /// How many there are.
    pub const COUNT: usize = 27;

    pub fn from_record(t: &TrackRecord, request_key: &RequestKey) -> Self {
        Self {
            id: t.id.to_string(),
            request_key: request_key.as_str().to_owned(),
            image_id: t.image.to_string(),
            gallery_id: t.gallery().map(GalleryId::to_string),
            variant: t.settings.variant.as_str().to_owned(),
            seconds: f64::from(t.settings.seconds),
            seed: t.settings.seed as i64,
            top_k: i64::from(t.settings.top_k),
            temperature: f64::from(t.settings.temperature),
            guidance: f64::from(t.settings.guidance),
            given_description: t.settings.description.clone(),
            emotion: t.texts.emotion.as_str().to_owned(),
            probabilities: json(&t.texts.probabilities),
            labeller: t.texts.labeller.clone(),
            caption: t.texts.caption.clone(),
            description: t.texts.description.clone(),
            description_fallback: t.texts.description_fallback,
            music_text: t.texts.music_text.clone(),
            model_revisions: json(&t.model_revisions),
            demo: t.demo,
            sample_rate: i64::from(t.sample_rate),
            samples: t.samples as i64,
            wav_key: TrackStore::wav_key(&t.id),
            ogg_key: TrackStore::ogg_key(&t.id),
            created_at: t.created_at,
            clap_emotion: t.clap.map(|c| f64::from(c.emotion)),
            clap_music_text: t.clap.map(|c| f64::from(c.music_text)),
        }
    }

    pub fn into_record(self) -> anyhow::Result<TrackRecord> {
        let id = self.id.clone();
        self.record()
            .with_context(|| format!("the stored track {id}"))
    }

    fn record(self) -> anyhow::Result<TrackRecord> {
        let image = ImageId::parse(&self.image_id).context("image_id")?;
        let image_ref = match self.gallery_id {
            Some(slug) => ImageRef::Gallery(GalleryId::parse(&slug).context("gallery_id")?),
            None => ImageRef::Upload(image.clone()),
        };
        Ok(TrackRecord {
            id: TrackId::parse(&self.id).context("id")?,
            image,
            settings: Settings {
                image: image_ref,
                variant: variant(&self.variant)?,
                seconds: self.seconds as f32,
                seed: self.seed as u64,
                top_k: u32::try_from(self.top_k).context("top_k")?,
                temperature: self.temperature as f32,
                guidance: self.guidance as f32,
                description: self.given_description,
            },
            texts: TrackTexts {
                emotion: Emotion::ALL
                    .into_iter()
                    .find(|e| e.as_str() == self.emotion)
                    .with_context(|| format!("unknown emotion {}", self.emotion))?,
                probabilities: serde_json::from_str(&self.probabilities)
                    .context("probabilities")?,
                labeller: self.labeller,
                caption: self.caption,
                description: self.description,
                description_fallback: self.description_fallback,
                music_text: self.music_text,
            },
            model_revisions: serde_json::from_str::<BTreeMap<String, String>>(
                &self.model_revisions,
            )
            .context("model_revisions")?,
            demo: self.demo,
            clap: match (self.clap_emotion, self.clap_music_text) {
                (Some(emotion), Some(music_text)) => Some(ClapAlignment {
                    emotion: emotion as f32,
                    music_text: music_text as f32,
                }),
                _ => None,
            },
            sample_rate: u32::try_from(self.sample_rate).context("sample_rate")?,
            samples: u64::try_from(self.samples).context("samples")?,
            created_at: self.created_at,
        })
    }
}

/// A `jobs` row.
#[derive(Clone, Debug)]
pub(super) struct JobColumns {
    pub id: String,
    pub request_key: String,
    pub kind: String,
    pub variant: String,
    pub settings: String,
    pub image_id: String,
    pub state: String,
    pub attempt: i64,
    pub worker: Option<String>,
    pub cancel_requested: bool,
    pub queue_seq: Option<i64>,
    pub track_id: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl JobColumns {
    /// How many there are.
    pub const COUNT: usize = 15;

    pub fn from_row(j: &JobRow) -> Self {
        Self {
            id: job_key(j.id),
            request_key: j.request_key.as_str().to_owned(),
            kind: j.kind.as_str().to_owned(),
            variant: j.settings.variant.as_str().to_owned(),
            settings: json(&j.settings),
            image_id: j.image.to_string(),
            state: j.state.as_str().to_owned(),
            attempt: i64::from(j.attempt),
            worker: j.worker.clone(),
            cancel_requested: j.cancel_requested,
            queue_seq: j.queue_seq.map(|s| s as i64),
            track_id: j.track.as_ref().map(TrackId::to_string),
            error: j.error.clone(),
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }

    pub fn into_row(self) -> anyhow::Result<JobRow> {
        let id = self.id.clone();
        self.row().with_context(|| format!("the stored job {id}"))
    }

    fn row(self) -> anyhow::Result<JobRow> {
        Ok(JobRow {
            id: JobId(self.id.parse().context("id")?),
            request_key: RequestKey::from_stored(self.request_key),
            kind: JobKind::parse(&self.kind)
                .with_context(|| format!("unknown kind {}", self.kind))?,
            settings: serde_json::from_str(&self.settings).context("settings")?,
            image: ImageId::parse(&self.image_id).context("image_id")?,
            state: JobState::parse(&self.state)
                .with_context(|| format!("unknown state {}", self.state))?,
            attempt: u32::try_from(self.attempt).context("attempt")?,
            worker: self.worker,
            cancel_requested: self.cancel_requested,
            queue_seq: self.queue_seq.map(|s| s as u64),
            track: self
                .track_id
                .map(|t| TrackId::parse(&t))
                .transpose()
                .context("track_id")?,
            error: self.error,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A job id as stored: decimal text.
pub(super) fn job_key(id: JobId) -> String {
    id.0.to_string()
}

/// Rows of (gallery item, track id) as a map, skipping ids that do not parse.
pub(super) fn gallery_map(
    rows: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, TrackId> {
    rows.into_iter()
        .filter_map(|(item, track)| Some((item, TrackId::parse(&track).ok()?)))
        .collect()
}

fn variant(text: &str) -> anyhow::Result<Variant> {
    Variant::ALL
        .into_iter()
        .find(|v| v.as_str() == text)
        .with_context(|| format!("unknown variant {text}"))
}

/// JSON text of the few structured columns.
fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("stored values serialise")
}
