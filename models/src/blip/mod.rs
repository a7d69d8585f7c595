//! BLIP image captioning (Li et al., "BLIP: Bootstrapping Language-Image Pre-training for
//! Unified Vision-Language Understanding and Generation", 2022) as published in
//! `Salesforce/blip-image-captioning-large`: a ViT vision encoder and a BERT-style text decoder
//! that cross-attends to it. Loads the Hugging Face checkpoint layout unchanged (`config.json`,
//! `model.safetensors` or `pytorch_model.bin`, `tokenizer.json`, and `processor_config.json` or
//! `preprocessor_config.json`); follows transformers 5.24's `BlipForConditionalGeneration` and its
//! `generate`.
//!
//! # Conditional captioning, as transformers does it
//! - The prompt (the paper's emotion prefix, [`PROMPT_TEMPLATE`]) is tokenised BERT-style,
//!   `[CLS] words [SEP]`; `[CLS]` is replaced by the config's `bos_token_id` (`[DEC]`, 30522,
//!   which the tokenizer does not know) and the trailing `[SEP]` is dropped. Without a prompt the
//!   decoder starts from `[DEC]` alone.
//! - Generation stops at `sep_token_id` (`[SEP]`, 102), not at the config's `eos_token_id`.
//! - transformers runs the text decoder with the generation settings made from `text_config`,
//!   not with the checkpoint's `generation_config.json`: greedy, and 20 new tokens unless told
//!   otherwise (capped so that prompt and new tokens fit the decoder's positions). This module
//!   does the same and does not read `generation_config.json`.
//! - `generate` returns `[DEC]`, the prompt's ids and the new ids; `processor.decode(…,
//!   skip_special_tokens=True)` of that whole sequence is the caption's text, so the text starts
//!   with the prompt's words (lowercased by the tokenizer) and `[DEC]`/`[SEP]` are dropped.
//!
//! # Why not candle-transformers' `blip`
//! Its config structs do parse the published `config.json`, and its numerics follow the same
//! model, but it cannot load the published weights: its head requires
//! `text_decoder.cls.predictions.decoder.weight`, which the file does not store (tied to the word
//! embeddings). It also recomputes the cross-attention keys and values over the 577 image
//! positions at every step, and its cache cannot be reordered for beam search. So the model is
//! written here ([`vision`], [`text`]), in the same shape.

pub mod config;
pub mod generate;
pub mod text;
pub mod vision;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use ekphrasis_shared::domain::Emotion;
use image::DynamicImage;
use tokenizers::Tokenizer;

pub use config::Config;
pub use generate::{BeamSettings, CaptionOptions, DEFAULT_MAX_NEW_TOKENS, Decoding, MAX_BEAMS};
pub use text::{CrossKv, TextDecoder};
pub use vision::VisionModel;

use crate::checkpoint::CheckpointDir;
use crate::error::{Error, Result};
use crate::image_prep::{self, ImageProcessorConfig};
use crate::random_weights::RandomWeights;

/// The caption prompt that conditions BLIP on the emotion; `{emotion}` is the lowercase word.
pub const PROMPT_TEMPLATE: &str = "a {emotion} painting of";

/// The most characters a prompt may have (long before the decoder's positions run out, it would
/// be refused anyway; this keeps tokenising hostile input cheap).
pub const MAX_PROMPT_CHARS: usize = 2000;

/// The caption prompt for an emotion: "a happy painting of".
pub fn emotion_prompt(emotion: Emotion) -> String {
    PROMPT_TEMPLATE.replace("{emotion}", emotion.as_str())
}

/// A generated caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caption {
    /// transformers' `decode(sequence, skip_special_tokens=True)` of the whole sequence: the
    /// prompt's words, then the caption.
    pub text: String,
    /// The ids generated after the prompt, `[SEP]` included when it was generated.
    pub token_ids: Vec<u32>,
    /// What the decoder started from: `[DEC]` and the prompt's ids.
    pub prompt_ids: Vec<u32>,
}

/// A loaded BLIP captioning model.
pub struct Blip {
    config: Config,
    tokenizer: Option<Tokenizer>,
    processor: ImageProcessorConfig,
    vision: VisionModel,
    decoder: TextDecoder,
    device: Device,
}

