//! The HTTP side: the router with the API, the WebSocket endpoint and the web app's files.

mod error;
mod health;
mod images;
mod spa;

use axum::Router;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

pub use error::AppError;

use crate::state::AppState;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health::health))
        .route("/images", post(images::upload))
        .fallback(|| async { AppError::not_found("no such API endpoint") });
    let routes = Router::new()
        .nest("/api", api)
        .route("/ws", get(crate::ws::upgrade));
    spa::fallback(routes, &state.config.static_dir)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
