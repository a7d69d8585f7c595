//! `ekphrasis emotion IMAGE`: the emotion labeller from the command line. The image goes through
//! the same checks as an upload (format sniffing, byte and pixel limits, EXIF orientation), then
//! the trained ResNet-BiGRU model labels it when one is given or configured, else zero-shot CLIP.
//! `--json` prints exactly `{"label", "probabilities", "labeller"}`.

use std::path::PathBuf;

use clap::Args;
use ekphrasis_models::device::DeviceChoice;
use ekphrasis_models::image_prep::to_rgb;

use super::common::report::{ReadingJson, human_line};
use crate::checkpoints::labeller::{self, LabellerSource};
use crate::config::{ConfigFile, ServeConfig};
use crate::upload;

/// Flags of `ekphrasis emotion`.
#[derive(Debug, Args)]
pub struct EmotionArgs {
    /// The painting (JPEG, PNG or WebP).
    pub image: PathBuf,
    /// A trained emotion model directory (what `ekphrasis train emotion` writes). Without this
    /// flag and --clip: $EKPHRASIS_EMOTION_MODEL, else `emotion/` in the model folder, else CLIP.
    #[arg(long, conflicts_with = "clip")]
    pub emotion_model: Option<PathBuf>,
    /// Label with zero-shot CLIP from this checkpoint directory or hub id
    /// (openai/clip-vit-base-patch32).
    #[arg(long)]
    pub clip: Option<String>,
    /// Print {"label", "probabilities", "labeller"} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Folder of model checkpoints (`emotion/`, `clip/`), as for `serve`.
    #[arg(long, env = "EKPHRASIS_MODELS")]
    pub models: Option<PathBuf>,
    /// TOML settings file, as for `serve` (its `models` key is used).
    #[arg(long, env = "EKPHRASIS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Largest accepted image file in bytes.
    #[arg(long, default_value_t = ServeConfig::DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_bytes: usize,
    /// Largest accepted image in pixels (width × height).
    #[arg(long, default_value_t = ServeConfig::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
}

/// Runs the command.
pub fn run(args: EmotionArgs) -> anyhow::Result<()> {
    let image = to_rgb(&upload::read_file(
        &args.image,
        args.max_bytes as u64,
        args.max_pixels,
    )?);
    let source = choose(&args)?;
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let labeller = labeller::load(&source, &device)?;
    let reading = labeller.label(&image)?;
    if args.json {
        println!("{}", serde_json::to_string(&ReadingJson::from(&reading))?);
    } else {
        println!("{}", human_line(&reading));
    }
    Ok(())
}

/// The labeller the flags, the environment and the settings ask for, in that order; CLIP from
/// the hub when nothing is configured.
fn choose(args: &EmotionArgs) -> anyhow::Result<LabellerSource> {
    let models = match (&args.models, &args.config) {
        (Some(models), _) => Some(models.clone()),
        (None, Some(file)) => ConfigFile::read(file)?.models,
        (None, None) => None,
    };
    Ok(labeller::choose_source(
        args.emotion_model.as_deref(),
        args.clip.as_deref(),
        models.as_deref(),
    ))
}
