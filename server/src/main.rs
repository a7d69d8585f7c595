//! The `ekphrasis` binary: parses the command line, runs it, and on failure prints one readable
//! line and exits non-zero.

use clap::Parser;
use ekphrasis_server::bench;
use ekphrasis_server::cli::{Cli, Command};
use ekphrasis_server::commands::{
    caption, compose, dataset, describe, emotion, encode, enhance, eval, experiment, gallery,
    generate, models, parity, serve, train, worker,
};
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
        Command::Serve(args) => serve::run(args),
        Command::Worker(args) => worker::run(args),
        Command::Compose(args) => compose::run(args),
        Command::Enhance(args) => enhance::run(args),
        Command::Caption(args) => caption::run(args),
        Command::Emotion(args) => emotion::run(args),
        Command::Encode(args) => encode::run(args),
        Command::Train(command) => train::run(command),
        Command::Dataset(command) => dataset::run(command),
        Command::Bench(command) => bench::run(command),
        Command::Describe(args) => describe::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Experiment(args) => experiment::run(args),
        Command::Models(command) => models::run(command),
        Command::Gallery(command) => gallery::run(command),
        Command::Parity(args) => parity::run(args),
    }
}
