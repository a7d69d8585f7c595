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
    /// Prepares the data folder and binds the configured address.
    pub async fn bind(config: ServeConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        Self::with_listener(listener, config)
    }

    /// Prepares the data folder around an already bound listener (tests bind port 0).
    pub fn with_listener(listener: TcpListener, config: ServeConfig) -> anyhow::Result<Self> {
        let state = AppState::open(config)?;
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

    /// Serves until the shutdown token is cancelled.
    pub async fn run(self) -> std::io::Result<()> {
        let shutdown = self.state.shutdown.clone();
        let app = crate::http::router(self.state);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    }
}
