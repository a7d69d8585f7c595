//! The HTTP side: the router with the API, share pages, metrics, the WebSocket endpoint and the
//! web app's files; every error is JSON `{code, message}` (405s and unreadable paths too), and
//! every response carries the security headers of [`security`].

mod error;
mod extract;
mod files;
mod gallery;
mod health;
mod images;
pub mod origin;
pub mod range;
pub mod security;
pub mod share;
mod spa;
mod tracks;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use ekphrasis_shared::ErrorCode;
use tower_http::timeout::RequestBodyTimeoutLayer;
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
        .fallback(no_such_endpoint)
        .method_not_allowed_fallback(method_not_allowed);
    let routes = Router::new()
        .nest("/api", api)
        // `/api` and `/api/` are the API's too, not the app's pages.
        .route("/api", any(no_such_endpoint))
        .route("/api/", any(no_such_endpoint))
        .route("/t/{id}", get(share::page))
        .route("/metrics", get(metrics))
        .route("/ws", get(crate::ws::upgrade))
        .method_not_allowed_fallback(method_not_allowed);
    let policy = HeaderValue::from_str(&security::content_security_policy(
        state.index_html.as_deref(),
    ))
    .expect("the policy is ASCII");
    // A body whose next piece takes longer than this fails (see `crate::serve`).
    let body_timeout = RequestBodyTimeoutLayer::new(state.config.client_timeout());
    spa::fallback(routes, &state.config.static_dir)
        .layer(body_timeout)
        .layer(axum::middleware::map_response(move |response| {
            let policy = policy.clone();
            async move { security::add(response, &policy) }
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn no_such_endpoint() -> AppError {
    AppError::not_found("no such API endpoint")
}

/// 405 with the JSON body every other error has.
async fn method_not_allowed() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::BadRequest,
        "this address does not take that method",
    )
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
