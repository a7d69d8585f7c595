//! Zero-shot emotion labels from CLIP (Radford et al., "Learning Transferable Visual Models From
//! Natural Language Supervision", 2021), checkpoint `openai/clip-vit-base-patch32` as published
//! (`config.json`, weights, `tokenizer.json`, `preprocessor_config.json`). The five prompts
//! `"a painting that feels {emotion}"` are embedded once at load; an image's probabilities are
//! the softmax of `exp(logit_scale)` times its cosine similarity to each, as transformers'
//! `CLIPModel.logits_per_image`. The transformer is candle-transformers' `clip`.

use std::path::Path;

use candle_core::{D, DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::clip::text_model::{Activation, ClipTextConfig};
use candle_transformers::models::clip::vision_model::ClipVisionConfig;
use candle_transformers::models::clip::{ClipModel, div_l2_norm};
use ekphrasis_shared::domain::{Emotion, EmotionProbabilities};
use image::RgbImage;
use serde::Deserialize;
use tokenizers::Tokenizer;

use crate::checkpoint::CheckpointDir;
use crate::error::Unsupported;
use crate::error::{Error, Result};
use crate::image_prep::{ImageProcessorConfig, pixel_values};
use crate::random_weights::RandomWeights;

/// The prompt for one emotion, as the zero-shot labeller embeds it.
pub fn prompt(emotion: Emotion) -> String {
    format!("a painting that feels {}", emotion.as_str())
}

/// A CLIP `config.json` (`CLIPConfig`), with the checkpoint's field names; unknown fields are
/// ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClipConfig {
    /// `"clip"`; another value means a foreign checkpoint.
    #[serde(default)]
    pub model_type: Option<String>,
    /// The width of both projections (512).
    pub projection_dim: usize,
    /// The initial logit scale, used only when building random weights.
    #[serde(default = "default_logit_scale")]
    pub logit_scale_init_value: f32,
    /// The text transformer.
    pub text_config: ClipTextSection,
    /// The vision transformer.
    pub vision_config: ClipVisionSection,
}

/// `text_config` of a CLIP config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClipTextSection {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

/// `vision_config` of a CLIP config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClipVisionSection {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub image_size: usize,
    pub patch_size: usize,
    #[serde(default = "default_channels")]
    pub num_channels: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

fn default_logit_scale() -> f32 {
    2.6592
}
fn default_act() -> String {
    "quick_gelu".into()
}
fn default_eps() -> f64 {
    1e-5
}
fn default_channels() -> usize {
    3
}

impl ClipConfig {
    /// The published `openai/clip-vit-base-patch32` configuration.
    pub fn vit_base_patch32() -> Self {
        serde_json::from_str(include_str!("../../presets/clip-vit-base-patch32.json"))
            .expect("the compiled-in clip-vit-base-patch32 config parses")
    }

    /// Refuses options this implementation does not support, naming the field.
    pub fn validate(&self) -> Result<(), Unsupported> {
        if let Some(model_type) = &self.model_type
            && model_type != "clip"
        {
            return Err(Unsupported::new(
                "model_type",
                format!("`{model_type}` is not a CLIP model (expected `clip`)"),
            ));
        }
        let t = &self.text_config;
        let v = &self.vision_config;
        for (field, act) in [
            ("text_config.hidden_act", &t.hidden_act),
            ("vision_config.hidden_act", &v.hidden_act),
        ] {
            if act != "quick_gelu" {
                return Err(Unsupported::new(
                    field,
                    format!("`{act}` is not supported (only quick_gelu)"),
                ));
            }
        }
        for (field, eps) in [
            ("text_config.layer_norm_eps", t.layer_norm_eps),
            ("vision_config.layer_norm_eps", v.layer_norm_eps),
        ] {
            if (eps - 1e-5).abs() > 1e-12 {
                return Err(Unsupported::new(
                    field,
                    format!("{eps} is not supported (only 1e-5)"),
                ));
            }
        }
        for (field, width, heads) in [
            (
                "text_config.num_attention_heads",
                t.hidden_size,
                t.num_attention_heads,
            ),
            (
                "vision_config.num_attention_heads",
                v.hidden_size,
                v.num_attention_heads,
            ),
        ] {
            if heads == 0 || width == 0 || !width.is_multiple_of(heads) {
                return Err(Unsupported::new(
                    field,
                    format!("{heads} heads do not divide the width {width}"),
                ));
            }
        }
        if v.patch_size == 0 || v.image_size == 0 || !v.image_size.is_multiple_of(v.patch_size) {
            return Err(Unsupported::new(
                "vision_config.patch_size",
                format!(
                    "{} does not divide the image size {}",
                    v.patch_size, v.image_size
                ),
            ));
        }
        if v.num_channels != 3 {
            return Err(Unsupported::new(
                "vision_config.num_channels",
                "only RGB (3)",
            ));
        }
        if self.projection_dim == 0 || t.vocab_size < 3 || t.max_position_embeddings < 2 {
            return Err(Unsupported::new(
                "projection_dim",
                "projection_dim, vocab_size and max_position_embeddings must be usable",
            ));
        }
        Ok(())
    }

