//! Which emotion labeller to run and loading it: a trained ResNet-BiGRU model directory, or
//! zero-shot CLIP from a directory or a hub id. The command line and the server choose by the
//! same rule ([`choose_source`]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use ekphrasis_models::emotion::Labeller;
use ekphrasis_models::emotion::clip_zero_shot::ClipZeroShot;
use ekphrasis_models::emotion::resnet_bigru::EmotionModel;

use super::{catalog, hub};

/// The CLIP checkpoint used when no emotion model is configured.
pub const DEFAULT_CLIP: &str = catalog::CLIP.hub_id;

/// Which labeller to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabellerSource {
    /// A trained emotion model directory.
    EmotionModel(PathBuf),
    /// A CLIP checkpoint directory or hub id.
    Clip(String),
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
