//! MusicGen (Copet et al., "Simple and Controllable Music Generation", 2023) as published in
//! `facebook/musicgen-small`: a T5 text encoder, a projection, a decoder over four delayed
//! EnCodec codebooks, and the EnCodec 32 kHz decoder. Loads the Hugging Face checkpoint layout
//! unchanged (`config.json`, `model.safetensors` or `pytorch_model.bin`, `tokenizer.json`);
//! follows transformers' `MusicgenForConditionalGeneration` and its `generate`.

pub mod audiocraft;
pub mod config;
pub mod decoder;
pub mod delay;
pub mod finetune;
mod generate;
pub mod sampling;

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use candle_transformers::models::t5::T5EncoderModel;
use tokenizers::Tokenizer;

pub use config::Config;
pub use decoder::{Decoder, Quantization};
pub use delay::DelayPattern;
pub use generate::{GenerateOptions, MAX_SECONDS, Window, guide};
pub use sampling::{Sampler, Sampling};

use crate::checkpoint::CheckpointDir;
use crate::encodec;
use crate::error::{Error, Result};
use crate::random_weights::RandomWeights;

/// MusicGen's T5 text encoder on its own: a text's states, as the decoder's cross-attention reads
/// them before `enc_to_dec_proj`.
pub struct TextEncoder {
    tokenizer: Tokenizer,
    model: T5EncoderModel,
    device: Device,
}

impl TextEncoder {
    /// The states `(tokens, d_model)` of `text` (its tokens end with `</s>`), in f32.
    pub fn states(&mut self, text: &str) -> Result<Tensor> {
        if text.trim().is_empty() {
            return Err(Error::Input("the text is empty".into()));
        }
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Input(format!("the text could not be tokenised: {e}")))?;
        let ids = Tensor::new(encoding.get_ids(), &self.device)?.unsqueeze(0)?;
        Ok(self.model.forward(&ids)?.squeeze(0)?.to_dtype(DType::F32)?)
    }
}

/// A loaded MusicGen.
pub struct MusicGen {
    config: Config,
    tokenizer: Option<Tokenizer>,
    text_encoder: T5EncoderModel,
    enc_to_dec_proj: Option<Linear>,
    pub(crate) decoder: Decoder,
    audio: Arc<encodec::Decoder>,
    pub(crate) device: Device,
}

impl MusicGen {
    /// Loads a checkpoint directory onto `device`, computing in `dtype`.
    pub fn load(dir: impl AsRef<Path>, device: &Device, dtype: DType) -> Result<Self> {
        let ckpt = CheckpointDir::open(dir.as_ref())?;
        let config: Config = ckpt.read_config("config.json", Config::validate)?;
        let tokenizer = ckpt.tokenizer("the T5 tokenizer")?;
        ckpt.build(dtype, device, |vb| {
            Self::new(config, Some(tokenizer), vb, device)
        })
    }

    /// The same model with `tokenizer` (a model built from random weights has none).
    pub fn with_tokenizer(mut self, tokenizer: Tokenizer) -> Self {
        self.tokenizer = Some(tokenizer);
        self
    }

    /// Only the EnCodec encoder of a checkpoint directory (its `audio_encoder.*` weights), for
    /// reading music: the T5 encoder and the decoder are not loaded.
    pub fn load_audio_encoder(
        dir: impl AsRef<Path>,
        device: &Device,
        dtype: DType,
    ) -> Result<encodec::Encoder> {
        let ckpt = CheckpointDir::open(dir.as_ref())?;
        let config: Config = ckpt.read_config("config.json", Config::validate)?;
        ckpt.build(dtype, device, |vb| {
            encodec::Encoder::new(&config.audio_encoder, vb.pp("audio_encoder"))
        })
    }

    /// Only the T5 text encoder of a checkpoint directory (`text_encoder.*` and the tokenizer),
    /// for fine-tuning's precomputed text states.
    pub fn load_text_encoder(
        dir: impl AsRef<Path>,
        device: &Device,
        dtype: DType,
    ) -> Result<TextEncoder> {
        let ckpt = CheckpointDir::open(dir.as_ref())?;
        let config: Config = ckpt.read_config("config.json", Config::validate)?;
        let tokenizer = ckpt.tokenizer("the T5 tokenizer")?;
        let t5 = config
            .text_encoder
            .to_t5()
            .map_err(|u| Error::Input(u.to_string()))?;
        let model = ckpt.build(dtype, device, |vb| {
            T5EncoderModel::load(vb.pp("text_encoder"), &t5)
        })?;
        Ok(TextEncoder {
            tokenizer,
            model,
            device: device.clone(),
        })
    }

    /// A full-size model with seeded random weights, built from a config alone (benchmarks).
    /// It has no tokenizer: use [`MusicGen::generate_from_tokens`].
    pub fn random(config: Config, seed: u64, device: &Device, dtype: DType) -> Result<Self> {
        let vb = RandomWeights::new(seed).var_builder(dtype, device);
        Ok(Self::new(config, None, vb, device)?)
    }

