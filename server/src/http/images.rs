//! `POST /api/images`: an image as the raw body or as a multipart form field. The size limit
//! answers 413, a format other than JPEG/PNG/WebP 415, an undecodable or oversized image 422.

use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use ekphrasis_shared::api::UploadedImage;
use ekphrasis_shared::{ErrorCode, ImageId};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use sha2::{Digest, Sha256};

use super::AppError;
use crate::state::AppState;
use crate::store::ImageMeta;
use crate::upload::{self, UploadError};

/// Room for multipart boundaries and part headers on top of the image itself.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UploadedImage>, AppError> {
    super::origin::check(&headers, &state.config)?;
    let limit = state.config.max_upload_bytes;
    let boundary = multipart_boundary(&headers)?;
    let body_limit = limit
        + if boundary.is_some() {
            MULTIPART_OVERHEAD
        } else {
            0
        };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > body_limit as u64) {
        return Err(too_large(limit));
    }
    let body = read_limited(body, body_limit, limit).await?;
    let bytes = match boundary {
        Some(boundary) => image_field(body, boundary, limit).await?,
        None => body,
    };
    if bytes.is_empty() {
        return Err(AppError::bad_request("the upload is empty"));
    }
    if bytes.len() > limit {
        return Err(too_large(limit));
    }

    let max_pixels = state.config.max_pixels;
    let checked = {
        // A bounded number of decodes at once, each within its memory budget.
        let _decoding = state
            .decodes
            .acquire()
            .await
            .map_err(|e| AppError::internal("decoding the upload failed", e))?;
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || upload::inspect(&bytes, max_pixels))
            .await
            .map_err(|e| AppError::internal("decoding the upload failed", e))?
    };
    let inspected = checked.map_err(refusal)?;
    let id = ImageId::parse(&hex::encode(Sha256::digest(&bytes))).expect("sha256 hex is an id");
    let meta = ImageMeta {
        width: inspected.image.width(),
        height: inspected.image.height(),
        mime: inspected.mime.into(),
    };
    state
        .store
        .images
        .put(&id, bytes, &meta)
        .await
        .map_err(|e| AppError::storing("storing the image failed", e))?;
    tracing::info!(image = %id, width = meta.width, height = meta.height, mime = meta.mime, "image uploaded");
    Ok(Json(UploadedImage {
        id,
        width: meta.width,
        height: meta.height,
    }))
}

fn multipart_boundary(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/")
    {
        return Ok(None);
    }
    multer::parse_boundary(content_type)
        .map(Some)
        .map_err(|e| AppError::bad_request(format!("malformed multipart content type: {e}")))
}

async fn read_limited(body: Body, body_limit: usize, limit: usize) -> Result<Bytes, AppError> {
    match Limited::new(body, body_limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large(limit)),
        Err(e) if is_body_timeout(e.as_ref()) => Err(AppError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::TimedOut,
            format!("the upload stalled: {e}"),
        )),
        Err(e) => Err(AppError::bad_request(format!(
            "the upload was interrupted: {e}"
        ))),
    }
}

/// Whether a body error is the router's body timeout (see [`crate::serve`]), however wrapped.
fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// The first file field of a multipart form (or the field named `image`).
async fn image_field(body: Bytes, boundary: String, limit: usize) -> Result<Bytes, AppError> {
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().per_field(limit as u64 + 1));
    let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
    let malformed =
        |e: multer::Error| AppError::bad_request(format!("malformed multipart form: {e}"));
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        if field.file_name().is_some() || field.name() == Some("image") {
            return field.bytes().await.map_err(|e| match e {
                multer::Error::FieldSizeExceeded { .. } => too_large(limit),
                other => malformed(other),
            });
        }
    }
    Err(AppError::bad_request(
        "the multipart form has no image: send the file in a field named `image`",
    ))
}

fn too_large(limit: usize) -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!(
            "the image is larger than this server accepts ({:.1} MB at most)",
            limit as f64 / 1e6
        ),
    )
}

fn refusal(err: UploadError) -> AppError {
    let (status, code) = match err {
        UploadError::UnsupportedFormat(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
        ),
        UploadError::TooManyPixels { .. } | UploadError::Undecodable(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::UnprocessableImage,
        ),
    };
    AppError::new(status, code, err.to_string())
}
