//! `ekphrasis worker`: a cluster's model worker. It takes `serve`'s flags (the models, the
//! device, `--workers` slots, `--variants` it serves, `--broker`, `--database`, `--store`),
//! answers only `/api/health` and `/metrics` on `--addr`, and runs jobs from the broker until
//! SIGINT or SIGTERM, when running jobs go back to the broker for another worker.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::cluster::worker::Worker;
use crate::commands::common::signal::wait_for_signal;
use crate::config::ServeArgs;

/// Flags of `ekphrasis worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// This worker's name on the broker (letters, digits, `-` and `_`) [default: the host name
    /// and process id].
    #[arg(long, env = "EKPHRASIS_WORKER_NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Runs a worker until a signal asks it to stop.
pub fn run(mut args: WorkerArgs) -> anyhow::Result<()> {
    args.serve.role = Some("worker".into());
    let config = args.serve.resolve()?;
    let name = worker_name(args.name)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let stop = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
        tracing::info!(worker = %name, "starting: loading the models");
        let worker = Worker::start(&config, &name).await?;
        let addr = listener.local_addr()?;
        // A machine-readable line for scripts and tests that start workers.
        println!("worker {name} listening on http://{addr}");
        let http = {
            let (worker, stop) = (Arc::clone(&worker), stop.clone());
            tokio::spawn(async move {
                let app = router(worker);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await;
            })
        };
        {
            let stop = stop.clone();
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("stopping: running jobs go back to the broker");
                stop.cancel();
            });
        }
        let ran = worker.run(stop.clone()).await;
        stop.cancel();
        let _ = http.await;
        ran
    })
}

/// The worker's own name, or one from the host and process.
fn worker_name(given: Option<String>) -> anyhow::Result<String> {
    let name = given.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "worker".into());
        format!("{host}-{}", std::process::id())
    });
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.is_empty() || clean.len() > 64 {
        anyhow::bail!("--name must be 1 to 64 letters, digits, `-` or `_`, got `{name}`");
    }
    Ok(clean)
}

fn router(worker: Arc<Worker>) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(worker)
}

/// `GET /api/health`: 200 when the broker, database and store answer, else 503 naming which.
async fn health(State(worker): State<Arc<Worker>>) -> impl IntoResponse {
    let parts = worker.health().await;
    let ok = parts.iter().all(|(_, state)| state.is_ok());
    let services: serde_json::Map<String, serde_json::Value> = parts
        .into_iter()
        .map(|(part, state)| {
            let text = match state {
                Ok(()) => "ok".to_owned(),
                Err(e) => e,
            };
            (part.to_owned(), text.into())
        })
        .collect();
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "role": "worker",
        "name": worker.name(),
        "slots": worker.slots(),
        "variants": worker.variants(),
        "busy": worker.busy(),
        "services": services,
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn metrics(State(worker): State<Arc<Worker>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        worker.metrics().render(),
    )
}

#[cfg(test)]
mod tests {
    use super::worker_name;

    #[test]
    fn names_are_subject_tokens() {
        assert_eq!(worker_name(Some("gpu.1 a".into())).unwrap(), "gpu-1-a");
        assert!(worker_name(Some(String::new())).is_err());
        assert!(worker_name(None).unwrap().chars().all(|c| c != '.'));
    }
}
