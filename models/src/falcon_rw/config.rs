//! Falcon's `config.json` (`FalconConfig` in transformers, `RWConfig` before it) and
//! `generation_config.json`, with the checkpoints' field names. Unknown fields are ignored, both
//! `dtype` and `torch_dtype` are accepted (REFERENCE-NOTES trap 9), and [`Config::validate`]
//! refuses the Falcon variants this implementation does not run (the 7B/40B layouts, rotary
//! positions), naming the field.

use serde::Deserialize;

use crate::error::Unsupported;

/// The `config.json` of a Falcon checkpoint. Only Falcon-RW's layout is supported: ALiBi
/// positions, biases, sequential (not parallel) attention and MLP, one key/value per head.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Rows of the embedding and of the tied output head (50304 in falcon-rw-1b, padded past the
    /// tokenizer's 50257: REFERENCE-NOTES trap 14).
    pub vocab_size: usize,
    /// Width of the residual stream (2048).
    #[serde(alias = "n_embed")]
    pub hidden_size: usize,
    /// Decoder layers (24).
    #[serde(alias = "n_layer")]
    pub num_hidden_layers: usize,
    /// Attention heads (32).
    #[serde(alias = "n_head")]
    pub num_attention_heads: usize,
    /// Key/value heads; absent or equal to the head count for full multi-head attention.
    #[serde(default, alias = "n_head_kv")]
    pub num_kv_heads: Option<usize>,
    /// LayerNorm epsilon.
    #[serde(default = "default_layer_norm_epsilon")]
    pub layer_norm_epsilon: f64,
    /// ALiBi position biases (true for Falcon-RW); false means rotary positions.
    #[serde(default)]
    pub alibi: bool,
    /// Whether the linear layers have biases (true for Falcon-RW).
    #[serde(default)]
    pub bias: bool,
    /// Attention and MLP side by side from one norm (Falcon-7B/40B); Falcon-RW runs them in turn.
    #[serde(default = "default_true")]
    pub parallel_attn: bool,
    /// The Falcon-40B layout (grouped key/value heads, two norms).
    #[serde(default)]
    pub new_decoder_architecture: bool,
    /// One shared key/value head (Falcon-7B).
    #[serde(default = "default_true")]
    pub multi_query: bool,
    /// Post-layernorm residuals (no Falcon checkpoint uses them).
    #[serde(default)]
    pub apply_residual_connection_post_layernorm: bool,
    /// The MLP's inner width; absent in falcon-rw-1b, where it is 4 × hidden_size.
    #[serde(default)]
    pub ffn_hidden_size: Option<usize>,
    /// The MLP activation; absent in falcon-rw-1b, where it is exact (erf) GELU.
    #[serde(default = "default_activation")]
    pub activation: String,
    /// The longest sequence the model was trained on; absent in falcon-rw-1b (2048 there).
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Whether the output head is the word embedding matrix (true in every Falcon).
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
    /// The begin-of-sequence id of the config (1 in falcon-rw-1b; the tokenizer adds none).
    #[serde(default)]
    pub bos_token_id: Option<TokenIds>,
    /// The end-of-sequence id(s) of the config (2 in falcon-rw-1b, which transformers' `generate`
    /// stops at; the tokenizer's `<|endoftext|>` is 50256).
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    /// The weights' dtype as saved (`dtype` in new files, `torch_dtype` in old ones).
    #[serde(default, alias = "torch_dtype")]
    pub dtype: Option<String>,
}

/// One token id or several, as config files write `eos_token_id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    One(u32),
    Many(Vec<u32>),
}

impl TokenIds {
    /// The ids as a list.
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }
}

/// The parts of `generation_config.json` that generation honours. Sampling settings absent from
/// the file fall back to [`super::SamplingParams::DEFAULT`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GenerationConfig {
    /// The ids transformers' `generate` stops at.
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    /// Whether the checkpoint's authors sample by default.
    #[serde(default)]
    pub do_sample: Option<bool>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Keep only the k most likely tokens when sampling.
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Keep the smallest set of tokens whose probability reaches p when sampling.
    #[serde(default)]
    pub top_p: Option<f64>,
}

fn default_layer_norm_epsilon() -> f64 {
    1e-5
}
fn default_true() -> bool {
    true
}
fn default_activation() -> String {
    "gelu".into()
}
fn default_max_position_embeddings() -> usize {
    2048
}

impl Config {
    /// The published `tiiuae/falcon-rw-1b` configuration.
    pub fn falcon_rw_1b() -> Self {
        serde_json::from_str(include_str!("../../presets/falcon-rw-1b.json"))
            .expect("the compiled-in falcon-rw-1b config parses")
    }

