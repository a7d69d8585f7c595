//! One error type at the HTTP edge: a status and a JSON `{code, message}` body. Internal details
//! go to the log, never to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ekphrasis_shared::ErrorCode;
use ekphrasis_shared::api::ErrorBody;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl AppError {
    /// An error with an explicit status, code and plain-words message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    /// 404: no such resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    /// 500: logs the cause and tells the client only that something failed.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            format!("{context}; the server log has the details"),
        )
    }

    /// A failure to store something: 507 when the disk is full (the person can only wait),
    /// else [`AppError::internal`].
    pub fn storing(context: &str, cause: anyhow::Error) -> Self {
        if crate::store::is_disk_full(&cause) {
            tracing::error!(cause = format!("{cause:#}"), "{context}: the disk is full");
            return Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                ErrorCode::InsufficientStorage,
                format!("{context}: the server's disk is full; try again later"),
            );
        }
        Self::internal(context, format!("{cause:#}"))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_507_and_other_failures_500() {
        let full = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::StorageFull));
        let error = AppError::storing("storing the image failed", full);
        assert_eq!(error.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(error.code, ErrorCode::InsufficientStorage);
        let other = anyhow::anyhow!("the store is gone");
        assert_eq!(
            AppError::storing("storing the image failed", other).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
