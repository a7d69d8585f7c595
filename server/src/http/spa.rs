//! The built web app: files from the static folder, and `index.html` for every other path so
//! the client-side router can handle it (share links such as `/t/{id}`). A path no file system
//! could hold (a segment longer than a file name may be) gets the page too, and any other
//! failure to read a file is the JSON error every route answers.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use super::AppError;
use crate::state::AppState;

/// The longest file name the usual file systems take, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// Routes every path the router does not know to the app's files.
pub fn fallback(router: Router<AppState>, static_dir: &Path) -> Router<AppState> {
    let index = static_dir.join("index.html");
    if index.is_file() {
        let files = ServeDir::new(static_dir)
            .precompressed_br()
            .precompressed_gzip()
            .fallback(ServeFile::new(&index));
        let page = ServeFile::new(index);
        router.fallback(move |request: Request| serve(files, page, request))
    } else {
        let page = format!(
            "<!doctype html><meta charset=utf-8><title>Ekphrasis</title>\
             <p>The web app is not built in <code>{}</code>. \
             Run <code>cargo xtask serve</code>, which builds it and starts the server.</p>",
            static_dir.display()
        );
        router.fallback(move || async move {
            (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response()
        })
    }
}

async fn serve(files: ServeDir<ServeFile>, page: ServeFile, request: Request) -> Response {
    let unnameable = request
        .uri()
        .path()
        .split('/')
        .any(|segment| segment.len() > MAX_NAME_BYTES);
    let response = match unnameable {
        true => page.oneshot(request).await.map(IntoResponse::into_response),
        false => files
            .oneshot(request)
            .await
            .map(IntoResponse::into_response),
    };
    match response {
        Ok(response) if !response.status().is_server_error() => response,
        Ok(response) => AppError::internal(
            "reading the app's files failed",
            format!("status {}", response.status()),
        )
        .into_response(),
        Err(never) => match never {},
    }
}
