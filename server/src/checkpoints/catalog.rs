//! The default checkpoint of every model role, the files each needs, and where a role's
//! directory comes from: a per-model flag (a directory or a hub id), else `MODELS/<role>/`,
//! else the default hub id through the Hugging Face cache (downloaded when the network allows).

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::hub::{self, Files};

/// One model of the chain, as the product names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The folder name under `--models DIR`, and the name in messages.
    pub role: &'static str,
    /// What it does, for progress lines.
    pub purpose: &'static str,
    /// The published checkpoint.
    pub hub_id: &'static str,
    /// The files the loader reads.
    pub files: Files<'static>,
    /// `model_type` in its `config.json`.
    pub model_type: &'static str,
    /// Tensors every genuine checkpoint of this kind holds (a cheap check that the weights are
    /// the right model's).
    pub sentinels: &'static [&'static str],
    /// Its licence, for the credits.
    pub licence: &'static str,
}

const WEIGHTS: &[&str] = &["model.safetensors", "pytorch_model.bin"];

/// The ResNet-50 backbone the emotion head is trained on.
pub const RESNET: Checkpoint = Checkpoint {
    role: "resnet",
    purpose: "image features for the emotion labeller (training)",
    hub_id: "microsoft/resnet-50",
    files: Files {
        required: &["config.json", "preprocessor_config.json"],
        weights: WEIGHTS,
    },
    model_type: "resnet",
    sentinels: &["resnet.embedder.embedder.convolution.weight"],
    licence: "Apache-2.0",
};

/// CLIP, the zero-shot emotion labeller used until a trained head is configured.
pub const CLIP: Checkpoint = Checkpoint {
    role: "clip",
    purpose: "zero-shot emotion",
    hub_id: "openai/clip-vit-base-patch32",
    files: Files {
        required: &["config.json", "tokenizer.json", "preprocessor_config.json"],
        weights: WEIGHTS,
    },
    model_type: "clip",
    sentinels: &[
        "vision_model.embeddings.patch_embedding.weight",
        "text_model.embeddings.token_embedding.weight",
    ],
    licence: "MIT",
};

/// BLIP-large, the emotion-conditioned caption.
pub const BLIP: Checkpoint = Checkpoint {
    role: "blip",
    purpose: "caption",
    hub_id: "Salesforce/blip-image-captioning-large",
    files: Files {
        required: &["config.json", "tokenizer.json", "preprocessor_config.json"],
        weights: WEIGHTS,
    },
    model_type: "blip",
    sentinels: &[
        "vision_model.embeddings.patch_embedding.weight",
        "text_decoder.bert.embeddings.word_embeddings.weight",
    ],
    licence: "BSD-3-Clause",
};

/// Falcon-RW-1B, the musical description.
pub const FALCON: Checkpoint = Checkpoint {
    role: "falcon",
    purpose: "musical description",
    hub_id: "tiiuae/falcon-rw-1b",
    files: Files {
        required: &["config.json", "tokenizer.json"],
        weights: WEIGHTS,
    },
    model_type: "falcon",
    sentinels: &["transformer.word_embeddings.weight"],
    licence: "Apache-2.0",
};

/// MusicGen-small, the music.
pub const MUSICGEN: Checkpoint = Checkpoint {
    role: "musicgen",
    purpose: "music",
    hub_id: "facebook/musicgen-small",
    files: Files {
        required: &["config.json", "tokenizer.json"],
        weights: WEIGHTS,
    },
    model_type: "musicgen",
    sentinels: &["decoder.lm_heads.0.weight", "text_encoder.shared.weight"],
    licence: "CC-BY-NC-4.0",
};

/// Every checkpoint `ekphrasis models fetch` downloads, in the chain's order.
pub const DEFAULTS: [Checkpoint; 5] = [RESNET, CLIP, BLIP, FALCON, MUSICGEN];

