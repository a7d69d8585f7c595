//! What every request handler and WebSocket session shares, and how it is set up at start:
//! the store opened and migrated, the gallery stored, the models loaded and warm.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::checkpoints::model_set::{LoadOptions, ModelDirs};
use crate::config::ServeConfig;
use crate::gallery::{self, Gallery};
use crate::jobs::{Jobs, RuntimeOptions};
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
    /// The model runtime.
    pub jobs: Jobs,
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
    /// Opens the store, stores the gallery, and loads and warms the models.
    pub async fn open(config: ServeConfig) -> anyhow::Result<Self> {
        let store = store::open(&config.data, config.store.as_deref())?;
        let gallery = Arc::new(open_gallery(&config, &store).await?);
        let metrics = Metrics::new();
        let jobs = {
            let (store, gallery, metrics) = (store.clone(), Arc::clone(&gallery), metrics.clone());
            let config = config.clone();
            tokio::task::spawn_blocking(move || start_jobs(&config, store, gallery, metrics))
                .await
                .context("loading the models")??
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
            metrics,
            index_html,
            shutdown: CancellationToken::new(),
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

/// Finds the models `config` asks for and starts the workers (blocking until they are warm).
pub fn start_jobs(
    config: &ServeConfig,
    store: Store,
    gallery: Arc<Gallery>,
    metrics: Metrics,
) -> anyhow::Result<Jobs> {
    let (dirs, demo) = ModelDirs::for_server(
        config.models.as_deref(),
        &config.variant_musicgen,
        config.clap.as_deref(),
        config.demo,
        &config.data,
    )?;
    tracing::info!(demo, models = ?dirs.revisions(), "loading the models");
    let options = runtime_options(config);
    Jobs::start(Arc::new(dirs), demo, &options, store, gallery, metrics)
}

/// How `config` asks the job runtime to run.
pub fn runtime_options(config: &ServeConfig) -> RuntimeOptions {
    RuntimeOptions {
        workers: config.workers,
        queue_capacity: config.queue_capacity,
        job_timeout: Duration::from_secs(config.job_timeout_secs),
        max_pixels: config.max_pixels,
        load: LoadOptions {
            device: config.device,
            quantize: config.quantize,
        },
    }
}
