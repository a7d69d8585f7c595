//! Accepting connections: HTTP/1.1 with upgrades (the WebSocket rides on one), at most
//! [`ConnectionLimits::max_connections`] open at once, a JSON 503 for the ones past that, and
//! deadlines for clients that go quiet.
//!
//! - [`limits`]: the settings, fitted below the process's file-descriptor limit.
//! - [`guarded`]: each accepted socket, counted while open and closed when its client stops
//!   reading what the server sends.
//! - [`refusal`]: the 503 that connections past the cap get.
//!
//! A client has [`ConnectionLimits::client_timeout`] to send a request's headers (hyper's header
//! timer, which also closes an idle keep-alive connection), to send each piece of a request
//! body (the router's body timeout) and to make room for each piece of a response.

pub mod guarded;
pub mod limits;
pub mod refusal;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use limits::ConnectionLimits;

use crate::metrics::Metrics;
use guarded::Guarded;
use refusal::Refusals;

/// How long to wait before accepting again when accepting failed (out of descriptors, say).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` is cancelled, then waits for the requests in
/// flight to finish (upgraded WebSockets close themselves on the same token).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Refusals::new(limits);
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.client_timeout)
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics.connection_refused();
            refusals.refuse(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = Guarded::new(
            stream,
            permit,
            metrics.connection_opened(),
            limits.client_timeout,
        );
        let service = TowerToHyperService::new(app.clone());
        let connection = http
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = shutdown.cancelled() => {
                    // Finishes the request in flight, if any, then closes.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}
