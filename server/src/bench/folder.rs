//! The models a benchmark times from folders on disk instead of random full-size weights (a
//! downloaded checkpoint, or the tiny set of `ekphrasis models tiny` for a quick check): one
//! MusicGen checkpoint for `bench compose` and `bench train`, the chain's models for `bench
//! chain` as the server loads them. Every error names the folder.

use std::path::Path;

use anyhow::Context;
use candle_core::{DType, Device};
use ekphrasis_models::musicgen::finetune::{Freeze, TrainableMusicGen};
use ekphrasis_models::musicgen::{Config, MusicGen};
use ekphrasis_models::pipeline::Pipeline;
use ekphrasis_shared::domain::Variant;

use crate::checkpoints::model_set::{LoadOptions, ModelDirs};

/// A MusicGen checkpoint folder in the Hugging Face layout, computing in `dtype`.
pub fn musicgen(dir: &Path, device: &Device, dtype: DType) -> anyhow::Result<MusicGen> {
    require_folder(dir, "MusicGen checkpoint")?;
    MusicGen::load(dir, device, dtype)
        .with_context(|| format!("loading the MusicGen checkpoint {}", dir.display()))
}

/// A MusicGen checkpoint folder's config and its decoder with trainable weights (f32), as
/// `ekphrasis train musicgen` loads it.
pub fn trainable_musicgen(
    dir: &Path,
    freeze: Freeze,
    device: &Device,
) -> anyhow::Result<(Config, TrainableMusicGen)> {
    require_folder(dir, "MusicGen checkpoint")?;
    let context = || format!("loading the MusicGen checkpoint {}", dir.display());
    let config = ekphrasis_models::checkpoint::CheckpointDir::open(dir)
        .and_then(|ckpt| ckpt.read_config("config.json", Config::validate))
        .with_context(context)?;
    let model = TrainableMusicGen::load(dir, freeze, device).with_context(context)?;
    Ok((config, model))
}

/// The models `variants` run, from a folder as `ekphrasis models tiny` writes it (`emotion/` or
/// `clip/`, `blip/`, `falcon/`, `musicgen/`); the optimized variant's tuned MusicGen is a second
/// copy of the folder's `musicgen/`, as the full-size benchmark's is a second random one.
pub fn chain(dir: &Path, variants: &[Variant], options: &LoadOptions) -> anyhow::Result<Pipeline> {
    let mut dirs = ModelDirs::from_folder(dir)?;
    if variants.contains(&Variant::Optimized) {
        dirs.tuned = dirs
            .musicgen
            .clone()
            .map(|musicgen| (Variant::Optimized, musicgen))
            .into_iter()
            .collect();
    }
    dirs.needed_by(variants)
        .load(options)
        .with_context(|| format!("loading the models in {}", dir.display()))
}

fn require_folder(dir: &Path, what: &str) -> anyhow::Result<()> {
    if !dir.is_dir() {
        anyhow::bail!("the {what} folder {} does not exist", dir.display());
    }
    Ok(())
}
