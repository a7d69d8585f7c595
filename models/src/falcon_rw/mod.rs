//! Falcon-RW (Penedo et al., "The RefinedWeb Dataset for Falcon LLM", 2023) as published in
//! `tiiuae/falcon-rw-1b`, the paper's description writer: a GPT-style decoder with ALiBi
//! positions, run with a KV cache. Loads the Hugging Face checkpoint layout unchanged
//! (`config.json`, `generation_config.json`, `model.safetensors` or `pytorch_model.bin`,
//! `tokenizer.json`); follows transformers' `FalconForCausalLM` with `attn_implementation="sdpa"`
//! (REFERENCE-NOTES trap 1) and its `generate`.
//!
//! - [`config`]: `config.json` and `generation_config.json`, with the unsupported variants refused.
//! - [`model`]: the network and its cache; [`alibi`]: the position biases (one new position
//!   attends through [`crate::kernels::attention::single_query`]).
//! - [`sampling`] and `generate`: greedy or seeded sampling, batches, end-of-sequence ids.
//! - [`prompt`]: the paper's Table I prompt, output cleaning and the fallback description.

pub mod alibi;
pub mod config;
mod generate;
pub mod model;
pub mod prompt;
pub mod sampling;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use ekphrasis_shared::domain::Emotion;
use tokenizers::Tokenizer;

pub use config::{Config, GenerationConfig, TokenIds};
pub use generate::{GenerateOptions, MAX_NEW_TOKENS};
pub use model::Model;
pub use prompt::Description;
pub use sampling::{Sampling, SamplingParams};

use crate::checkpoint::CheckpointDir;
use crate::error::{Error, Result};
use crate::random_weights::RandomWeights;

/// The `model_type` values of Falcon checkpoints (transformers' name, and the names of the
/// original remote-code releases).
const MODEL_TYPES: [&str; 3] = ["falcon", "RefinedWebModel", "RefinedWeb"];

/// The tokenizer's end-of-text token, where the model itself ends a text.
const END_OF_TEXT: &str = "<|endoftext|>";

/// A loaded Falcon-RW with its tokenizer.
pub struct FalconRw {
    config: Config,
    tokenizer: Option<Arc<Tokenizer>>,
    model: Model,
    device: Device,
    eos_token_ids: Vec<u32>,
    sampling: SamplingParams,
    end_of_text: Option<u32>,
}

impl FalconRw {
    /// Loads a checkpoint directory onto `device`, computing in `dtype`.
    pub fn load(dir: impl AsRef<Path>, device: &Device, dtype: DType) -> Result<Self> {
        let ckpt = CheckpointDir::open(dir.as_ref())?;
        let config_path = ckpt.root().join("config.json");
        let value: serde_json::Value = ckpt.read_json("config.json")?;
        if let Some(kind) = value.get("model_type").and_then(|v| v.as_str())
            && !MODEL_TYPES.contains(&kind)
        {
            return Err(Error::Unsupported {
                path: config_path,
                field: "model_type",
                message: format!("`{kind}` is not a Falcon checkpoint"),
            });
        }
        let config: Config = serde_json::from_value(value).map_err(|source| Error::Config {
            path: config_path.clone(),
            source,
        })?;
        config.validate().map_err(|u| u.at(config_path))?;
        let generation = if ckpt.root().join("generation_config.json").is_file() {
            ckpt.read_json("generation_config.json")?
        } else {
            GenerationConfig::default()
        };
        let tokenizer = ckpt.tokenizer("the GPT-2 style BPE tokenizer")?;
        ckpt.build(dtype, device, |vb| {
            Self::new(config, &generation, Some(tokenizer), vb, device)
        })
    }

    /// Stores the decoder's weight matrices quantized (see [`Model::quantize`]).
    pub fn quantize(&mut self, quantization: crate::kernels::dense::Quantization) -> Result<()> {
        Ok(self.model.quantize(quantization)?)
    }

    /// How the weight matrices are stored (`None`: as loaded).
    pub fn quantization(&self) -> Option<crate::kernels::dense::Quantization> {
        self.model.quantization()
    }

    /// The same model with `tokenizer` (a model built from random weights has none).
    pub fn with_tokenizer(mut self, tokenizer: Tokenizer) -> Self {
        self.tokenizer = Some(Arc::new(tokenizer));
        self
    }

