//! The HTTP side: the router with the API, share pages, metrics, the WebSocket endpoint and the
//! web app's files.

mod error;
mod files;
mod gallery;
mod health;
mod images;
pub mod range;
pub mod share;
mod spa;
mod tracks;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

pub use error::AppError;

use crate::state::AppState;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health::health))
        .route("/images", post(images::upload))
        .route("/images/{id}", get(files::image))
        .route("/gallery", get(gallery::list))
        .route("/tracks/{id}", get(tracks::info))
        .route("/tracks/{id}/audio.wav", get(tracks::wav))
        .route("/tracks/{id}/audio.ogg", get(tracks::ogg))
        .fallback(|| async { AppError::not_found("no such API endpoint") });
    let routes = Router::new()
        .nest("/api", api)
        .route("/t/{id}", get(share::page))
        .route("/metrics", get(metrics))
        .route("/ws", get(crate::ws::upgrade));
    spa::fallback(routes, &state.config.static_dir)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /metrics`: Prometheus' text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
