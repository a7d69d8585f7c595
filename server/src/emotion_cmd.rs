//! `ekphrasis emotion IMAGE`: the emotion labeller from the command line. The image goes through
//! the same checks as an upload (format sniffing, byte and pixel limits, EXIF orientation), then
//! the trained ResNet-BiGRU model labels it when one is given or configured, else zero-shot CLIP.
//! `--json` prints exactly `{"label", "probabilities", "labeller"}`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use ekphrasis_models::clip_zero_shot::ClipZeroShot;
use ekphrasis_models::device::DeviceChoice;
use ekphrasis_models::emotion::{Labeller, Reading};
use ekphrasis_models::image_prep::to_rgb;
use ekphrasis_models::resnet_bigru::EmotionModel;
use ekphrasis_shared::domain::{Emotion, EmotionProbabilities};
use image::RgbImage;
use serde::Serialize;

use crate::config::{ConfigFile, ServeConfig};
use crate::{catalog, hub, upload};

/// The CLIP checkpoint used when no emotion model is configured.
pub const DEFAULT_CLIP: &str = catalog::CLIP.hub_id;

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

/// The JSON line `--json` prints, in this field order.
#[derive(Debug, Serialize)]
pub struct ReadingJson {
    pub label: Emotion,
    pub probabilities: EmotionProbabilities,
    pub labeller: &'static str,
}

impl From<&Reading> for ReadingJson {
    fn from(reading: &Reading) -> Self {
        Self {
            label: reading.label,
            probabilities: reading.probabilities,
            labeller: reading.labeller_name(),
        }
    }
}

/// Which labeller to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabellerSource {
    /// A trained emotion model directory.
    EmotionModel(PathBuf),
    /// A CLIP checkpoint directory or hub id.
    Clip(String),
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
    let labeller = load(&source, &device)?;
    let reading = labeller.label(&image)?;
    if args.json {
        println!("{}", serde_json::to_string(&ReadingJson::from(&reading))?);
    } else {
        println!("{}", human_line(&reading));
    }
    Ok(())
}

/// "sad (0.41, resnet-bigru): happy 0.10, angry 0.20, …".
pub fn human_line(reading: &Reading) -> String {
    let all: Vec<String> = reading
        .probabilities
        .iter()
        .map(|(emotion, p)| format!("{emotion} {p:.3}"))
        .collect();
    format!(
        "{} ({:.3}, {}): {}",
        reading.label,
        reading.probabilities.get(reading.label),
        reading.labeller_name(),
        all.join(", ")
    )
}

/// The labeller the flags, the environment and the settings ask for, in that order; CLIP from
/// the hub when nothing is configured.
pub fn choose(args: &EmotionArgs) -> anyhow::Result<LabellerSource> {
    let models = match (&args.models, &args.config) {
        (Some(models), _) => Some(models.clone()),
        (None, Some(file)) => ConfigFile::read(file)?.models,
        (None, None) => None,
    };
    Ok(choose_source(
        args.emotion_model.as_deref(),
        args.clip.as_deref(),
        models.as_deref(),
    ))
}

/// The labeller to use: a trained model given as a flag, else CLIP given as a flag, else
/// `$EKPHRASIS_EMOTION_MODEL`, else `emotion/` or `clip/` in the model folder, else CLIP from the
/// hub.
pub fn choose_source(
    emotion_model: Option<&Path>,
    clip: Option<&str>,
    models: Option<&Path>,
) -> LabellerSource {
    if let Some(dir) = emotion_model {
        return LabellerSource::EmotionModel(dir.to_path_buf());
    }
    if let Some(clip) = clip {
        return LabellerSource::Clip(clip.to_string());
    }
    if let Some(dir) = std::env::var_os("EKPHRASIS_EMOTION_MODEL").filter(|d| !d.is_empty()) {
        return LabellerSource::EmotionModel(dir.into());
    }
    if let Some(models) = models {
        let emotion = models.join("emotion");
        if emotion.join("config.json").is_file() {
            return LabellerSource::EmotionModel(emotion);
        }
        let clip = models.join("clip");
        if clip.is_dir() {
            return LabellerSource::Clip(clip.display().to_string());
        }
    }
    LabellerSource::Clip(DEFAULT_CLIP.into())
}

/// Loads the chosen labeller.
pub fn load(source: &LabellerSource, device: &candle_core::Device) -> anyhow::Result<Labeller> {
    match source {
        LabellerSource::EmotionModel(dir) => Ok(Labeller::ResNetBiGru(Box::new(
            EmotionModel::load(dir, device)?,
        ))),
        LabellerSource::Clip(spec) => {
            let dir = hub::resolve(spec, &catalog::CLIP.files).with_context(|| {
                format!(
                    "zero-shot CLIP ({spec}) is unavailable: give a CLIP directory with --clip \
                     DIR, or a trained model with --emotion-model DIR (`ekphrasis train emotion`)"
                )
            })?;
            Ok(Labeller::ClipZeroShot(Box::new(ClipZeroShot::load(
                &dir, device,
            )?)))
        }
    }
}

/// Decodes image bytes with the upload checks into 8-bit RGB, or says why not.
pub fn decode_rgb(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, String> {
    upload::inspect(bytes, max_pixels)
        .map(|inspected| to_rgb(&inspected.image))
        .map_err(|e| e.to_string())
}