/// LAION CLAP (HTSAT audio tower, RoBERTa text tower), judging how well music matches words:
/// the paper's CLAP score and each track's alignment. `laion/larger_clap_music` loads the same way.
pub const CLAP: Checkpoint = Checkpoint {
    role: "clap",
    purpose: "how closely music matches words (CLAP)",
    hub_id: "laion/clap-htsat-unfused",
    files: Files {
        required: &["config.json", "preprocessor_config.json", "tokenizer.json"],
        weights: WEIGHTS,
    },
    model_type: "clap",
    sentinels: &[
        "audio_model.audio_encoder.patch_embed.proj.weight",
        "text_model.embeddings.word_embeddings.weight",
    ],
    licence: "Apache-2.0",
};

/// Hub checkpoints for evaluation only, fetched when asked for by name.
pub const EVALUATION: [Checkpoint; 1] = [CLAP];

/// The directory for `checkpoint`: `flag` (a directory or hub id) if given, else
/// `MODELS/<role>/` if it exists, else the default hub id (cache, then download).
pub fn locate(
    checkpoint: &Checkpoint,
    flag: Option<&str>,
    models: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    if let Some(spec) = flag {
        return hub::resolve(spec, &checkpoint.files)
            .with_context(|| format!("the {} model", checkpoint.role));
    }
    if let Some(dir) = models.map(|m| m.join(checkpoint.role))
        && dir.is_dir()
    {
        return Ok(dir);
    }
    hub::resolve(checkpoint.hub_id, &checkpoint.files).with_context(|| {
        format!(
            "the {} model ({}): run `ekphrasis models fetch` where the network allows, or give \
             --models DIR with a {}/ folder",
            checkpoint.role, checkpoint.hub_id, checkpoint.role
        )
    })
}

/// Checks that `dir` holds `checkpoint`'s kind of model: its config's `model_type`, a tokenizer
/// that loads, and weights whose index names the sentinel tensors.
pub fn verify(checkpoint: &Checkpoint, dir: &Path) -> anyhow::Result<()> {
    use ekphrasis_models::checkpoint::CheckpointDir;

    let ckpt = CheckpointDir::open(dir)?;
    let config: serde_json::Value = ckpt.read_json("config.json")?;
    let found = config
        .get("model_type")
        .and_then(|t| t.as_str())
        .unwrap_or("none");
    if found != checkpoint.model_type {
        anyhow::bail!(
            "{}: model_type is `{found}`, but the {} model must be `{}`",
            dir.join("config.json").display(),
            checkpoint.role,
            checkpoint.model_type
        );
    }
    if checkpoint.files.required.contains(&"tokenizer.json") {
        let path = ckpt.require("tokenizer.json", "tokenizer")?;
        tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    let vb = ckpt.var_builder(candle_core::DType::F32, &candle_core::Device::Cpu)?;
    for name in checkpoint.sentinels {
        if !vb.contains_tensor(name) {
            anyhow::bail!(
                "{}: the weights have no `{name}`; is this really {}?",
                dir.display(),
                checkpoint.hub_id
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_folder_under_models_wins_over_the_hub() {
        let models = tempfile::tempdir().unwrap();
        std::fs::create_dir(models.path().join("musicgen")).unwrap();
        let dir = locate(&MUSICGEN, None, Some(models.path())).unwrap();
        assert_eq!(dir, models.path().join("musicgen"));
    }

    #[test]
    fn a_flag_wins_over_the_models_folder() {
        let models = tempfile::tempdir().unwrap();
        std::fs::create_dir(models.path().join("musicgen")).unwrap();
        let other = tempfile::tempdir().unwrap();
        let flag = other.path().to_str().unwrap();
        assert_eq!(
            locate(&MUSICGEN, Some(flag), Some(models.path())).unwrap(),
            other.path()
        );
    }

    #[test]
    fn roles_are_distinct() {
        let mut roles: Vec<_> = DEFAULTS.iter().map(|c| c.role).collect();
        roles.sort();
        roles.dedup();
        assert_eq!(roles.len(), DEFAULTS.len());
    }
}