    fn candle(&self) -> candle_transformers::models::clip::ClipConfig {
        let t = &self.text_config;
        let v = &self.vision_config;
        candle_transformers::models::clip::ClipConfig {
            text_config: ClipTextConfig {
                vocab_size: t.vocab_size,
                embed_dim: t.hidden_size,
                activation: Activation::QuickGelu,
                intermediate_size: t.intermediate_size,
                max_position_embeddings: t.max_position_embeddings,
                pad_with: None,
                num_hidden_layers: t.num_hidden_layers,
                num_attention_heads: t.num_attention_heads,
                projection_dim: self.projection_dim,
            },
            vision_config: ClipVisionConfig {
                embed_dim: v.hidden_size,
                activation: Activation::QuickGelu,
                intermediate_size: v.intermediate_size,
                num_hidden_layers: v.num_hidden_layers,
                num_attention_heads: v.num_attention_heads,
                projection_dim: self.projection_dim,
                num_channels: v.num_channels,
                image_size: v.image_size,
                patch_size: v.patch_size,
            },
            logit_scale_init_value: self.logit_scale_init_value,
            image_size: v.image_size,
        }
    }
}

/// CLIP with the five emotion prompts embedded.
#[derive(Debug, Clone)]
pub struct ClipZeroShot {
    config: ClipConfig,
    model: ClipModel,
    tokenizer: Option<Tokenizer>,
    processor: ImageProcessorConfig,
    /// `exp(logit_scale)`.
    scale: f64,
    /// The prompts' projected embeddings, L2-normalised, `(5, projection_dim)`.
    prompts: Tensor,
    device: Device,
}

const CLASS_EMBEDDING: &str = "vision_model.embeddings.class_embedding";

