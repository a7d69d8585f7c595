//! HTTP calls to the server: uploading the chosen image, the server's health, the gallery,
//! stored tracks and their audio.

use ekphrasis_shared::api::{ErrorBody, GalleryItem, Health, TrackInfo, UploadedImage};
use ekphrasis_shared::{ErrorCode, TrackId};
use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use web_sys::File;

use crate::problem::{Problem, code_for_status};

/// Where images are uploaded.
const IMAGES_PATH: &str = "/api/images";

/// Why a call did not give what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the server could not be reached: {0}")]
    Network(gloo_net::Error),
    #[error("the server refused ({status}){}", refusal_words(body.as_ref()))]
    Refused {
        status: u16,
        body: Option<ErrorBody>,
    },
    #[error("the server's answer ({status}) could not be read")]
    Unreadable { status: u16 },
}

/// `: why`, from a refusal's body, when it has one.
fn refusal_words(body: Option<&ErrorBody>) -> String {
    body.map(|body| format!(": {}", body.message))
        .unwrap_or_default()
}

impl ApiError {
    /// The error in plain words.
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::Network(_) => Problem::network(),
            ApiError::Refused {
                body: Some(body), ..
            } => Problem::from_server(body.code, &body.message),
            ApiError::Refused { status, body: None } | ApiError::Unreadable { status } => {
                match code_for_status(*status) {
                    Some(code) => Problem::from_server(code, ""),
                    None => Problem::unreadable_answer(*status),
                }
            }
        }
    }

    /// Whether the server said there is no such thing.
    pub fn is_not_found(&self) -> bool {
        match self {
            ApiError::Refused { status, body } => {
                *status == 404 || body.as_ref().is_some_and(|b| b.code == ErrorCode::NotFound)
            }
            _ => false,
        }
    }
}

/// Sends the file as the raw request body, with its own media type.
pub async fn upload_image(file: &File) -> Result<UploadedImage, ApiError> {
    let response = Request::post(IMAGES_PATH)
        .header("Content-Type", &file.type_())
        .body(file.clone())
        .map_err(ApiError::Network)?
        .send()
        .await
        .map_err(ApiError::Network)?;
    json(response).await
}

/// `GET /api/health`.
pub async fn health() -> Result<Health, ApiError> {
    get_json("/api/health").await
}

/// `GET /api/gallery`.
pub async fn gallery() -> Result<Vec<GalleryItem>, ApiError> {
    get_json("/api/gallery").await
}

/// `GET /api/tracks/{id}`, its texts made plain.
pub async fn track(id: &TrackId) -> Result<TrackInfo, ApiError> {
    get_json::<TrackInfo>(&format!("/api/tracks/{id}"))
        .await
        .map(TrackInfo::into_plain)
}

/// The bytes at `url` (a track's audio).
pub async fn bytes(url: &str) -> Result<Vec<u8>, ApiError> {
    let response = Request::get(url).send().await.map_err(ApiError::Network)?;
    let status = response.status();
    if !response.ok() {
        return Err(refusal(response).await);
    }
    response
        .binary()
        .await
        .map_err(|_| ApiError::Unreadable { status })
}

async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, ApiError> {
    let response = Request::get(url).send().await.map_err(ApiError::Network)?;
    json(response).await
}

/// The body of a successful answer, or why it is not one.
async fn json<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    if response.ok() {
        response
            .json::<T>()
            .await
            .map_err(|_| ApiError::Unreadable { status })
    } else {
        Err(refusal(response).await)
    }
}

async fn refusal(response: Response) -> ApiError {
    let status = response.status();
    let body = response.json::<ErrorBody>().await.ok();
    ApiError::Refused { status, body }
}
