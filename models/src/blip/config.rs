//! BLIP's composite `config.json` (`BlipConfig` in transformers): the ViT vision encoder and the
//! BERT-style text decoder, with the checkpoint's field names and transformers' class defaults
//! for fields a file leaves out. Unknown fields are ignored; options this implementation does not
//! support are refused by [`Config::validate`], naming the field.

use serde::Deserialize;

use crate::error::Unsupported;

/// The whole `config.json` of a BLIP captioning checkpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// The text decoder (`BlipTextConfig`).
    pub text_config: TextConfig,
    /// The vision encoder (`BlipVisionConfig`).
    pub vision_config: VisionConfig,
}

/// The text decoder section (`BlipTextConfig`).
#[derive(Debug, Clone, Deserialize)]
pub struct TextConfig {
    /// Rows of the word embeddings and outputs of the head: the tokenizer's 30522 plus `[DEC]`
    /// and `[ENC]` in the published checkpoints.
    #[serde(default = "text_defaults::vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "text_defaults::hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "text_defaults::intermediate_size")]
    pub intermediate_size: usize,
    #[serde(default = "text_defaults::num_hidden_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "text_defaults::num_attention_heads")]
    pub num_attention_heads: usize,
    /// Positions the decoder can place: the prompt and the new tokens together.
    #[serde(default = "text_defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "text_defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// The `[DEC]` start token that replaces the prompt's `[CLS]` (30522).
    #[serde(default = "text_defaults::bos_token_id")]
    pub bos_token_id: Option<u32>,
    /// `[SEP]` (102): generation stops there (not at `eos_token_id`, see the module docs).
    #[serde(default = "text_defaults::sep_token_id")]
    pub sep_token_id: Option<u32>,
    /// `[PAD]` (0).
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    /// Must be true: the captioning decoder has cross-attention layers.
    #[serde(default = "yes")]
    pub is_decoder: bool,
}

/// The vision encoder section (`BlipVisionConfig`).
#[derive(Debug, Clone, Deserialize)]
pub struct VisionConfig {
    #[serde(default = "vision_defaults::hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "vision_defaults::intermediate_size")]
    pub intermediate_size: usize,
    #[serde(default = "vision_defaults::num_hidden_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "vision_defaults::num_attention_heads")]
    pub num_attention_heads: usize,
    /// The square (or `[height, width]`) input the position embeddings were made for.
    #[serde(default = "vision_defaults::image_size")]
    pub image_size: Size,
    #[serde(default = "vision_defaults::patch_size")]
    pub patch_size: Size,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "vision_defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "vision_defaults::num_channels")]
    pub num_channels: usize,
}

/// An image or patch size: one number for a square, or `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Size {
    /// A square.
    Square(usize),
    /// `[height, width]`.
    Pair([usize; 2]),
}

impl Size {
    /// `(height, width)`.
    pub fn hw(self) -> (usize, usize) {
        match self {
            Size::Square(n) => (n, n),
            Size::Pair([h, w]) => (h, w),
        }
    }
}

/// The activation functions the config may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: the exact (erf) GELU, BLIP's.
    Gelu,
    /// `gelu_new`, `gelu_pytorch_tanh`: the tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
}

impl Activation {
    fn parse(name: &str, field: &'static str) -> Result<Self, Unsupported> {
        match name {
            "gelu" => Ok(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            other => Err(Unsupported::new(
                field,
                format!("`{other}` is not supported (gelu, gelu_new, gelu_pytorch_tanh or relu)"),
            )),
        }
    }

    /// Applies the function.
    pub fn apply(self, xs: &candle_core::Tensor) -> candle_core::Result<candle_core::Tensor> {
        match self {
            Activation::Gelu => xs.gelu_erf(),
            Activation::GeluTanh => xs.gelu(),
            Activation::Relu => xs.relu(),
        }
    }
}

fn default_act() -> String {
    "gelu".into()
}
fn yes() -> bool {
    true
}

/// transformers' `BlipTextConfig` defaults.
mod text_defaults {
    pub fn vocab_size() -> usize {
        30524
    }
    pub fn hidden_size() -> usize {
        768
    }
    pub fn intermediate_size() -> usize {
        3072
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn num_attention_heads() -> usize {
        8
    }
    pub fn max_position_embeddings() -> usize {
        512
    }
    pub fn layer_norm_eps() -> f64 {
        1e-12
    }
    pub fn bos_token_id() -> Option<u32> {
        Some(30522)
    }
    pub fn sep_token_id() -> Option<u32> {
        Some(102)
    }
}

/// transformers' `BlipVisionConfig` defaults.
mod vision_defaults {
    use super::Size;

    pub fn hidden_size() -> usize {
        768
    }
    pub fn intermediate_size() -> usize {
        3072
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn num_attention_heads() -> usize {
        12
    }
    pub fn image_size() -> Size {
        Size::Square(384)
    }
    pub fn patch_size() -> Size {
        Size::Square(16)
    }
    pub fn layer_norm_eps() -> f64 {
        1e-5
    }
    pub fn num_channels() -> usize {
        3
    }
}

impl Config {
    /// The published `Salesforce/blip-image-captioning-large` configuration.
    pub fn blip_large() -> Self {
        serde_json::from_str(include_str!("../../presets/blip-large.json"))
            .expect("the compiled-in blip-large config parses")
    }

