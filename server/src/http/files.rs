//! Serving stored files: `GET /api/images/{sha256}` (the painting) and a track's audio, with
//! range requests so players can seek and resume. Stored files never change, so they are cached
//! for good.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ekphrasis_shared::ImageId;

use super::AppError;
use super::extract::PathText;
use super::range::{Wanted, wanted};
use crate::state::AppState;
use crate::store::{BlobError, Blobs};

/// How one file is sent.
pub struct FileReply<'a> {
    pub key: &'a str,
    pub mime: &'a str,
    /// The name a browser saves it under.
    pub download_name: Option<String>,
}

/// `GET /api/images/{sha256}`.
pub async fn image(
    State(state): State<AppState>,
    PathText(id): PathText,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let id = ImageId::parse(&id).map_err(|_| AppError::not_found("no such image"))?;
    let meta = state
        .store
        .images
        .meta(&id)
        .await
        .map_err(|e| AppError::internal("reading the image table failed", format!("{e:#}")))?
        .ok_or_else(|| AppError::not_found("no such image on this server"))?;
    let key = format!("images/{id}");
    let reply = FileReply {
        key: &key,
        mime: &meta.mime,
        download_name: None,
    };
    send(&state.store.blobs, &reply, &headers).await
}

/// Sends a stored file whole or in part, as the request's `Range` asks.
pub async fn send(
    blobs: &Blobs,
    reply: &FileReply<'_>,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let size = blobs.size(reply.key).await.map_err(blob_error)?;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, bytes, content_range) = match wanted(range, size) {
        Wanted::Whole => (
            StatusCode::OK,
            blobs.get(reply.key).await.map_err(blob_error)?,
            None,
        ),
        Wanted::Part(part) => {
            let content_range = format!("bytes {}-{}/{size}", part.start, part.end - 1);
            let bytes = blobs.get_range(reply.key, part).await.map_err(blob_error)?;
            (StatusCode::PARTIAL_CONTENT, bytes, Some(content_range))
        }
        Wanted::Unsatisfiable => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
            );
            return Ok(response);
        }
    };
    let mut response = (status, Body::from(bytes)).into_response();
    let out = response.headers_mut();
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(mime) = HeaderValue::from_str(reply.mime) {
        out.insert(header::CONTENT_TYPE, mime);
    }
    if let Some(content_range) = content_range {
        out.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&content_range).expect("ascii"),
        );
    }
    if let Some(name) = &reply.download_name
        && let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{name}\""))
    {
        out.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn blob_error(error: BlobError) -> AppError {
    match error {
        BlobError::NotFound(_) => AppError::not_found("the file is not on this server"),
        other => AppError::internal("reading a stored file failed", other),
    }
}
