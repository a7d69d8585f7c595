//! MusicGen's composite `config.json` (`MusicgenConfig` in transformers): the T5 text encoder,
//! the EnCodec audio codec and the decoder, with the checkpoint's field names. Unknown fields are
//! ignored; options this implementation does not support are refused by [`Config::validate`].

use candle_nn::Activation;
use candle_transformers::models::t5;
use serde::Deserialize;

use crate::encodec;
use crate::error::Unsupported;

/// The whole `config.json` of a MusicGen checkpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub text_encoder: TextEncoderConfig,
    pub audio_encoder: encodec::Config,
    pub decoder: DecoderConfig,
}

/// The T5 encoder section (`t5-base` in musicgen-small).
#[derive(Debug, Clone, Deserialize)]
pub struct TextEncoderConfig {
    pub vocab_size: usize,
    pub d_model: usize,
    pub d_kv: usize,
    pub d_ff: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub relative_attention_num_buckets: usize,
    #[serde(default = "default_max_distance")]
    pub relative_attention_max_distance: usize,
    #[serde(default = "default_t5_eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "default_feed_forward")]
    pub feed_forward_proj: String,
}

/// The MusicGen decoder section (`MusicgenDecoderConfig`).
#[derive(Debug, Clone, Deserialize)]
pub struct DecoderConfig {
    /// Codes per codebook (2048); the embeddings have one more row for the pad/start id.
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub ffn_dim: usize,
    pub num_codebooks: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_activation")]
    pub activation_function: String,
    #[serde(default)]
    pub scale_embedding: bool,
    #[serde(default = "default_audio_channels")]
    pub audio_channels: usize,
    /// The pad id, also the start of every codebook; absent in the published file, where it is
    /// the codebook size.
    pub pad_token_id: Option<u32>,
    pub decoder_start_token_id: Option<u32>,
    /// Dropout after the embeddings, attention outputs and feed-forward (fine-tuning only).
    #[serde(default)]
    pub dropout: f64,
    /// Dropout of the attention probabilities (fine-tuning only).
    #[serde(default)]
    pub attention_dropout: f64,
    /// Dropout after the feed-forward activation (fine-tuning only).
    #[serde(default)]
    pub activation_dropout: f64,
    /// Probability of skipping a whole layer while training (fine-tuning refuses it above 0).
    #[serde(default)]
    pub layerdrop: f64,
}

fn default_max_distance() -> usize {
    128
}
fn default_t5_eps() -> f64 {
    1e-6
}
fn default_feed_forward() -> String {
    "relu".into()
}
fn default_activation() -> String {
    "gelu".into()
}
fn default_audio_channels() -> usize {
    1
}

impl Config {
    /// The published `facebook/musicgen-small` configuration.
    pub fn musicgen_small() -> Self {
        serde_json::from_str(include_str!("../../presets/musicgen-small.json"))
            .expect("the compiled-in musicgen-small config parses")
    }

    /// Refuses options this implementation does not support, naming the field.
    pub fn validate(&self) -> Result<(), Unsupported> {
        let d = &self.decoder;
        if d.activation_function != "gelu" {
            return Err(Unsupported::new(
                "decoder.activation_function",
                format!("`{}` is not supported (only gelu)", d.activation_function),
            ));
        }
        if d.audio_channels != 1 {
            return Err(Unsupported::new(
                "decoder.audio_channels",
                format!(
                    "{} channels: only mono MusicGen is supported",
                    d.audio_channels
                ),
            ));
        }
        if d.num_codebooks == 0 || !d.hidden_size.is_multiple_of(d.num_attention_heads.max(1)) {
            return Err(Unsupported::new(
                "decoder.num_attention_heads",
                "hidden_size must be a multiple of num_attention_heads, with at least one codebook",
            ));
        }
        if d.pad_token_id() as usize != d.vocab_size {
            return Err(Unsupported::new(
                "decoder.pad_token_id",
                "the pad/start id must equal the codebook size",
            ));
        }
        if self.audio_encoder.codebook_size != d.vocab_size {
            return Err(Unsupported::new(
                "audio_encoder.codebook_size",
                "must equal decoder.vocab_size",
            ));
        }
        if self.audio_encoder.num_codebooks() != d.num_codebooks {
            return Err(Unsupported::new(
                "audio_encoder.target_bandwidths",
                format!(
                    "give {} codebooks, but the decoder has {}",
                    self.audio_encoder.num_codebooks(),
                    d.num_codebooks
                ),
            ));
        }
        self.text_encoder.activation()?;
        self.audio_encoder
            .validate()
            .map_err(|e| Unsupported::new("audio_encoder", e.to_string()))?;
        Ok(())
    }
}

