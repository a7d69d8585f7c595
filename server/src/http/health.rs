//! `GET /api/health`: whether the server serves, its version and whether models are loaded.

use axum::Json;
use axum::extract::State;
use ekphrasis_shared::PROTOCOL_VERSION;
use ekphrasis_shared::api::{Health, ModelsStatus};

use crate::SERVER_NAME;
use crate::state::AppState;

pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        server: SERVER_NAME.into(),
        protocol: PROTOCOL_VERSION,
        models: ModelsStatus::Ready {
            demo: state.jobs.info().demo,
            variants: state.jobs.info().variants.clone(),
            composers: state.jobs.info().composers.clone(),
        },
        public_url: state.config.public_url.clone(),
    })
}
