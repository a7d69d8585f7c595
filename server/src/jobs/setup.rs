//! Starting this process's job runtime from the serve settings: the models the settings name
//! (or the tiny demo set), as many copies as `--workers`, run as `--device` and `--quantize`
//! say, offering the variants `--variants` names (else every one they can run). Used by
//! `serve`, `worker`, `gallery render` and `bench server`.

use std::sync::Arc;
use std::time::Duration;

use super::{Jobs, RuntimeOptions};
use crate::checkpoints::model_set::{LoadOptions, ModelDirs};
use crate::checkpoints::source::{ModelSource, Serving};
use crate::config::ServeConfig;
use crate::gallery::Gallery;
use crate::metrics::Metrics;
use crate::store::Store;

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
    let models: Arc<dyn ModelSource> = if config.variants.is_empty() {
        Arc::new(dirs)
    } else {
        // Checked before any model loads: a variant the models cannot run stops the start.
        Arc::new(Serving::new(dirs, &config.variants)?)
    };
    let options = runtime_options(config);
    Jobs::start(models, demo, &options, store, gallery, metrics)
}

/// How `config` asks the job runtime to run.
pub fn runtime_options(config: &ServeConfig) -> RuntimeOptions {
    RuntimeOptions {
        workers: config.workers,
        queue_capacity: config.queue_capacity,
        job_timeout: Duration::from_secs(config.job_timeout_secs),
        max_pixels: config.max_pixels,
        resume_grace: Duration::from_secs(config.resume_grace_secs),
        load: LoadOptions {
            device: config.device,
            quantize: config.quantize,
        },
    }
}
