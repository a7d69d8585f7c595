//! HTTP calls to the server: uploading the chosen image.

use ekphrasis_shared::api::{ErrorBody, UploadedImage};
use gloo_net::http::Request;
use web_sys::File;

use crate::problem::{Problem, code_for_status};

/// Where images are uploaded.
const IMAGES_PATH: &str = "/api/images";

/// Why an upload did not give an image id.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the server could not be reached: {0}")]
    Network(gloo_net::Error),
    #[error("the server refused the image ({status}): {body:?}")]
    Refused {
        status: u16,
        body: Option<ErrorBody>,
    },
    #[error("the server's answer ({status}) could not be read")]
    Unreadable { status: u16 },
}

impl UploadError {
    /// The error in plain words.
    pub fn problem(&self) -> Problem {
        match self {
            UploadError::Network(_) => Problem::network(),
            UploadError::Refused {
                body: Some(body), ..
            } => Problem::from_server(body.code, &body.message),
            UploadError::Refused { status, body: None } | UploadError::Unreadable { status } => {
                match code_for_status(*status) {
                    Some(code) => Problem::from_server(code, ""),
                    None => Problem::unreadable_answer(*status),
                }
            }
        }
    }
}

/// Sends the file as the raw request body, with its own media type.
pub async fn upload_image(file: &File) -> Result<UploadedImage, UploadError> {
    let response = Request::post(IMAGES_PATH)
        .header("Content-Type", &file.type_())
        .body(file.clone())
        .map_err(UploadError::Network)?
        .send()
        .await
        .map_err(UploadError::Network)?;
    let status = response.status();
    if response.ok() {
        response
            .json::<UploadedImage>()
            .await
            .map_err(|_| UploadError::Unreadable { status })
    } else {
        let body = response.json::<ErrorBody>().await.ok();
        Err(UploadError::Refused { status, body })
    }
}
