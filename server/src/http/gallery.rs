//! `GET /api/gallery`: the gallery's paintings, each with its pre-rendered track when
//! `ekphrasis gallery render` made one with the models this server runs.

use axum::Json;
use axum::extract::State;
use ekphrasis_shared::api::GalleryItem;

use super::AppError;
use crate::state::AppState;

/// `GET /api/gallery`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<GalleryItem>>, AppError> {
    let rendered = state
        .store
        .tracks
        .gallery_tracks(&state.jobs.info().revisions)
        .await
        .map_err(|e| AppError::internal("reading the gallery's tracks failed", format!("{e:#}")))?;
    let items = state
        .gallery
        .entries()
        .iter()
        .map(|entry| GalleryItem {
            id: entry.id.clone(),
            title: entry.title.clone(),
            artist: entry.artist.clone(),
            year: entry.year.clone(),
            credit: entry.credit.clone(),
            licence: entry.licence.clone(),
            alt: entry.alt.clone(),
            image_url: format!("/api/images/{}", entry.image),
            width: entry.width,
            height: entry.height,
            track: rendered.get(entry.id.as_str()).cloned(),
        })
        .collect();
    Ok(Json(items))
}
