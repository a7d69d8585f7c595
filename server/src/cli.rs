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
use crate::gallery_cmd::GalleryCommand;
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
    /// The gallery: pre-render a track for every painting.
    #[command(subcommand)]
    Gallery(GalleryCommand),
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
    /// Where image and audio files go: a folder, or with the `s3` build feature an
    /// object-store URL such as s3://bucket/prefix [default: DATA/blobs].
    #[arg(long, env = "EKPHRASIS_STORE")]
    pub store: Option<String>,
    /// Gallery folder with gallery.toml [default: public/gallery].
    #[arg(long, env = "EKPHRASIS_GALLERY")]
    pub gallery: Option<PathBuf>,
    /// Run the tiny demo models (their music is noise) even when real models are present.
    #[arg(long, env = "EKPHRASIS_DEMO")]
    pub demo: bool,
    /// The fine-tuned MusicGen of the optimized variant (a checkpoint directory).
    #[arg(long, env = "EKPHRASIS_OPTIMIZED_MUSICGEN")]
    pub optimized_musicgen: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N [default: auto].
    #[arg(long, env = "EKPHRASIS_DEVICE")]
    pub device: Option<String>,
    /// Store Falcon-RW's and MusicGen's decoder weights quantized: q8_0 or q4k.
    #[arg(long, env = "EKPHRASIS_QUANTIZE")]
    pub quantize: Option<String>,
    /// Copies of the models, each running one job at a time [default: 1].
    #[arg(long, env = "EKPHRASIS_WORKERS")]
    pub workers: Option<usize>,
    /// Jobs that may wait for a worker [default: 32].
    #[arg(long, env = "EKPHRASIS_QUEUE_CAPACITY")]
    pub queue_capacity: Option<usize>,
    /// The longest a job may run, in seconds [default: 900].
    #[arg(long, env = "EKPHRASIS_JOB_TIMEOUT_SECS")]
    pub job_timeout_secs: Option<u64>,
    /// The address people reach this server at, for share-link previews
    /// [default: from each request's Host header].
    #[arg(long, env = "EKPHRASIS_PUBLIC_URL")]
    pub public_url: Option<String>,
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
            store: self.store.or(file.store),
            gallery: self.gallery.or(file.gallery).unwrap_or(defaults.gallery),
            demo: self.demo || file.demo.unwrap_or(false),
            optimized_musicgen: self.optimized_musicgen.or(file.optimized_musicgen),
            device: match self.device.or(file.device) {
                Some(text) => text
                    .parse()
                    .map_err(|e| ConfigError::Invalid(format!("device: {e}")))?,
                None => defaults.device,
            },
            quantize: self
                .quantize
                .or(file.quantize)
                .map(|text| text.parse().map_err(ConfigError::Invalid))
                .transpose()?,
            workers: self.workers.or(file.workers).unwrap_or(defaults.workers),
            queue_capacity: self
                .queue_capacity
                .or(file.queue_capacity)
                .unwrap_or(defaults.queue_capacity),
            job_timeout_secs: self
                .job_timeout_secs
                .or(file.job_timeout_secs)
                .unwrap_or(defaults.job_timeout_secs),
            public_url: self
                .public_url
                .or(file.public_url)
                .map(|url| url.trim_end_matches('/').to_owned()),
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
