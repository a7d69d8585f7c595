//! The `ekphrasis` command line. Every `serve` flag can also come from an environment variable
//! (`EKPHRASIS_ADDR`, …) or from the TOML file given by `--config`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::bench::BenchCommand;
use crate::caption_cmd::CaptionArgs;
use crate::chain_cmd::{DescribeArgs, GenerateArgs};
use crate::compose::ComposeArgs;
use crate::config::{ConfigError, ConfigFile, ServeConfig};
use crate::emotion_cmd::EmotionArgs;
use crate::enhance_cmd::EnhanceArgs;
use crate::models_cmd::ModelsCommand;
use crate::train_cmd::TrainCommand;

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
    /// Compose music from text with MusicGen.
    Compose(ComposeArgs),
    /// Write a musical description of a caption with Falcon-RW (or continue a raw prompt).
    Enhance(EnhanceArgs),
    /// Caption an image with BLIP, optionally continuing a prompt.
    Caption(CaptionArgs),
    /// Label a painting's emotion (happy, angry, sad, fun, neutral).
    Emotion(EmotionArgs),
    /// Train a model (the emotion labeller's head).
    #[command(subcommand)]
    Train(TrainCommand),
    /// Measure speed and memory (prints figures).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// A painting's emotion, caption and musical description.
    Describe(DescribeArgs),
    /// Music from a painting: all four stages, in one of the paper's variants.
    Generate(GenerateArgs),
    /// Download the default models, or write tiny ones for offline demos.
    #[command(subcommand)]
    Models(ModelsCommand),
}

/// Flags of `ekphrasis serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "EKPHRASIS_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Folder where everything the server keeps lives [default: data].
    #[arg(long, env = "EKPHRASIS_DATA")]
    pub data: Option<PathBuf>,
    /// Folder of model checkpoints.
    #[arg(long, env = "EKPHRASIS_MODELS")]
    pub models: Option<PathBuf>,
    /// Folder of the built web app [default: dist].
    #[arg(long, env = "EKPHRASIS_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Largest accepted upload in bytes [default: 20000000].
    #[arg(long, env = "EKPHRASIS_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<usize>,
    /// Largest accepted image in pixels [default: 50000000].
    #[arg(long, env = "EKPHRASIS_MAX_PIXELS")]
    pub max_pixels: Option<u64>,
    /// TOML file with any of the settings above (flags and environment win over it).
    #[arg(long, env = "EKPHRASIS_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ServeArgs {
    /// Merges flags, the optional file and defaults into checked settings.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        let defaults = ServeConfig::with_data("data");
        let config = ServeConfig {
            addr: self.addr.or(file.addr).unwrap_or(defaults.addr),
            data: self.data.or(file.data).unwrap_or(defaults.data),
            models: self.models.or(file.models),
            static_dir: self
                .static_dir
                .or(file.static_dir)
                .unwrap_or(defaults.static_dir),
            max_upload_bytes: self
                .max_upload_bytes
                .or(file.max_upload_bytes)
                .unwrap_or(defaults.max_upload_bytes),
            max_pixels: self
                .max_pixels
                .or(file.max_pixels)
                .unwrap_or(defaults.max_pixels),
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_broken_config_file_is_named() {
        let err = parse(&["--config", "/no/such/file.toml"])
            .resolve()
            .unwrap_err();
        assert!(err.to_string().contains("/no/such/file.toml"), "{err}");
    }
}
