//! The chain's models as `describe` and `generate` take them: the flags naming each role's
//! checkpoint, loading the roles a variant needs into a [`Pipeline`], and the request with the
//! paper's sampling settings.

use std::path::PathBuf;

use clap::Args;
use ekphrasis_models::device::DeviceChoice;
use ekphrasis_models::musicgen::{GenerateOptions, Sampling};
use ekphrasis_models::pipeline::{self, Pipeline, Request};
use ekphrasis_shared::domain::Variant;

use crate::chain_request;
use crate::checkpoints::catalog::{self, Checkpoint};
use crate::checkpoints::labeller;
use crate::checkpoints::model_set::{LoadOptions, ModelDirs};
use crate::checkpoints::quantize::QuantizeChoice;
use crate::config::ServeConfig;
use crate::config::flags::{parse_variant_dir, variant_musicgens};
use crate::upload;

/// Where the chain's models come from (each flag is a directory or a hub id).
#[derive(Debug, Args)]
pub struct ChainModels {
    /// Folder with one sub-folder a model: emotion/ (or clip/), blip/, falcon/, musicgen/.
    #[arg(long, env = "EKPHRASIS_MODELS")]
    pub models: Option<PathBuf>,
    /// A trained emotion model (what `ekphrasis train emotion` writes).
    #[arg(long, conflicts_with = "clip")]
    pub emotion_model: Option<PathBuf>,
    /// Zero-shot CLIP for the emotion instead.
    #[arg(long)]
    pub clip: Option<String>,
    /// BLIP captioning [default: MODELS/blip, else Salesforce/blip-image-captioning-large].
    #[arg(long, env = "EKPHRASIS_BLIP")]
    pub blip: Option<String>,
    /// Falcon-RW [default: MODELS/falcon, else tiiuae/falcon-rw-1b].
    #[arg(long, env = "EKPHRASIS_FALCON")]
    pub falcon: Option<String>,
    /// MusicGen [default: MODELS/musicgen, else facebook/musicgen-small].
    #[arg(long, env = "EKPHRASIS_MUSICGEN")]
    pub musicgen: Option<String>,
    /// The fine-tuned MusicGen of the optimized variant (none by default); the same as
    /// --variant-musicgen optimized=DIR.
    #[arg(long, env = "EKPHRASIS_OPTIMIZED_MUSICGEN")]
    pub optimized_musicgen: Option<PathBuf>,
    /// A fine-tuned MusicGen for one variant, as VARIANT=DIR (repeatable). A variant without one
    /// composes with the base MusicGen.
    #[arg(long, env = "EKPHRASIS_VARIANT_MUSICGEN", value_delimiter = ',', value_parser = parse_variant_dir)]
    pub variant_musicgen: Vec<(Variant, PathBuf)>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Largest accepted image in pixels (width × height).
    #[arg(long, default_value_t = ServeConfig::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Largest accepted image file in bytes.
    #[arg(long, default_value_t = upload::MAX_FILE_BYTES)]
    pub max_bytes: u64,
    /// Falcon-RW's and MusicGen's decoder weights: auto (on a CPU Falcon-RW in q8_0 and
    /// MusicGen's decoder in q4k, several times faster at a small cost in quality, as `ekphrasis
    /// bench enhance|compose --quantize` measure; on CUDA as loaded), none, q8_0 or q4k.
    #[arg(long, env = "EKPHRASIS_QUANTIZE", default_value = "auto")]
    pub quantize: QuantizeChoice,
}

/// The fine-tuned MusicGen `variant` composes with, if one is given.
pub fn tuned_musicgen(chain: &ChainModels, variant: Variant) -> anyhow::Result<Option<PathBuf>> {
    let all = variant_musicgens(
        chain.variant_musicgen.clone(),
        chain.optimized_musicgen.clone(),
    )?;
    Ok(all
        .into_iter()
        .find(|(v, _)| *v == variant)
        .map(|(_, dir)| dir))
}

/// The paper's settings for the command line: MusicGen's default sampling (top-k 250,
/// temperature 1, guidance 3).
pub fn request(variant: Variant, frames: usize, seed: u64) -> Request {
    let guidance = GenerateOptions::default().guidance;
    chain_request::build(variant, frames, Sampling::DEFAULT, guidance, seed, None)
}

/// Loads the models `variant` needs (MusicGen only when `compose`).
pub fn load(chain: &ChainModels, variant: Variant, compose: bool) -> anyhow::Result<Pipeline> {
    let models_dir = chain.models.as_deref();
    let locate = |checkpoint: &Checkpoint, flag: &Option<String>| {
        catalog::locate(checkpoint, flag.as_deref(), models_dir)
    };
    let (want_caption, want_description) = pipeline::needs(variant);
    let tuned = tuned_musicgen(chain, variant)?;
    let dirs = ModelDirs {
        labeller: labeller::choose_source(
            chain.emotion_model.as_deref(),
            chain.clip.as_deref(),
            models_dir,
        ),
        blip: want_caption
            .then(|| locate(&catalog::BLIP, &chain.blip))
            .transpose()?,
        falcon: want_description
            .then(|| locate(&catalog::FALCON, &chain.falcon))
            .transpose()?,
        musicgen: (compose && tuned.is_none() && variant != Variant::Optimized)
            .then(|| locate(&catalog::MUSICGEN, &chain.musicgen))
            .transpose()?,
        tuned: match (tuned, compose) {
            (Some(dir), true) => vec![(variant, dir)],
            _ => Vec::new(),
        },
        clap: None,
    };
    dirs.load(&LoadOptions {
        device: chain.device.parse::<DeviceChoice>()?,
        quantize: chain.quantize,
    })
}
