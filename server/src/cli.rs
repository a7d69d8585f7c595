//! The `ekphrasis` command tree, assembled from the subcommands' own flags (in
//! [`commands`](crate::commands) and [`bench`](crate::bench)). Every `serve` flag can also come
//! from an environment variable (`EKPHRASIS_ADDR`, …) or from the TOML file given by `--config`.

use clap::{Parser, Subcommand};

use crate::bench::BenchCommand;
use crate::commands::caption::CaptionArgs;
use crate::commands::compose::ComposeArgs;
use crate::commands::dataset::DatasetCommand;
use crate::commands::describe::DescribeArgs;
use crate::commands::emotion::EmotionArgs;
use crate::commands::encode::EncodeArgs;
use crate::commands::enhance::EnhanceArgs;
use crate::commands::eval::EvalArgs;
use crate::commands::experiment::ExperimentArgs;
use crate::commands::gallery::GalleryCommand;
use crate::commands::generate::GenerateArgs;
use crate::commands::models::ModelsCommand;
use crate::commands::parity::ParityArgs;
use crate::commands::train::TrainCommand;
use crate::commands::worker::WorkerArgs;
use crate::config::ServeArgs;

/// Ekphrasis: music with the emotion of a painting.
#[derive(Debug, Parser)]
#[command(name = "ekphrasis", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app, the HTTP API and the WebSocket.
    Serve(ServeArgs),
    /// Run jobs for a cluster's web nodes: models from `serve`'s flags, jobs from --broker.
    Worker(WorkerArgs),
    /// Compose music from text with MusicGen.
    Compose(ComposeArgs),
    /// Write a musical description of a caption with Falcon-RW (or continue a raw prompt).
    Enhance(EnhanceArgs),
    /// Caption an image with BLIP, optionally continuing a prompt.
    Caption(CaptionArgs),
    /// Label a painting's emotion (happy, angry, sad, fun, neutral).
    Emotion(EmotionArgs),
    /// Encode music into EnCodec codes with a MusicGen checkpoint's audio encoder.
    Encode(EncodeArgs),
    /// The painting–music data set for fine-tuning MusicGen.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Train a model (the emotion labeller's head, or MusicGen fine-tuned).
    #[command(subcommand)]
    Train(TrainCommand),
    /// Measure speed and memory (prints figures).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// A painting's emotion, caption and musical description.
    Describe(DescribeArgs),
    /// Music from a painting: all four stages, in one of the paper's variants.
    Generate(GenerateArgs),
    /// Measure music as the paper did: FAD, KL, Inception Score, CLAP and THD.
    Eval(EvalArgs),
    /// The paper's experiment: each variant's music for the test split, Table II and Fig. 3.
    Experiment(ExperimentArgs),
    /// Download the default models, or write tiny ones for offline demos.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// The gallery: pre-render a track for every painting.
    #[command(subcommand)]
    Gallery(GalleryCommand),
    /// Check each model on its tiny fixture against transformers/PyTorch's outputs, on a device
    /// and dtype (f32 or bf16), with stated tolerances.
    Parity(ParityArgs),
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::ServeConfig;

    fn parse(args: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(["ekphrasis", "serve"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ekphrasis.toml");
        std::fs::write(&file, "data = \"/from/file\"\nmax_pixels = 123\n").unwrap();
        let config = parse(&["--config", file.to_str().unwrap(), "--max-pixels", "7"])
            .resolve()
            .unwrap();
        assert_eq!(config.data, PathBuf::from("/from/file"));
        assert_eq!(config.max_pixels, 7);
        assert_eq!(
            config.max_upload_bytes,
            ServeConfig::DEFAULT_MAX_UPLOAD_BYTES
        );
    }

    #[test]
    fn variant_musicgens_come_from_flags_or_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ekphrasis.toml");
        std::fs::write(&file, "variant_musicgen = [\"lyrical=/tuned/l\"]\n").unwrap();
        let config = parse(&["--config", file.to_str().unwrap()])
            .resolve()
            .unwrap();
        assert_eq!(
            config.variant_musicgen,
            [(
                ekphrasis_shared::domain::Variant::Lyrical,
                PathBuf::from("/tuned/l")
            )]
        );
        let config = parse(&[
            "--config",
            file.to_str().unwrap(),
            "--variant-musicgen",
            "emotive=/tuned/e",
            "--optimized-musicgen",
            "/tuned/o",
        ])
        .resolve()
        .unwrap();
        let variants: Vec<_> = config
            .variant_musicgen
            .iter()
            .map(|(v, _)| v.as_str())
            .collect();
        assert_eq!(
            variants,
            ["emotive", "optimized"],
            "flags win over the file"
        );
    }

    #[test]
    fn served_variants_come_from_flags_or_the_file_and_unknown_names_are_refused() {
        use ekphrasis_shared::domain::Variant;

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ekphrasis.toml");
        std::fs::write(&file, "variants = [\"emotive\"]\n").unwrap();
        let from_file = parse(&["--config", file.to_str().unwrap()])
            .resolve()
            .unwrap();
        assert_eq!(from_file.variants, [Variant::Emotive]);
        let cli = Cli::try_parse_from([
            "ekphrasis",
            "worker",
            "--config",
            file.to_str().unwrap(),
            "--variants",
            "lyrical,optimized",
        ])
        .unwrap();
        let Command::Worker(worker) = cli.command else {
            panic!("not worker");
        };
        assert_eq!(
            worker.serve.resolve().unwrap().variants,
            [Variant::Lyrical, Variant::Optimized],
            "the flag wins over the file"
        );
        assert!(parse(&[]).resolve().unwrap().variants.is_empty(), "all");

        let err = Cli::try_parse_from(["ekphrasis", "worker", "--variants", "lyrical,baroque"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("baroque") && err.contains("optimized"),
            "{err}"
        );
        std::fs::write(&file, "variants = []\n").unwrap();
        let err = parse(&["--config", file.to_str().unwrap()])
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains("variants"), "{err}");
    }

    #[test]
    fn a_broken_config_file_is_named() {
        let err = parse(&["--config", "/no/such/file.toml"])
            .resolve()
            .unwrap_err();
        assert!(err.to_string().contains("/no/such/file.toml"), "{err}");
    }
}
