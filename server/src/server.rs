//! Binding, running and stopping the server, apart from `main` so tests run it in-process.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ServeConfig;
use crate::state::AppState;

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

impl Server {
    /// Binds the configured address (so a taken port fails at once), then prepares the data
    /// folder and loads and warms the models. Nothing is accepted before [`Server::run`]:
    /// connections made meanwhile wait in the listener's backlog.
    pub async fn bind(config: ServeConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        Self::with_listener(listener, config).await
    }

    /// The same around an already bound listener (tests bind port 0).
    pub async fn with_listener(listener: TcpListener, config: ServeConfig) -> anyhow::Result<Self> {
        let state = AppState::open(config).await?;
        Ok(Self { listener, state })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Cancelling this token shuts the server down gracefully: open WebSockets are closed with
    /// "going away", in-flight HTTP requests finish, then [`Server::run`] returns.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    /// What the server shares (tests look at its metrics and store).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the shutdown token is cancelled, then lets the workers go.
    pub async fn run(self) {
        let shutdown = self.state.shutdown.clone();
        let jobs = self.state.jobs.clone();
        let metrics = self.state.metrics.clone();
        let limits = self.state.config.connection_limits().fitted();
        let app = crate::http::router(self.state);
        crate::serve::serve(self.listener, app, limits, metrics, shutdown).await;
        jobs.shutdown();
    }
}