/// The published checkpoint's image processor settings (384×384 bicubic, CLIP mean and std).
fn blip_large_processor() -> ImageProcessorConfig {
    ImageProcessorConfig::from_json(
        include_str!("../../presets/blip-large-preprocessor.json"),
        "presets/blip-large-preprocessor.json",
    )
    .expect("the compiled-in BLIP processor config parses")
}

impl Blip {
    /// Loads a checkpoint directory onto `device`, computing in `dtype`.
    pub fn load(dir: impl AsRef<Path>, device: &Device, dtype: DType) -> Result<Self> {
        let ckpt = CheckpointDir::open(dir.as_ref())?;
        let config: Config = ckpt.read_config("config.json", Config::validate)?;
        let processor = ImageProcessorConfig::load(&ckpt)?;
        check_processor(&config, &processor, &processor_path(&ckpt))?;
        let tokenizer = ckpt.tokenizer("the BERT tokenizer")?;
        ckpt.build(dtype, device, |vb| {
            Self::new(config, Some(tokenizer), processor, vb, device)
        })
    }

    /// The same model with `tokenizer` (a model built from random weights has none).
    pub fn with_tokenizer(mut self, tokenizer: Tokenizer) -> Self {
        self.tokenizer = Some(tokenizer);
        self
    }

    /// A full-size model with seeded random weights, built from a config alone (benchmarks),
    /// with the published image processor settings. It has no tokenizer: give prompt ids.
    pub fn random(config: Config, seed: u64, device: &Device, dtype: DType) -> Result<Self> {
        config.validate().map_err(|u| u.at("config"))?;
        let vb = RandomWeights::new(seed).var_builder(dtype, device);
        Ok(Self::new(config, None, blip_large_processor(), vb, device)?)
    }

