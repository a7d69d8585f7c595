//! `GET /api/health`: whether the server serves, its version and whether models are loaded.

use axum::Json;
use axum::extract::State;
use ekphrasis_shared::PROTOCOL_VERSION;
use ekphrasis_shared::api::{ClusterHealth, Health, ModelsStatus};

use crate::SERVER_NAME;
use crate::cluster::roster::WorkerCard;
use crate::state::AppState;

pub async fn health(State(state): State<AppState>) -> Json<Health> {
    // A web node's variants and workers come from one reading of the roster, so they agree.
    let (info, cluster) = match &state.cluster {
        Some(cluster) => {
            let (info, cards) = cluster.roster().snapshot();
            (info, Some(cluster_health(&state, cluster, cards).await))
        }
        None => (state.jobs.info(), None),
    };
    let degraded = cluster
        .as_ref()
        .is_some_and(|c| c.services.values().any(|state| state != "ok"));
    let models = if cluster.is_some() && info.variants.is_empty() {
        ModelsStatus::Unavailable {
            reason: "no worker is running: start `ekphrasis worker`".into(),
        }
    } else {
        ModelsStatus::Ready {
            demo: info.demo,
            variants: info.variants,
            composers: info.composers,
        }
    };
    Json(Health {
        status: if degraded { "degraded" } else { "ok" }.into(),
        server: SERVER_NAME.into(),
        protocol: PROTOCOL_VERSION,
        models,
        public_url: state.config.public_url.clone(),
        cluster,
    })
}

/// The shared services as this web node reaches them, and the live workers.
async fn cluster_health(
    state: &AppState,
    cluster: &crate::cluster::web::ClusterJobs,
    cards: Vec<WorkerCard>,
) -> ClusterHealth {
    let text = |result: Result<(), String>| result.err().unwrap_or_else(|| "ok".into());
    let services = [
        ("broker", text(cluster.broker().health())),
        ("database", text(state.store.database_health().await)),
        ("store", text(state.store.store_health().await)),
    ]
    .into_iter()
    .map(|(name, state)| (name.to_owned(), state))
    .collect();
    ClusterHealth {
        services,
        workers: cards.into_iter().map(|c| c.name).collect(),
    }
}
