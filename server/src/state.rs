//! What every request handler and WebSocket session shares.

use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::ServeConfig;
use crate::models;
use crate::store::ImageStore;

/// Shared, cheaply cloned server state.
#[derive(Clone)]
pub struct AppState {
    /// The checked settings the server started with.
    pub config: Arc<ServeConfig>,
    /// Uploaded images.
    pub images: ImageStore,
    /// Why the model chain cannot run on this server.
    pub models_unavailable: Arc<str>,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Opens the data folder and inspects the models.
    pub fn open(config: ServeConfig) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data)
            .with_context(|| format!("cannot create the data folder {}", config.data.display()))?;
        let images = ImageStore::open(&config.data)?;
        let models_unavailable = models::unavailable_reason(config.models.as_deref()).into();
        if !config.static_dir.join("index.html").is_file() {
            tracing::warn!(
                dir = %config.static_dir.display(),
                "the web app is not built there; `cargo xtask serve` builds it"
            );
        }
        Ok(Self {
            config: Arc::new(config),
            images,
            models_unavailable,
            shutdown: CancellationToken::new(),
        })
    }
}