    /// Builds the model from weights (checkpoint keys at the top level of `vb`).
    pub fn new(
        config: Config,
        tokenizer: Option<Tokenizer>,
        processor: ImageProcessorConfig,
        vb: VarBuilder,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let vision = VisionModel::new(&config, vb.pp("vision_model"))?;
        let decoder = TextDecoder::new(&config, vb.pp("text_decoder"))?;
        Ok(Self {
            config,
            tokenizer,
            processor,
            vision,
            decoder,
            device: device.clone(),
        })
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The image processor settings.
    pub fn processor(&self) -> &ImageProcessorConfig {
        &self.processor
    }

    /// The vision encoder.
    pub fn vision(&self) -> &VisionModel {
        &self.vision
    }

    /// The text decoder, for stepping it by hand.
    pub fn text_decoder(&mut self) -> &mut TextDecoder {
        &mut self.decoder
    }

    /// The pixel values of an image, as the checkpoint's processor makes them: (1, 3, H, W) f32.
    pub fn pixel_values(&self, image: &DynamicImage) -> Result<Tensor> {
        let rgb = image_prep::to_rgb(image);
        let pixels = image_prep::pixel_values(&rgb, &self.processor, &self.device)?;
        Ok(pixels.unsqueeze(0)?)
    }

    /// The vision encoder's last hidden state (1, positions, hidden) for pixel values
    /// (3, H, W) or (1, 3, H, W) of the configured image size.
    pub fn image_embeds(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let pixels = match pixel_values.rank() {
            3 => pixel_values.unsqueeze(0)?,
            4 if pixel_values.dim(0)? == 1 => pixel_values.clone(),
            _ => {
                return Err(Error::Input(format!(
                    "pixel values must be (3, H, W) or (1, 3, H, W), not {:?}",
                    pixel_values.dims()
                )));
            }
        };
        let (_, c, h, w) = pixels.dims4()?;
        let want = self.config.vision_config.image_size.hw();
        if c != 3 || (h, w) != want {
            return Err(Error::Input(format!(
                "pixel values are {c}x{h}x{w}; this model takes 3x{}x{}",
                want.0, want.1
            )));
        }
        Ok(self.vision.forward(&pixels.to_device(&self.device)?)?)
    }

    /// The ids the decoder starts from: `[DEC]`, then the prompt's tokens without `[CLS]` and
    /// `[SEP]` (see the module docs); `[DEC]` alone for `None`. A blank prompt, one without
    /// tokens, one over [`MAX_PROMPT_CHARS`] or one that fills the decoder's positions is refused.
    pub fn prompt_ids(&self, prompt: Option<&str>) -> Result<Vec<u32>> {
        let bos = self.config.bos_token_id();
        let Some(prompt) = prompt else {
            return Ok(vec![bos]);
        };
        if prompt.trim().is_empty() {
            return Err(Error::Input("the caption prompt is empty".into()));
        }
        let chars = prompt.chars().count();
        if chars > MAX_PROMPT_CHARS {
            return Err(Error::Input(format!(
                "the caption prompt has {chars} characters; at most {MAX_PROMPT_CHARS} are accepted"
            )));
        }
        let tokenizer = self
            .tokenizer
            .as_ref()
            .ok_or_else(|| Error::Input("this model has no tokenizer".into()))?;
        let encoding = tokenizer
            .encode(prompt, true)
            .map_err(|e| Error::Input(format!("the prompt could not be tokenised: {e}")))?;
        let mut ids = encoding.get_ids().to_vec();
        ids.pop();
        match ids.first_mut() {
            Some(first) => *first = bos,
            None => ids.push(bos),
        }
        if ids.len() < 2 {
            return Err(Error::Input("the caption prompt has no tokens".into()));
        }
        let max = self.config.text_config.max_position_embeddings;
        if ids.len() >= max {
            return Err(Error::Input(format!(
                "the caption prompt is {} tokens long; the decoder places at most {max} positions, \
                 new tokens included",
                ids.len()
            )));
        }
        Ok(ids)
    }

    /// How many new tokens to generate after `prompt_len` ids: `requested`, refused when it is 0
    /// or does not fit the decoder's positions; by default 20, fewer when they do not fit.
    pub fn max_new_tokens(&self, prompt_len: usize, requested: Option<usize>) -> Result<usize> {
        let max = self.config.text_config.max_position_embeddings;
        let room = max.saturating_sub(prompt_len);
        if room == 0 {
            return Err(Error::Input(format!(
                "the prompt is {prompt_len} tokens long; the decoder places at most {max} positions"
            )));
        }
        match requested {
            None => Ok(DEFAULT_MAX_NEW_TOKENS.min(room)),
            Some(0) => Err(Error::Input("max_new_tokens must be at least 1".into())),
            Some(n) if n > room => Err(Error::Input(format!(
                "max_new_tokens {n} is too many: with a prompt of {prompt_len} tokens at most \
                 {room} fit the decoder's {max} positions"
            ))),
            Some(n) => Ok(n),
        }
    }

    /// Logits (t, vocab) in f32 for every position of `ids` over `image_embeds`, whole-sequence
    /// (no cache is kept).
    pub fn logits(&mut self, image_embeds: &Tensor, ids: &[u32]) -> Result<Tensor> {
        if ids.is_empty() {
            return Err(Error::Input("no token ids".into()));
        }
        self.check_ids(ids)?;
        let cross = self.decoder.cross_kv(image_embeds)?;
        self.decoder.clear_cache();
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let hidden = self.decoder.forward(&input, &cross);
        self.decoder.clear_cache();
        let logits = self.decoder.logits(&hidden?)?;
        Ok(logits.squeeze(0)?.to_dtype(DType::F32)?)
    }

    fn check_ids(&self, ids: &[u32]) -> Result<()> {
        let vocab = self.config.text_config.vocab_size;
        match ids.iter().find(|id| **id as usize >= vocab) {
            Some(id) => Err(Error::Input(format!(
                "token id {id} is outside the vocabulary of {vocab}"
            ))),
            None => Ok(()),
        }
    }

    /// The ids generated after `prompt_ids` for an image, `[SEP]` included when generated.
    pub fn generate(
        &mut self,
        image_embeds: &Tensor,
        prompt_ids: &[u32],
        options: &CaptionOptions,
        cancel: &AtomicBool,
    ) -> Result<Vec<u32>> {
        if prompt_ids.is_empty() {
            return Err(Error::Input(
                "no prompt ids (at least the start token)".into(),
            ));
        }
        self.check_ids(prompt_ids)?;
        let max_new = self.max_new_tokens(prompt_ids.len(), options.max_new_tokens)?;
        let cross = self.decoder.cross_kv(image_embeds)?;
        let end = self.config.sep_token_id();
        let mut steps = DecoderSteps {
            decoder: &mut self.decoder,
            cross: &cross,
            device: &self.device,
        };
        let ids = generate::generate(
            &mut steps,
            prompt_ids,
            end,
            max_new,
            options.decoding,
            cancel,
        );
        self.decoder.clear_cache();
        ids
    }

    /// transformers' `decode(ids, skip_special_tokens=True)`.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let tokenizer = self
            .tokenizer
            .as_ref()
            .ok_or_else(|| Error::Input("this model has no tokenizer".into()))?;
        tokenizer
            .decode(ids, true)
            .map_err(|e| Error::Input(format!("the ids could not be decoded: {e}")))
    }