    /// Refuses options this implementation does not support, naming the field.
    pub fn validate(&self) -> Result<(), Unsupported> {
        let t = &self.text_config;
        let v = &self.vision_config;
        self.text_activation()?;
        self.vision_activation()?;
        if !t.is_decoder {
            return Err(Unsupported::new(
                "text_config.is_decoder",
                "must be true: captioning needs the decoder with cross-attention",
            ));
        }
        check_heads(
            t.hidden_size,
            t.num_attention_heads,
            "text_config.num_attention_heads",
        )?;
        check_heads(
            v.hidden_size,
            v.num_attention_heads,
            "vision_config.num_attention_heads",
        )?;
        let positive = [
            (t.vocab_size, "text_config.vocab_size"),
            (t.intermediate_size, "text_config.intermediate_size"),
            (t.num_hidden_layers, "text_config.num_hidden_layers"),
            (
                t.max_position_embeddings,
                "text_config.max_position_embeddings",
            ),
            (v.intermediate_size, "vision_config.intermediate_size"),
            (v.num_hidden_layers, "vision_config.num_hidden_layers"),
        ];
        for (value, field) in positive {
            if value == 0 {
                return Err(Unsupported::new(field, "must be positive"));
            }
        }
        for (id, field) in [
            (t.bos_token_id, "text_config.bos_token_id"),
            (t.sep_token_id, "text_config.sep_token_id"),
        ] {
            match id {
                Some(id) if (id as usize) < t.vocab_size => {}
                Some(id) => {
                    return Err(Unsupported::new(
                        field,
                        format!("{id} is outside the vocabulary of {}", t.vocab_size),
                    ));
                }
                None => return Err(Unsupported::new(field, "missing")),
            }
        }
        if v.num_channels != 3 {
            return Err(Unsupported::new(
                "vision_config.num_channels",
                format!("{} channels: BLIP takes RGB images", v.num_channels),
            ));
        }
        let (h, w) = v.image_size.hw();
        let (ph, pw) = v.patch_size.hw();
        if ph == 0 || pw == 0 || h == 0 || w == 0 || h % ph != 0 || w % pw != 0 {
            return Err(Unsupported::new(
                "vision_config.patch_size",
                format!("patches of {ph}x{pw} must tile the {h}x{w} image exactly"),
            ));
        }
        Ok(())
    }

    /// The text decoder's activation.
    pub fn text_activation(&self) -> Result<Activation, Unsupported> {
        Activation::parse(&self.text_config.hidden_act, "text_config.hidden_act")
    }

    /// The vision encoder's activation.
    pub fn vision_activation(&self) -> Result<Activation, Unsupported> {
        Activation::parse(&self.vision_config.hidden_act, "vision_config.hidden_act")
    }

    /// The `[DEC]` start token (validated to be present).
    pub fn bos_token_id(&self) -> u32 {
        self.text_config.bos_token_id.unwrap_or(30522)
    }

    /// The `[SEP]` token that ends a caption (validated to be present).
    pub fn sep_token_id(&self) -> u32 {
        self.text_config.sep_token_id.unwrap_or(102)
    }

    /// The width of what the text decoder cross-attends to. transformers sets the text config's
    /// `encoder_hidden_size` to the vision hidden size whatever the file says; so does this.
    pub fn encoder_hidden_size(&self) -> usize {
        self.vision_config.hidden_size
    }
}

fn check_heads(hidden: usize, heads: usize, field: &'static str) -> Result<(), Unsupported> {
    if heads == 0 || hidden == 0 || !hidden.is_multiple_of(heads) {
        Err(Unsupported::new(
            field,
            format!(
                "the hidden size {hidden} must be a positive multiple of the head count {heads}"
            ),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> serde_json::Value {
        serde_json::from_str(include_str!("../../presets/blip-large.json")).unwrap()
    }

    #[test]
    fn parses_the_published_blip_large_config() {
        let config = Config::blip_large();
        config.validate().unwrap();
        let (t, v) = (&config.text_config, &config.vision_config);
        assert_eq!(
            (t.hidden_size, t.num_hidden_layers, t.num_attention_heads),
            (768, 12, 12)
        );
        assert_eq!((t.vocab_size, t.max_position_embeddings), (30524, 512));
        assert_eq!((config.bos_token_id(), config.sep_token_id()), (30522, 102));
        assert_eq!(
            (v.hidden_size, v.num_hidden_layers, v.num_attention_heads),
            (1024, 24, 16)
        );
        assert_eq!(
            (v.image_size.hw(), v.patch_size.hw()),
            ((384, 384), (16, 16))
        );
        assert_eq!(config.encoder_hidden_size(), 1024);
        assert_eq!(config.text_activation().unwrap(), Activation::Gelu);
    }

    #[test]
    fn missing_fields_take_transformers_defaults() {
        let config: Config = serde_json::from_str(
            r#"{"text_config": {}, "vision_config": {"image_size": [32, 48]}}"#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.text_config.num_attention_heads, 8);
        assert_eq!(config.vision_config.image_size.hw(), (32, 48));
        assert_eq!(config.vision_config.patch_size.hw(), (16, 16));
    }

    #[test]
    fn unsupported_options_name_their_field() {
        let cases: [(&str, &str, serde_json::Value, &str); 5] = [
            (
                "text_config",
                "hidden_act",
                "swish".into(),
                "text_config.hidden_act",
            ),
            (
                "text_config",
                "is_decoder",
                false.into(),
                "text_config.is_decoder",
            ),
            (
                "text_config",
                "num_attention_heads",
                7.into(),
                "text_config.num_attention_heads",
            ),
            (
                "text_config",
                "bos_token_id",
                40000.into(),
                "text_config.bos_token_id",
            ),
            (
                "vision_config",
                "patch_size",
                15.into(),
                "vision_config.patch_size",
            ),
        ];
        for (section, key, value, field) in cases {
            let mut json = real();
            json[section][key] = value;
            let err = serde_json::from_value::<Config>(json)
                .unwrap()
                .validate()
                .unwrap_err();
            assert_eq!(err.field, field);
        }
    }
}