    /// Builds the model from weights (checkpoint keys at the top level of `vb`).
    pub fn new(
        config: Config,
        tokenizer: Option<Tokenizer>,
        vb: VarBuilder,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let t5 = config
            .text_encoder
            .to_t5()
            .map_err(|u| candle_core::Error::Msg(u.to_string()))?;
        let text_encoder = T5EncoderModel::load(vb.pp("text_encoder"), &t5)?;
        let (d_text, d_dec) = (config.text_encoder.d_model, config.decoder.hidden_size);
        let enc_to_dec_proj = if vb.contains_tensor("enc_to_dec_proj.weight") {
            Some(candle_nn::linear(d_text, d_dec, vb.pp("enc_to_dec_proj"))?)
        } else if d_text == d_dec {
            None
        } else {
            candle_core::bail!("enc_to_dec_proj.weight is missing");
        };
        let decoder = Decoder::new(&config.decoder, vb.pp("decoder"))?;
        let audio = Arc::new(encodec::Decoder::new(
            &config.audio_encoder,
            vb.pp("audio_encoder"),
        )?);
        Ok(Self {
            config,
            tokenizer,
            text_encoder,
            enc_to_dec_proj,
            decoder,
            audio,
            device: device.clone(),
        })
    }

    /// Stores the decoder's weight matrices quantized (the text encoder and EnCodec stay as
    /// they are); on the CPU this trades a little quality for much less memory traffic.
    pub fn quantize_decoder(&mut self, quantization: Quantization) -> Result<()> {
        Ok(self.decoder.quantize(quantization)?)
    }

    /// How the decoder's weight matrices are stored (`None`: as loaded).
    pub fn decoder_quantization(&self) -> Option<Quantization> {
        self.decoder.quantization()
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The EnCodec decoder that turns codes into audio (shared with streaming decoders).
    pub fn audio_decoder(&self) -> &Arc<encodec::Decoder> {
        &self.audio
    }

    /// The mono audio of `codes[k][f]`, decoded whole.
    pub fn decode(&self, codes: &[Vec<u32>]) -> Result<Vec<f32>> {
        let codebooks = codes.len();
        let frames = codes.first().map_or(0, Vec::len);
        if codebooks != self.config.decoder.num_codebooks || codes.iter().any(|c| c.len() != frames)
        {
            return Err(Error::Input(format!(
                "codes: expected {} codebooks of equal length",
                self.config.decoder.num_codebooks
            )));
        }
        let flat: Vec<u32> = codes.concat();
        let codes = Tensor::from_vec(flat, (1, codebooks, frames), &self.device)?;
        let audio = self.audio.decode(&codes)?;
        Ok(audio.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?)
    }

    /// Audio samples per second.
    pub fn sample_rate(&self) -> u32 {
        self.config.audio_encoder.sampling_rate as u32
    }

    /// The most frames one window can hold (the decoder's position table bounds it).
    pub fn max_frames(&self) -> usize {
        let d = &self.config.decoder;
        d.max_position_embeddings - d.num_codebooks
    }

    /// Token ids of a prompt, with the closing `</s>`.
    pub fn tokenize(&self, prompt: &str) -> Result<Vec<u32>> {
        if prompt.trim().is_empty() {
            return Err(Error::Input("the text prompt is empty".into()));
        }
        let tokenizer = self
            .tokenizer
            .as_ref()
            .ok_or_else(|| Error::Input("this model has no tokenizer".into()))?;
        let encoding = tokenizer
            .encode(prompt, true)
            .map_err(|e| Error::Input(format!("the prompt could not be tokenised: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The T5 encoder's last hidden states for a prompt: (1, tokens, d_model).
    pub fn text_states(&mut self, prompt: &str) -> Result<Tensor> {
        let ids = self.tokenize(prompt)?;
        self.text_states_of(&ids)
    }

    fn text_states_of(&mut self, ids: &[u32]) -> Result<Tensor> {
        if ids.is_empty() {
            return Err(Error::Input("no text tokens".into()));
        }
        let ids = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        Ok(self.text_encoder.forward(&ids)?)
    }

    /// The decoder's memory for a prompt: the text states through `enc_to_dec_proj`.
    pub fn memory(&mut self, prompt: &str) -> Result<Tensor> {
        let ids = self.tokenize(prompt)?;
        self.memory_of(&ids)
    }

    pub(crate) fn memory_of(&mut self, ids: &[u32]) -> Result<Tensor> {
        let states = self.text_states_of(ids)?;
        Ok(match &self.enc_to_dec_proj {
            Some(proj) => proj.forward(&states)?,
            None => states,
        })
    }

    /// Logits for whole decoder inputs at once, conditional branch: `ids` (1, codebooks, t).
    pub fn logits(&mut self, prompt: &str, ids: &Tensor) -> Result<Tensor> {
        let memory = self.memory(prompt)?;
        self.logits_for_memory(&memory, ids)
    }

    /// Logits for whole decoder inputs at once over a given decoder memory (b, s, hidden).
    pub fn logits_for_memory(&mut self, memory: &Tensor, ids: &Tensor) -> Result<Tensor> {
        let cross = self.decoder.cross_kv(memory)?;
        self.decoder.clear_kv_cache();
        let logits = self.decoder.forward(ids, &cross);
        self.decoder.clear_kv_cache();
        Ok(logits?)
    }
}
