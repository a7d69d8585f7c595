//! LAION CLAP (Wu, Chen et al., "Large-scale Contrastive Language-Audio Pretraining", 2023) as
//! transformers' `ClapModel` ports it, for the paper's CLAP score: the HTSAT audio tower
//! (unfused), the RoBERTa text tower, both projections and the feature extractor, loading a
//! Hugging Face checkpoint (`laion/clap-htsat-unfused`, `laion/larger_clap_music`) unchanged:
//! `config.json`, `model.safetensors`, `preprocessor_config.json`, `tokenizer.json`. Widths and
//! depths come from `config.json`.
//!
//! An embedding is what `ClapModel.get_audio_features` / `get_text_features` return in
//! transformers 5 as `pooler_output`: projected and L2-normalised.
//!
//! - [`config`]: the two configuration files.
//! - [`features`]: the mel front end (48 kHz in, `frames × 64` log-mel out).
//! - [`bicubic`]: PyTorch's bicubic resize, which the audio tower needs.
//! - [`htsat`]: the audio tower; [`text`]: the text tower.

pub mod bicubic;
pub mod config;
pub mod features;
pub mod htsat;
pub mod text;

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Activation, Linear, VarBuilder};
use tokenizers::{Tokenizer, TruncationParams};

use crate::checkpoint::CheckpointDir;
use crate::error::{Error, Result};

pub use config::{ClapAudioConfig, ClapConfig, ClapFeatureConfig, ClapTextConfig};
pub use features::FeatureExtractor;
use htsat::AudioEncoder;
use text::TextEncoder;

/// `F.normalize`'s floor under the norm.
const NORM_EPS: f64 = 1e-12;

/// A CLAP checkpoint loaded for embedding audio and text.
#[derive(Debug, Clone)]
pub struct Clap {
    config: ClapConfig,
    features: FeatureExtractor,
    tokenizer: Option<Tokenizer>,
    audio: AudioEncoder,
    audio_projection: Projection,
    text: TextEncoder,
    text_projection: Projection,
    device: Device,
}

impl Clap {
    /// Loads a CLAP checkpoint directory in the Hugging Face layout. Each error names the file
    /// (and field or weight) at fault.
    pub fn load(dir: &Path, device: &Device) -> Result<Clap> {
        let ckpt = CheckpointDir::open(dir)?;
        let config: ClapConfig = ckpt.read_config("config.json", ClapConfig::validate)?;
        let (feature_config, feature_file) = read_feature_config(&ckpt)?;
        let features = FeatureExtractor::new(feature_config)
            .map_err(|u| u.at(ckpt.root().join(feature_file)))?;
        let audio_config = &config.audio_config;
        if features.mel_bands() != audio_config.num_mel_bins {
            return Err(Error::Unsupported {
                path: ckpt.root().join(feature_file),
                field: "feature_size",
                message: format!(
                    "{} mel bands, but config.json's audio tower takes {}",
                    features.mel_bands(),
                    audio_config.num_mel_bins
                ),
            });
        }
        let tokenizer = ckpt.tokenizer("the CLAP (RoBERTa) tokenizer")?;
        let weights = ckpt.weight_files()?.first().to_owned();
        let vb = ckpt.var_builder(DType::F32, device)?;
        Self::new(config, features, Some(tokenizer), vb, device).map_err(|err| match err {
            Error::Candle(source) => Error::Weights {
                path: weights,
                source,
            },
            Error::Tokenizer { message, .. } => Error::Tokenizer {
                path: ckpt.root().join("tokenizer.json"),
                message,
            },
            other => other,
        })
    }