    /// Captions pixel values (see [`Blip::image_embeds`]).
    pub fn caption_pixels(
        &mut self,
        pixel_values: &Tensor,
        prompt: Option<&str>,
        options: &CaptionOptions,
        cancel: &AtomicBool,
    ) -> Result<Caption> {
        let prompt_ids = self.prompt_ids(prompt)?;
        // Check the lengths before the vision encoder runs.
        self.max_new_tokens(prompt_ids.len(), options.max_new_tokens)?;
        if let Decoding::Beam(settings) = options.decoding
            && !(2..=MAX_BEAMS).contains(&settings.num_beams)
        {
            return Err(Error::Input(format!(
                "num_beams must be between 2 and {MAX_BEAMS}, not {}",
                settings.num_beams
            )));
        }
        let embeds = self.image_embeds(pixel_values)?;
        let token_ids = self.generate(&embeds, &prompt_ids, options, cancel)?;
        let sequence: Vec<u32> = prompt_ids.iter().chain(&token_ids).copied().collect();
        Ok(Caption {
            text: self.decode(&sequence)?,
            token_ids,
            prompt_ids,
        })
    }

    /// Captions an image: the checkpoint's preprocessing, then [`Blip::caption_pixels`].
    pub fn caption(
        &mut self,
        image: &DynamicImage,
        prompt: Option<&str>,
        options: &CaptionOptions,
        cancel: &AtomicBool,
    ) -> Result<Caption> {
        let pixels = self.pixel_values(image)?;
        self.caption_pixels(&pixels, prompt, options, cancel)
    }
}

/// The processor config's file, to name in errors.
fn processor_path(ckpt: &CheckpointDir) -> PathBuf {
    let nested = ckpt.root().join("processor_config.json");
    if nested.is_file() {
        nested
    } else {
        ckpt.root().join("preprocessor_config.json")
    }
}

/// Refuses a processor whose output does not fit the vision encoder's input size.
fn check_processor(config: &Config, processor: &ImageProcessorConfig, path: &Path) -> Result<()> {
    let want = config.vision_config.image_size.hw();
    let unsupported = |field, message: String| Error::Unsupported {
        path: path.to_owned(),
        field,
        message,
    };
    // A landscape painting's size: a processor that keeps the aspect ratio is caught here.
    let made = processor
        .output_size(480, 640)
        .map_err(|u| unsupported(u.field, u.message))?;
    if made != want {
        return Err(unsupported(
            "size",
            format!(
                "the processor makes {}x{} pixels; the vision encoder takes {}x{}",
                made.0, made.1, want.0, want.1
            ),
        ));
    }
    Ok(())
}

/// The text decoder as the search drives it, over one image's cross-attention keys and values.
struct DecoderSteps<'a> {
    decoder: &'a mut TextDecoder,
    cross: &'a [CrossKv],
    device: &'a Device,
}

impl DecoderSteps<'_> {
    fn last_logits(&mut self, ids: Tensor) -> Result<Vec<Vec<f32>>> {
        let hidden = self.decoder.forward(&ids, self.cross)?;
        let t = hidden.dim(1)?;
        let last = hidden.narrow(1, t - 1, 1)?;
        let logits = self.decoder.logits(&last)?.squeeze(1)?;
        Ok(logits.to_dtype(DType::F32)?.to_vec2()?)
    }
}

impl generate::Steps for DecoderSteps<'_> {
    fn prefill(&mut self, prompt: &[u32]) -> Result<Vec<f32>> {
        self.decoder.clear_cache();
        let ids = Tensor::new(prompt, self.device)?.unsqueeze(0)?;
        self.last_logits(ids)?
            .pop()
            .ok_or_else(|| Error::Input("no logits".into()))
    }

    fn reorder(&mut self, rows: &[u32]) -> Result<()> {
        Ok(self.decoder.reorder_cache(rows)?)
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        let ids = Tensor::new(tokens, self.device)?.unsqueeze(1)?;
        self.last_logits(ids)
    }
}