    /// Refuses options this implementation does not support, naming the field.
    pub fn validate(&self) -> Result<(), Unsupported> {
        if !self.alibi {
            return Err(Unsupported::new(
                "alibi",
                "rotary positions (alibi: false) are not supported: only Falcon-RW's ALiBi",
            ));
        }
        if self.new_decoder_architecture {
            return Err(Unsupported::new(
                "new_decoder_architecture",
                "the Falcon-40B layout is not supported: only Falcon-RW",
            ));
        }
        if self.parallel_attn {
            return Err(Unsupported::new(
                "parallel_attn",
                "parallel attention and MLP are not supported: Falcon-RW runs them in turn",
            ));
        }
        if self.multi_query {
            return Err(Unsupported::new(
                "multi_query",
                "one shared key/value head is not supported: Falcon-RW has full multi-head attention",
            ));
        }
        let heads = self.num_attention_heads;
        if heads == 0 || self.hidden_size == 0 || !self.hidden_size.is_multiple_of(heads) {
            return Err(Unsupported::new(
                "num_attention_heads",
                "hidden_size must be a positive multiple of num_attention_heads",
            ));
        }
        if self
            .num_kv_heads
            .is_some_and(|kv| kv != self.num_attention_heads)
        {
            return Err(Unsupported::new(
                "num_kv_heads",
                "must equal num_attention_heads (full multi-head attention)",
            ));
        }
        if self.apply_residual_connection_post_layernorm {
            return Err(Unsupported::new(
                "apply_residual_connection_post_layernorm",
                "post-layernorm residuals are not supported",
            ));
        }
        if !self.tie_word_embeddings {
            return Err(Unsupported::new(
                "tie_word_embeddings",
                "the output head must be the word embeddings (as in every Falcon)",
            ));
        }
        if self.activation != "gelu" {
            return Err(Unsupported::new(
                "activation",
                format!("`{}` is not supported (only gelu)", self.activation),
            ));
        }
        if self.vocab_size == 0 || self.num_hidden_layers == 0 {
            return Err(Unsupported::new(
                "vocab_size",
                "vocab_size and num_hidden_layers must be positive",
            ));
        }
        if self.max_position_embeddings == 0 {
            return Err(Unsupported::new(
                "max_position_embeddings",
                "must be positive",
            ));
        }
        if !(self.layer_norm_epsilon.is_finite() && self.layer_norm_epsilon > 0.0) {
            return Err(Unsupported::new("layer_norm_epsilon", "must be above 0"));
        }
        Ok(())
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The MLP's inner width.
    pub fn ffn_hidden_size(&self) -> usize {
        self.ffn_hidden_size.unwrap_or(4 * self.hidden_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> serde_json::Value {
        serde_json::from_str(include_str!("../../presets/falcon-rw-1b.json")).unwrap()
    }

    #[test]
    fn parses_the_published_falcon_rw_1b_config() {
        let config = Config::falcon_rw_1b();
        config.validate().unwrap();
        assert_eq!(
            (
                config.vocab_size,
                config.hidden_size,
                config.num_hidden_layers,
                config.num_attention_heads
            ),
            (50304, 2048, 24, 32)
        );
        assert_eq!((config.head_dim(), config.ffn_hidden_size()), (64, 8192));
        assert_eq!(config.eos_token_id, Some(TokenIds::One(2)));
        assert_eq!(config.dtype.as_deref(), Some("bfloat16"));
        assert_eq!(config.max_position_embeddings, 2048);
        assert_eq!(config.layer_norm_epsilon, 1e-5);
    }

    #[test]
    fn accepts_dtype_and_lists_of_eos_ids() {
        let mut value = real();
        value.as_object_mut().unwrap().remove("torch_dtype");
        value["dtype"] = "float32".into();
        value["eos_token_id"] = serde_json::json!([2, 50256]);
        value["some_new_field"] = serde_json::json!({"x": 1});
        let config: Config = serde_json::from_value(value).unwrap();
        config.validate().unwrap();
        assert_eq!(config.dtype.as_deref(), Some("float32"));
        assert_eq!(config.eos_token_id.unwrap().to_vec(), [2, 50256]);
    }

    #[test]
    fn unsupported_options_name_their_field() {
        let cases: [(&str, serde_json::Value, &str); 8] = [
            ("alibi", false.into(), "alibi"),
            (
                "new_decoder_architecture",
                true.into(),
                "new_decoder_architecture",
            ),
            ("parallel_attn", true.into(), "parallel_attn"),
            ("multi_query", true.into(), "multi_query"),
            ("num_kv_heads", 8.into(), "num_kv_heads"),
            ("num_attention_heads", 30.into(), "num_attention_heads"),
            ("activation", "relu".into(), "activation"),
            ("tie_word_embeddings", false.into(), "tie_word_embeddings"),
        ];
        for (key, value, field) in cases {
            let mut json = real();
            json[key] = value;
            let err = serde_json::from_value::<Config>(json)
                .unwrap()
                .validate()
                .unwrap_err();
            assert_eq!(err.field, field, "{key}");
        }
    }

    #[test]
    fn transformers_defaults_apply_when_fields_are_absent() {
        // FalconConfig's defaults are the Falcon-7B layout, which is refused.
        let json = serde_json::json!({
            "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2
        });
        let config: Config = serde_json::from_value(json).unwrap();
        assert_eq!(config.validate().unwrap_err().field, "alibi");
    }
}
