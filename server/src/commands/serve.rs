//! `ekphrasis serve`: the web app, the HTTP API and the WebSocket, until SIGINT or SIGTERM. Its
//! flags are [`crate::config::ServeArgs`], shared with `gallery render` and `bench server`.

use crate::commands::common::signal::wait_for_signal;
use crate::config::ServeArgs;
use crate::{SERVER_NAME, Server};

/// Runs the server until a signal asks it to stop, then shuts it down gracefully.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        tracing::info!(server = SERVER_NAME, "starting: loading the models");
        let server = Server::bind(config).await?;
        tracing::info!(server = SERVER_NAME, addr = %server.local_addr(), "listening");
        // A machine-readable line for scripts and tests that start the server.
        println!("listening on http://{}", server.local_addr());
        let shutdown = server.shutdown_token();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            shutdown.cancel();
        });
        server.run().await;
        anyhow::Ok(())
    })
}