    /// A full-size model with seeded random weights, built from a config alone (benchmarks).
    /// It has no tokenizer: use [`FalconRw::generate`] with token ids.
    pub fn random(config: Config, seed: u64, device: &Device, dtype: DType) -> Result<Self> {
        config.validate().map_err(|u| u.at("(built-in config)"))?;
        let vb = RandomWeights::new(seed).var_builder(dtype, device);
        Ok(Self::new(
            config,
            &GenerationConfig::default(),
            None,
            vb,
            device,
        )?)
    }

    /// Builds the model from weights (checkpoint keys at the top level of `vb`).
    pub fn new(
        config: Config,
        generation: &GenerationConfig,
        tokenizer: Option<Tokenizer>,
        vb: VarBuilder,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let model = Model::new(&config, vb)?;
        let eos_token_ids = generation
            .eos_token_id
            .as_ref()
            .or(config.eos_token_id.as_ref())
            .map(TokenIds::to_vec)
            .unwrap_or_default();
        let defaults = SamplingParams::DEFAULT;
        let sampling = SamplingParams {
            temperature: generation.temperature.unwrap_or(defaults.temperature),
            top_k: generation.top_k.unwrap_or(defaults.top_k),
            top_p: generation.top_p.unwrap_or(defaults.top_p),
        };
        let end_of_text = tokenizer.as_ref().and_then(|t| t.token_to_id(END_OF_TEXT));
        Ok(Self {
            config,
            tokenizer: tokenizer.map(Arc::new),
            model,
            device: device.clone(),
            eos_token_ids,
            sampling,
            end_of_text,
        })
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The network, for direct forward passes (tests, benchmarks).
    pub fn model_mut(&mut self) -> &mut Model {
        &mut self.model
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The ids generation ends at by default: `generation_config.json`'s `eos_token_id`, else
    /// `config.json`'s, as transformers' `generate` reads them (2 for falcon-rw-1b).
    pub fn eos_token_ids(&self) -> &[u32] {
        &self.eos_token_ids
    }

    /// The tokenizer's `<|endoftext|>` id (50256), if it has one.
    pub fn end_of_text_id(&self) -> Option<u32> {
        self.end_of_text
    }

    /// Sampling settings: the checkpoint's generation_config.json where it gives them, else
    /// [`SamplingParams::DEFAULT`].
    pub fn default_sampling(&self) -> SamplingParams {
        self.sampling
    }

    fn tokenizer(&self) -> Result<&Tokenizer> {
        self.tokenizer.as_deref().ok_or_else(no_tokenizer)
    }

    /// Token ids of a text, as transformers' tokenizer gives them (no begin-of-sequence id).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        if text.trim().is_empty() {
            return Err(Error::Input("the prompt is empty".into()));
        }
        let encoding = self
            .tokenizer()?
            .encode(text, true)
            .map_err(|e| Error::Input(format!("the prompt could not be tokenised: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of token ids, special tokens skipped (transformers' `skip_special_tokens=True`;
    /// ids past the tokenizer's vocabulary are skipped too).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer()?
            .decode(ids, true)
            .map_err(|e| Error::Input(format!("the ids could not be decoded: {e}")))
    }

    /// The paper's musical description of a caption (see [`prompt`]): the Table I prompt,
    /// generation that ends at the checkpoint's end-of-sequence ids, at `<|endoftext|>`, or once
    /// two complete lines are written, then cleaning; unusable output is replaced by
    /// [`prompt::fallback_description`] and `fallback` says so.
    pub fn describe(
        &mut self,
        caption: &str,
        emotion: Emotion,
        options: &GenerateOptions,
        cancel: &AtomicBool,
    ) -> Result<Description> {
        let prompt = prompt::paper_prompt(caption)?;
        let ids = self.tokenize(&prompt)?;
        let mut options = options.clone();
        let mut eos = self.eos_token_ids_for(&options);
        if let Some(id) = self.end_of_text
            && !eos.contains(&id)
        {
            eos.push(id);
        }
        options.eos_token_ids = Some(eos);
        let tokenizer = Arc::clone(self.tokenizer.as_ref().ok_or_else(no_tokenizer)?);
        let token_ids = self.generate(&ids, &options, cancel, |new| {
            tokenizer
                .decode(new, true)
                .is_ok_and(|text| prompt::answer_is_complete(&text, caption))
        })?;
        let raw = self.decode(&token_ids)?;
        Ok(match prompt::clean_description(&raw, caption) {
            Some(text) => Description {
                text,
                token_ids,
                fallback: false,
            },
            None => Description {
                text: prompt::fallback_description(emotion, caption),
                token_ids,
                fallback: true,
            },
        })
    }
}

fn no_tokenizer() -> Error {
    Error::Input("this model has no tokenizer".into())
}
