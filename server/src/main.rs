//! The `ekphrasis` binary: parses the command line, runs it, and on failure prints one readable
//! line and exits non-zero.

use clap::Parser;
use ekphrasis_server::cli::{Cli, Command};
use ekphrasis_server::{SERVER_NAME, Server};
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = run(cli) {
        eprintln!("ekphrasis: {err:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Compose(args) => ekphrasis_server::compose::run(args),
        Command::Enhance(args) => ekphrasis_server::enhance_cmd::run(args),
        Command::Caption(args) => ekphrasis_server::caption_cmd::run(args),
        Command::Bench(command) => ekphrasis_server::bench::run(command),
        Command::Describe(args) => ekphrasis_server::chain_cmd::describe(args),
        Command::Generate(args) => ekphrasis_server::chain_cmd::generate(args),
        Command::Models(command) => ekphrasis_server::models_cmd::run(command),
        Command::Gallery(command) => ekphrasis_server::gallery_cmd::run(command),
        Command::Emotion(args) => ekphrasis_server::emotion_cmd::run(args),
        Command::Train(command) => ekphrasis_server::train_cmd::run(command),
        Command::Serve(args) => {
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
                server.run().await?;
                anyhow::Ok(())
            })
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