impl TextEncoderConfig {
    fn activation(&self) -> Result<(bool, Activation), Unsupported> {
        match self.feed_forward_proj.as_str() {
            "relu" => Ok((false, Activation::Relu)),
            "gelu" => Ok((false, Activation::GeluPytorchTanh)),
            "gated-gelu" => Ok((true, Activation::NewGelu)),
            other => Err(Unsupported::new(
                "text_encoder.feed_forward_proj",
                format!("`{other}` is not supported (relu, gelu or gated-gelu)"),
            )),
        }
    }

    /// The same settings in candle-transformers' T5 terms.
    pub fn to_t5(&self) -> Result<t5::Config, Unsupported> {
        let (gated, activation) = self.activation()?;
        Ok(t5::Config {
            vocab_size: self.vocab_size,
            d_model: self.d_model,
            d_kv: self.d_kv,
            d_ff: self.d_ff,
            num_layers: self.num_layers,
            num_decoder_layers: None,
            num_heads: self.num_heads,
            relative_attention_num_buckets: self.relative_attention_num_buckets,
            relative_attention_max_distance: self.relative_attention_max_distance,
            dropout_rate: 0.0,
            layer_norm_epsilon: self.layer_norm_epsilon,
            initializer_factor: 1.0,
            feed_forward_proj: t5::ActivationWithOptionalGating { gated, activation },
            tie_word_embeddings: true,
            is_decoder: false,
            is_encoder_decoder: false,
            use_cache: false,
            pad_token_id: 0,
            eos_token_id: 1,
            decoder_start_token_id: None,
        })
    }
}

impl DecoderConfig {
    /// The pad id, which also starts every codebook's sequence.
    pub fn pad_token_id(&self) -> u32 {
        self.pad_token_id
            .or(self.decoder_start_token_id)
            .unwrap_or(self.vocab_size as u32)
    }

    /// The id every codebook's decoder input starts with (`decoder_start_token_id`, else the
    /// pad id, as transformers falls back).
    pub fn decoder_start_token_id(&self) -> u32 {
        self.decoder_start_token_id
            .unwrap_or_else(|| self.pad_token_id())
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> serde_json::Value {
        serde_json::from_str(include_str!("../../presets/musicgen-small.json")).unwrap()
    }

    #[test]
    fn parses_the_published_musicgen_small_config() {
        let config = Config::musicgen_small();
        config.validate().unwrap();
        let d = &config.decoder;
        assert_eq!(
            (d.hidden_size, d.num_hidden_layers, d.num_attention_heads),
            (1024, 24, 16)
        );
        assert_eq!(
            (d.num_codebooks, d.vocab_size, d.pad_token_id()),
            (4, 2048, 2048)
        );
        assert_eq!(config.audio_encoder.frame_rate(), 50);
        let t5 = config.text_encoder.to_t5().unwrap();
        assert_eq!((t5.d_model, t5.num_layers, t5.vocab_size), (768, 12, 32128));
    }

    #[test]
    fn unsupported_options_name_their_field() {
        let mut value = real();
        value["decoder"]["activation_function"] = "relu".into();
        let err = serde_json::from_value::<Config>(value)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(err.field, "decoder.activation_function");

        let mut value = real();
        value["decoder"]["audio_channels"] = 2.into();
        let err = serde_json::from_value::<Config>(value)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(err.field, "decoder.audio_channels");

        let mut value = real();
        value["text_encoder"]["feed_forward_proj"] = "gated-swish".into();
        let err = serde_json::from_value::<Config>(value)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(err.field, "text_encoder.feed_forward_proj");
    }
}