    /// Builds the model from any weight source (a checkpoint, or seeded random weights for
    /// benchmarks); without a tokenizer only audio can be embedded. The tokenizer is set to
    /// truncate to the positions the model has and not to pad.
    pub fn new(
        config: ClapConfig,
        features: FeatureExtractor,
        tokenizer: Option<Tokenizer>,
        vb: VarBuilder,
        device: &Device,
    ) -> Result<Clap> {
        config.validate().map_err(|u| u.at("config.json"))?;
        let text_config = &config.text_config;
        let max_tokens =
            text_config.max_position_embeddings - text_config.pad_token_id as usize - 1;
        let tokenizer = match tokenizer {
            Some(mut tokenizer) => {
                tokenizer
                    .with_truncation(Some(TruncationParams {
                        max_length: max_tokens,
                        ..Default::default()
                    }))
                    .map_err(|e| Error::Tokenizer {
                        path: "(tokenizer)".into(),
                        message: e.to_string(),
                    })?;
                tokenizer.with_padding(None);
                Some(tokenizer)
            }
            None => None,
        };
        let dim = config.projection_dim;
        let act = config.projection_hidden_act;
        let audio_config = &config.audio_config;
        let audio = AudioEncoder::new(audio_config, vb.pp("audio_model.audio_encoder"))?;
        let audio_projection = Projection::new(
            audio_config.hidden_size,
            dim,
            act,
            vb.pp("audio_projection"),
        )?;
        let text = TextEncoder::new(text_config, vb.pp("text_model"))?;
        let text_projection =
            Projection::new(text_config.hidden_size, dim, act, vb.pp("text_projection"))?;
        Ok(Clap {
            config,
            features,
            tokenizer,
            audio,
            audio_projection,
            text,
            text_projection,
            device: device.clone(),
        })
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &ClapConfig {
        &self.config
    }

    /// The feature extractor (`preprocessor_config.json`).
    pub fn feature_extractor(&self) -> &FeatureExtractor {
        &self.features
    }

    /// The rate the audio must be at (48000 for the published checkpoints).
    pub fn sampling_rate(&self) -> u32 {
        self.features.config().sampling_rate
    }

    /// The width of the embeddings (`projection_dim`).
    pub fn embedding_dim(&self) -> usize {
        self.config.projection_dim
    }

    /// The model input of one clip at [`Self::sampling_rate`]: `(1, 1, frames, mel bands)`.
    pub fn input_features(&self, samples: &[f32]) -> Result<Tensor> {
        let values = self.features.features(samples)?;
        let shape = (1, 1, self.features.frames(), self.features.mel_bands());
        Ok(Tensor::from_vec(values, shape, &self.device)?)
    }

    /// The audio embedding of one clip at [`Self::sampling_rate`] (mono samples in −1…1):
    /// projected and L2-normalised.
    pub fn audio_embedding(&self, samples_48k: &[f32]) -> Result<Vec<f32>> {
        let features = self.input_features(samples_48k)?;
        Ok(self
            .audio_embeddings_of_features(&features)?
            .squeeze(0)?
            .to_vec1()?)
    }

    /// The audio embeddings of several clips, computed as one batch.
    pub fn audio_embeddings(&self, clips: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        if clips.is_empty() {
            return Ok(Vec::new());
        }
        let features = clips
            .iter()
            .map(|clip| self.input_features(clip))
            .collect::<Result<Vec<_>>>()?;
        let batch = Tensor::cat(&features, 0)?;
        Ok(self.audio_embeddings_of_features(&batch)?.to_vec2()?)
    }

    /// Embeddings `(batch, projection_dim)` of input features `(batch, 1, frames, mels)`.
    pub fn audio_embeddings_of_features(&self, features: &Tensor) -> Result<Tensor> {
        let pooled = self.audio_pooled(features)?;
        normalize(&self.audio_projection.forward(&pooled)?)
    }

    /// The audio tower's pooled output `(batch, hidden_size)`, before the projection.
    pub fn audio_pooled(&self, features: &Tensor) -> Result<Tensor> {
        Ok(self.audio.forward(&features.to_device(&self.device)?)?)
    }

    /// The audio tower itself.
    pub fn audio_encoder(&self) -> &AudioEncoder {
        &self.audio
    }

    /// The token ids of a text as the processor makes them: `<s> … </s>`, cut to the positions
    /// the model has (512 for the published models).
    pub fn text_ids(&self, text: &str) -> Result<Vec<u32>> {
        let tokenizer = self
            .tokenizer
            .as_ref()
            .ok_or_else(|| Error::Input("this CLAP model was built without a tokenizer".into()))?;
        let encoding = tokenizer
            .encode(text, true)
            .map_err(|e| Error::Input(format!("cannot tokenise {text:?}: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text embedding of one text: projected and L2-normalised.
    pub fn text_embedding(&self, text: &str) -> Result<Vec<f32>> {
        let ids = self.text_ids(text)?;
        let ids = Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)?;
        let mask = ids.ones_like()?;
        let pooled = self.text.forward(&ids, &mask)?;
        let embedding = normalize(&self.text_projection.forward(&pooled)?)?;
        Ok(embedding.squeeze(0)?.to_vec1()?)
    }

    /// The text embeddings of several texts as one batch padded to the longest, with its
    /// attention mask (as `tokenizer(texts, padding=True)`).
    pub fn text_embeddings(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let all = texts
            .iter()
            .map(|t| self.text_ids(t))
            .collect::<Result<Vec<_>>>()?;
        let longest = all.iter().map(Vec::len).max().unwrap_or(0);
        let pad = self.config.text_config.pad_token_id;
        let mut ids = Vec::with_capacity(texts.len() * longest);
        let mut mask = Vec::with_capacity(texts.len() * longest);
        for row in &all {
            ids.extend(
                row.iter()
                    .copied()
                    .chain(std::iter::repeat_n(pad, longest - row.len())),
            );
            mask.extend(
                std::iter::repeat_n(1u32, row.len())
                    .chain(std::iter::repeat_n(0, longest - row.len())),
            );
        }
        let ids = Tensor::from_vec(ids, (texts.len(), longest), &self.device)?;
        let mask = Tensor::from_vec(mask, (texts.len(), longest), &self.device)?;
        let pooled = self.text.forward(&ids, &mask)?;
        Ok(normalize(&self.text_projection.forward(&pooled)?)?.to_vec2()?)
    }

    /// The text tower's pooled output `(1, hidden_size)` of one text, before the projection.
    pub fn text_pooled(&self, text: &str) -> Result<Tensor> {
        let ids = self.text_ids(text)?;
        let ids = Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)?;
        let mask = ids.ones_like()?;
        Ok(self.text.forward(&ids, &mask)?)
    }
}

/// `preprocessor_config.json`, or the `feature_extractor` entry of a transformers 5
/// `processor_config.json`; with the file's name for errors.
fn read_feature_config(ckpt: &CheckpointDir) -> Result<(ClapFeatureConfig, &'static str)> {
    const PREPROCESSOR: &str = "preprocessor_config.json";
    const PROCESSOR: &str = "processor_config.json";
    if ckpt.root().join(PREPROCESSOR).is_file() || !ckpt.root().join(PROCESSOR).is_file() {
        return Ok((ckpt.read_json(PREPROCESSOR)?, PREPROCESSOR));
    }
    #[derive(serde::Deserialize)]
    struct Nested {
        feature_extractor: ClapFeatureConfig,
    }
    let nested: Nested = ckpt.read_json(PROCESSOR)?;
    Ok((nested.feature_extractor, PROCESSOR))
}

/// `ClapProjectionLayer`: linear, activation, linear.
#[derive(Debug, Clone)]
struct Projection {
    linear1: Linear,
    activation: Activation,
    linear2: Linear,
}

impl Projection {
    fn new(
        input: usize,
        dim: usize,
        activation: Activation,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            linear1: candle_nn::linear(input, dim, vb.pp("linear1"))?,
            activation,
            linear2: candle_nn::linear(dim, dim, vb.pp("linear2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.linear2
            .forward(&self.linear1.forward(x)?.apply(&self.activation)?)
    }
}

/// `F.normalize(x, dim=-1)`: each row over `max(‖row‖, 1e-12)`.
fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(NORM_EPS, f64::MAX)?;
    Ok(x.broadcast_div(&norm)?)
}
