//! Extractors whose refusals are the server's JSON errors (`{code, message}`), not axum's plain
//! text.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::AppError;

/// The one path parameter of a route (`/api/tracks/{id}`), as text. A parameter that is not
/// UTF-8 once percent-decoded (`/api/tracks/%ff`) is a 400 in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(text)| PathText(text))
            .map_err(|rejection| {
                AppError::bad_request(format!(
                    "the address is not readable: {}",
                    rejection.body_text()
                ))
            })
    }
}