impl ClipZeroShot {
    /// Loads a checkpoint directory and embeds the prompts.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let ckpt = CheckpointDir::open(dir)?;
        ckpt.require("config.json", "CLIP config")?;
        let config: ClipConfig = ckpt.read_config("config.json", ClipConfig::validate)?;
        let tokenizer = ckpt.tokenizer("the CLIP tokenizer")?;
        let processor = ImageProcessorConfig::load(&ckpt)?;
        let weights_path = ckpt.weight_files()?.first().to_owned();
        let vb = ckpt.var_builder(DType::F32, device)?;
        let weights_error = |source| Error::Weights {
            path: weights_path.clone(),
            source,
        };
        // candle would invent these two when they are missing; a checkpoint must have them
        for key in [CLASS_EMBEDDING, "logit_scale"] {
            if !vb.contains_tensor(key) {
                return Err(weights_error(candle_core::Error::Msg(format!(
                    "not a CLIPModel checkpoint: no `{key}`"
                ))));
            }
        }
        let this =
            Self::new(config, Some(tokenizer), processor, vb, device).map_err(|err| match err {
                Error::Candle(source) => weights_error(source),
                other => other,
            })?;
        let processor_file = ["processor_config.json", "preprocessor_config.json"]
            .into_iter()
            .map(|name| dir.join(name))
            .find(|path| path.is_file())
            .unwrap_or_else(|| dir.join("preprocessor_config.json"));
        this.check_processor(processor_file)?;
        Ok(this)
    }

    /// Builds the model from weights (checkpoint keys at the top level of `vb`, `logit_scale`
    /// included) and, with a tokenizer, embeds the five prompts.
    pub fn new(
        config: ClipConfig,
        tokenizer: Option<Tokenizer>,
        processor: ImageProcessorConfig,
        vb: VarBuilder,
        device: &Device,
    ) -> Result<Self> {
        let logit_scale = vb
            .get((), "logit_scale")?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        let model = ClipModel::new(vb, &config.candle())?;
        let has_tokenizer = tokenizer.is_some();
        let mut this = Self::assemble(config, model, tokenizer, processor, logit_scale, device)?;
        if has_tokenizer {
            let ids = Emotion::ALL
                .iter()
                .map(|&e| this.tokenize(&prompt(e)))
                .collect::<Result<Vec<_>>>()?;
            this.prompts = this.embed_prompts(&ids)?;
        }
        Ok(this)
    }

    /// A model with seeded random weights, built from a config alone (benchmarks). It has no
    /// tokenizer: its five "prompts" are fixed token sequences `[vocab−2, i+1, vocab−1]`, and
    /// images are prepared as `openai/clip-vit-base-patch32`'s processor does at the config's size.
    pub fn random(config: &ClipConfig, seed: u64, device: &Device) -> Result<Self> {
        config.validate().map_err(|u| u.at("config.json"))?;
        let vb = RandomWeights::new(seed).var_builder(DType::F32, device);
        let model = ClipModel::new(vb, &config.candle())?;
        let size = config.vision_config.image_size;
        let processor = ImageProcessorConfig::from_json(
            &format!(
                r#"{{"image_processor_type": "CLIPImageProcessor", "size": {{"shortest_edge": {size}}},
                    "crop_size": {{"height": {size}, "width": {size}}}}}"#
            ),
            "random CLIP processor",
        )?;
        let scale = f64::from(config.logit_scale_init_value);
        let mut this = Self::assemble(config.clone(), model, None, processor, scale, device)?;
        let vocab = config.text_config.vocab_size as u32;
        let ids: Vec<Vec<u32>> = (0..Emotion::ALL.len() as u32)
            .map(|i| vec![vocab - 2, (i + 1).min(vocab - 3), vocab - 1])
            .collect();
        this.prompts = this.embed_prompts(&ids)?;
        Ok(this)
    }

    fn assemble(
        config: ClipConfig,
        model: ClipModel,
        tokenizer: Option<Tokenizer>,
        processor: ImageProcessorConfig,
        logit_scale: f64,
        device: &Device,
    ) -> Result<Self> {
        Ok(Self {
            prompts: Tensor::zeros((0, config.projection_dim), DType::F32, device)?,
            config,
            model,
            tokenizer,
            processor,
            scale: logit_scale.exp(),
            device: device.clone(),
        })
    }

    /// The processor must give the vision transformer its one input size.
    fn check_processor(&self, path: std::path::PathBuf) -> Result<()> {
        let size = self.config.vision_config.image_size;
        let out = self
            .processor
            .output_size(size * 2 + 1, size + 3)
            .map_err(|u| u.at(&path))?;
        if out != (size, size) {
            return Err(Error::Unsupported {
                path,
                field: "crop_size",
                message: format!(
                    "the processor makes {}x{} images; the vision model takes {size}x{size}",
                    out.0, out.1
                ),
            });
        }
        Ok(())
    }

    fn embed_prompts(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        let rows = ids
            .iter()
            .map(|ids| {
                let ids = Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)?;
                self.text_embeds(&ids)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(div_l2_norm(&Tensor::cat(&rows, 0)?)?)
    }

    /// The token ids of a text with CLIP's tokenizer (`<|startoftext|>` … `<|endoftext|>`).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let tokenizer = self
            .tokenizer
            .as_ref()
            .ok_or_else(|| Error::Input("this CLIP model has no tokenizer".into()))?;
        let encoding = tokenizer
            .encode(text, true)
            .map_err(|e| Error::Input(format!("cannot tokenise {text:?}: {e}")))?;
        let ids = encoding.get_ids().to_vec();
        let max = self.config.text_config.max_position_embeddings;
        if ids.len() > max {
            return Err(Error::Input(format!(
                "{text:?} is {} tokens long; CLIP takes at most {max}",
                ids.len()
            )));
        }
        Ok(ids)
    }

    /// Projected image embeddings `(B, projection_dim)` for pixel values `(B, 3, S, S)`:
    /// transformers' `get_image_features` (not normalised).
    pub fn image_embeds(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let size = self.config.vision_config.image_size;
        let dims = pixel_values.dims();
        if dims.len() != 4 || dims[0] == 0 || dims[1] != 3 || dims[2] != size || dims[3] != size {
            return Err(Error::Input(format!(
                "CLIP pixel values must be (batch, 3, {size}, {size}), got {dims:?}"
            )));
        }
        let pixel_values = pixel_values.to_dtype(DType::F32)?;
        Ok(self.model.get_image_features(&pixel_values)?)
    }

    /// Projected text embeddings `(B, projection_dim)` for unpadded token ids `(B, L)`, pooled
    /// at the end-of-text token (the largest id): transformers' `get_text_features`.
    pub fn text_embeds(&self, ids: &Tensor) -> Result<Tensor> {
        let dims = ids.dims();
        let max = self.config.text_config.max_position_embeddings;
        if dims.len() != 2 || dims[0] == 0 || dims[1] == 0 || dims[1] > max {
            return Err(Error::Input(format!(
                "CLIP token ids must be (batch, 1..={max}), got {dims:?}"
            )));
        }
        let ids = ids.to_dtype(DType::U32)?;
        let largest = ids.max_all()?.to_scalar::<u32>()?;
        if largest as usize >= self.config.text_config.vocab_size {
            return Err(Error::Input(format!(
                "token id {largest} is outside the vocabulary ({})",
                self.config.text_config.vocab_size
            )));
        }
        Ok(self.model.get_text_features(&ids)?)
    }

    /// The prompts' normalised embeddings `(5, projection_dim)`, in `Emotion::ALL` order.
    pub fn prompt_embeds(&self) -> &Tensor {
        &self.prompts
    }

    /// `exp(logit_scale)` × cosine similarity of each image to each prompt, `(B, 5)`:
    /// transformers' `logits_per_image`.
    pub fn logits(&self, pixel_values: &Tensor) -> Result<Tensor> {
        let images = div_l2_norm(&self.image_embeds(pixel_values)?)?;
        let cosine = images.matmul(&self.prompts.t()?)?;
        Ok((cosine * self.scale)?)
    }

    /// The emotion probabilities of one RGB image.
    pub fn classify(&self, image: &RgbImage) -> Result<EmotionProbabilities> {
        let pixels = pixel_values(image, &self.processor, &self.device)?.unsqueeze(0)?;
        let logits = self.logits(&pixels)?;
        let probs = candle_nn::ops::softmax(&logits, D::Minus1)?
            .i(0)?
            .to_vec1::<f32>()?;
        Ok(EmotionProbabilities {
            happy: probs[0],
            angry: probs[1],
            sad: probs[2],
            fun: probs[3],
            neutral: probs[4],
        })
    }

    /// The image processor settings (from the checkpoint's preprocessor config).
    pub fn processor(&self) -> &ImageProcessorConfig {
        &self.processor
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &ClipConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_config_parses_and_validates() {
        let cfg = ClipConfig::vit_base_patch32();
        cfg.validate().unwrap();
        assert_eq!(cfg.projection_dim, 512);
        assert_eq!(cfg.text_config.vocab_size, 49408);
        assert_eq!(cfg.text_config.hidden_size, 512);
        assert_eq!(cfg.vision_config.hidden_size, 768);
        assert_eq!(
            (cfg.vision_config.image_size, cfg.vision_config.patch_size),
            (224, 32)
        );
    }

    #[test]
    fn unsupported_values_name_their_field() {
        type Change = fn(&mut ClipConfig);
        let cases: [(&str, Change); 5] = [
            ("text_config.hidden_act", |c| {
                c.text_config.hidden_act = "gelu".into()
            }),
            ("vision_config.layer_norm_eps", |c| {
                c.vision_config.layer_norm_eps = 1e-6
            }),
            ("vision_config.patch_size", |c| {
                c.vision_config.patch_size = 30
            }),
            ("text_config.num_attention_heads", |c| {
                c.text_config.num_attention_heads = 7
            }),
            ("model_type", |c| c.model_type = Some("blip".into())),
        ];
        for (field, change) in cases {
            let mut cfg = ClipConfig::vit_base_patch32();
            change(&mut cfg);
            assert_eq!(cfg.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn prompts_use_the_emotion_words() {
        let prompts: Vec<String> = Emotion::ALL.iter().map(|&e| prompt(e)).collect();
        assert_eq!(prompts[0], "a painting that feels happy");
        assert_eq!(prompts[4], "a painting that feels neutral");
    }
}
