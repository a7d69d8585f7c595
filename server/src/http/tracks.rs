//! Finished tracks over HTTP: `GET /api/tracks/{id}` (everything about it, enough to make it
//! again), and its audio at `/api/tracks/{id}/audio.wav` and `/audio.ogg` (range requests
//! supported).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use ekphrasis_shared::TrackId;
use ekphrasis_shared::api::TrackInfo;

use super::AppError;
use super::extract::PathText;
use super::files::{self, FileReply};
use crate::audio::ogg;
use crate::state::AppState;
use crate::store::{TrackRecord, TrackStore};

/// `GET /api/tracks/{id}`.
pub async fn info(
    State(state): State<AppState>,
    PathText(id): PathText,
) -> Result<Json<TrackInfo>, AppError> {
    let record = find(&state, &id).await?;
    Ok(Json(track_info(&record)))
}

/// `GET /api/tracks/{id}/audio.wav`.
pub async fn wav(
    State(state): State<AppState>,
    PathText(id): PathText,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let record = find(&state, &id).await?;
    let key = TrackStore::wav_key(&record.id);
    let reply = FileReply {
        key: &key,
        mime: "audio/wav",
        download_name: Some(format!("ekphrasis-{}.wav", record.id)),
    };
    files::send(&state.store.blobs, &reply, &headers).await
}

/// `GET /api/tracks/{id}/audio.ogg`.
pub async fn ogg(
    State(state): State<AppState>,
    PathText(id): PathText,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let record = find(&state, &id).await?;
    let key = TrackStore::ogg_key(&record.id);
    let reply = FileReply {
        key: &key,
        mime: ogg::MIME,
        download_name: Some(format!("ekphrasis-{}.ogg", record.id)),
    };
    files::send(&state.store.blobs, &reply, &headers).await
}

/// The stored track with this id, or 404.
pub async fn find(state: &AppState, id: &str) -> Result<TrackRecord, AppError> {
    let id = TrackId::parse(id).map_err(|_| AppError::not_found("no such track"))?;
    state
        .store
        .tracks
        .get(&id)
        .await
        .map_err(|e| AppError::internal("reading the track table failed", format!("{e:#}")))?
        .ok_or_else(|| AppError::not_found("this track is not on this server"))
}

/// A stored track as the API describes it.
pub fn track_info(record: &TrackRecord) -> TrackInfo {
    let id = &record.id;
    TrackInfo {
        id: id.clone(),
        share_path: format!("/t/{id}"),
        settings: record.settings.clone(),
        image_url: format!("/api/images/{}", record.image),
        gallery: record.gallery().cloned(),
        emotion: record.texts.emotion,
        probabilities: record.texts.probabilities,
        labeller: record.texts.labeller.clone(),
        caption: record.texts.caption.clone(),
        description: record.texts.description.clone(),
        music_text: record.texts.music_text.clone(),
        sample_rate: record.sample_rate,
        seconds: record.seconds(),
        wav_url: record.id.wav_path(),
        compressed_url: record.id.ogg_path(),
        model_revisions: record.model_revisions.clone(),
        demo: record.demo,
        clap: record.clap,
        created_at: record.created_at,
    }
}
