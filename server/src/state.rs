//! What every request handler and WebSocket session shares, and how it is set up at start:
//! the store opened and migrated, the gallery stored, the models loaded and warm.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::cluster::broker::{Broker, BrokerOptions};
use crate::cluster::web::ClusterJobs;
use crate::config::{Role, ServeConfig};
use crate::gallery::{self, Gallery};
use crate::jobs::JobBackend;
use crate::jobs::setup::start_jobs;
use crate::metrics::Metrics;
use crate::store::{self, Store};

/// Shared, cheaply cloned server state.
#[derive(Clone)]
pub struct AppState {
    /// The checked settings the server started with.
    pub config: Arc<ServeConfig>,
    /// Images and tracks.
    pub store: Store,
    pub gallery: Arc<Gallery>,
    /// The model runtime: this process's workers, or a cluster's behind its broker.
    pub jobs: Arc<dyn JobBackend>,
    /// A web node's cluster (`--role web`), for health answers.
    pub cluster: Option<ClusterJobs>,
    pub metrics: Metrics,
    /// The web app's `index.html`, for share pages (`None` when the app is not built).
    pub index_html: Option<Arc<str>>,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// Uploads being decoded at once, at most [`crate::upload::DECODES_AT_ONCE`]: each may use
    /// up to [`crate::upload::decode_budget`] bytes.
    pub decodes: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Opens the store, stores the gallery, and loads and warms the models (or, for a web
    /// node, connects to the cluster's broker and database).
    pub async fn open(config: ServeConfig) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let shutdown = CancellationToken::new();
        let (store, gallery, jobs, cluster): (_, _, Arc<dyn JobBackend>, _) = match config.role {
            Role::All => {
                let store = store::open(&config.data, config.store.as_deref())?;
                let gallery = Arc::new(open_gallery(&config, &store).await?);
                let (store2, gallery2, metrics2) =
                    (store.clone(), Arc::clone(&gallery), metrics.clone());
                let config2 = config.clone();
                let jobs = tokio::task::spawn_blocking(move || {
                    start_jobs(&config2, store2, gallery2, metrics2)
                })
                .await
                .context("loading the models")??;
                (store, gallery, Arc::new(jobs), None)
            }
            Role::Worker => anyhow::bail!("a worker serves no web app: run `ekphrasis worker`"),
            Role::Web => {
                let (database, files) = (
                    config.database.as_deref().unwrap_or_default(),
                    config.store.as_deref().unwrap_or_default(),
                );
                let store = store::open_shared(database, files).await?;
                let gallery = Arc::new(open_gallery(&config, &store).await?);
                let broker = Broker::connect(
                    config.broker.as_deref().unwrap_or_default(),
                    &format!("ekphrasis-web-{}", std::process::id()),
                    BrokerOptions {
                        queue_capacity: config.queue_capacity,
                        ack_wait: Duration::from_secs(config.ack_wait_secs),
                        max_deliver: BrokerOptions::MAX_DELIVER,
                        output_kept: BrokerOptions::OUTPUT_KEPT,
                    },
                )
                .await?;
                let jobs = ClusterJobs::start(
                    broker,
                    store.clone(),
                    Arc::clone(&gallery),
                    metrics.clone(),
                    shutdown.clone(),
                    Duration::from_secs(config.resume_grace_secs),
                    (config.unserved_wait_secs > 0)
                        .then(|| Duration::from_secs(config.unserved_wait_secs)),
                )
                .await;
                (store, gallery, Arc::new(jobs.clone()), Some(jobs))
            }
        };
        match store.tracks.sweep_orphans(ORPHAN_AGE).await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "deleted track files no track names"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "sweeping orphaned track files"),
        }
        let index = config.static_dir.join("index.html");
        let index_html = match std::fs::read_to_string(&index) {
            Ok(text) => Some(Arc::from(text)),
            Err(_) => {
                tracing::warn!(
                    dir = %config.static_dir.display(),
                    "the web app is not built there; `cargo xtask serve` builds it"
                );
                None
            }
        };
        Ok(Self {
            config: Arc::new(config),
            store,
            gallery,
            jobs,
            cluster,
            metrics,
            index_html,
            shutdown,
            decodes: Arc::new(tokio::sync::Semaphore::new(crate::upload::DECODES_AT_ONCE)),
        })
    }
}

/// How old a track file no row names must be before the start-up sweep deletes it (younger, it
/// may be a track another server is storing right now).
pub const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The gallery of `config`; none (with a warning) when its folder has no manifest.
pub async fn open_gallery(config: &ServeConfig, store: &Store) -> anyhow::Result<Gallery> {
    if !config.gallery.join(gallery::MANIFEST).is_file() {
        tracing::warn!(
            dir = %config.gallery.display(),
            "no {} there: the gallery is empty", gallery::MANIFEST
        );
        return Ok(Gallery::default());
    }
    Gallery::load(&config.gallery, &store.images, config.max_pixels).await
}
