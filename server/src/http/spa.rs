//! The built web app: files from the static folder, and `index.html` for every other path so
//! the client-side router can handle it (share links such as `/t/{id}`).

use std::path::Path;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use tower_http::services::{ServeDir, ServeFile};

use crate::state::AppState;

/// Routes every path the router does not know to the app's files.
pub fn fallback(router: Router<AppState>, static_dir: &Path) -> Router<AppState> {
    let index = static_dir.join("index.html");
    if index.is_file() {
        let files = ServeDir::new(static_dir)
            .precompressed_br()
            .precompressed_gzip()
            .fallback(ServeFile::new(index));
        router.fallback_service(files)
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
