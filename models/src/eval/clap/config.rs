//! A CLAP checkpoint's two configuration files with their field names: `config.json`
//! (`ClapConfig` with its `text_config` and `audio_config`) and `preprocessor_config.json`
//! (`ClapFeatureExtractor`). Absent fields take transformers' defaults; unknown fields are
//! ignored; options this port does not implement (the fused audio tower) are refused by name.

use candle_nn::Activation;
use serde::Deserialize;

use crate::error::Unsupported;

/// `config.json` of a `ClapModel` checkpoint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClapConfig {
    /// `"clap"`; another value means a foreign checkpoint.
    #[serde(default)]
    pub model_type: Option<String>,
    /// The width of both projections (and of the embeddings): 512 in the published models.
    #[serde(default = "default_projection_dim")]
    pub projection_dim: usize,
    /// The activation between the two linear layers of each projection.
    #[serde(default = "default_projection_act")]
    pub projection_hidden_act: Activation,
    /// The RoBERTa text tower.
    #[serde(default)]
    pub text_config: ClapTextConfig,
    /// The HTSAT audio tower.
    #[serde(default)]
    pub audio_config: ClapAudioConfig,
}

/// `text_config`: a RoBERTa encoder with a pooler.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ClapTextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: Activation,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    /// The padding id; RoBERTa numbers positions from `pad_token_id + 1`.
    pub pad_token_id: u32,
}

impl Default for ClapTextConfig {
    fn default() -> Self {
        Self {
            vocab_size: 50265,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: Activation::Gelu,
            max_position_embeddings: 514,
            type_vocab_size: 1,
            layer_norm_eps: 1e-12,
            pad_token_id: 1,
        }
    }
}

/// A size given as one number or as `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Pair {
    /// The same size along both axes.
    One(usize),
    /// `[height, width]`.
    Two([usize; 2]),
}

impl Pair {
    /// `(height, width)`.
    pub fn get(self) -> (usize, usize) {
        match self {
            Pair::One(n) => (n, n),
            Pair::Two([h, w]) => (h, w),
        }
    }
}

/// `audio_config`: the HTSAT (Swin-style) audio encoder.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ClapAudioConfig {
    /// The side of the square "image" the mel spectrogram is folded into (256).
    pub spec_size: usize,
    /// Mel bands of the input (64); `spec_size / num_mel_bins` is the folding ratio.
    pub num_mel_bins: usize,
    pub window_size: usize,
    pub patch_size: Pair,
    pub patch_stride: Pair,
    pub patch_embeds_hidden_size: usize,
    pub patch_embed_input_channels: usize,
    pub enable_patch_layer_norm: bool,
    pub flatten_patch_embeds: bool,
    /// Blocks per stage.
    pub depths: Vec<usize>,
    /// Attention heads per stage.
    pub num_attention_heads: Vec<usize>,
    pub mlp_ratio: f64,
    pub qkv_bias: bool,
    pub hidden_act: Activation,
    pub layer_norm_eps: f64,
    /// The projection's input width: the last stage's width.
    pub hidden_size: usize,
    /// The fused variant (`laion/clap-htsat-fused`); not supported.
    pub enable_fusion: bool,
}

impl Default for ClapAudioConfig {
    fn default() -> Self {
        Self {
            spec_size: 256,
            num_mel_bins: 64,
            window_size: 8,
            patch_size: Pair::One(4),
            patch_stride: Pair::Two([4, 4]),
            patch_embeds_hidden_size: 96,
            patch_embed_input_channels: 1,
            enable_patch_layer_norm: true,
            flatten_patch_embeds: true,
            depths: vec![2, 2, 6, 2],
            num_attention_heads: vec![4, 8, 16, 32],
            mlp_ratio: 4.0,
            qkv_bias: true,
            hidden_act: Activation::Gelu,
            layer_norm_eps: 1e-5,
            hidden_size: 768,
            enable_fusion: false,
        }
    }
}

fn default_projection_dim() -> usize {
    512
}
fn default_projection_act() -> Activation {
    Activation::Relu
}

impl ClapAudioConfig {
    /// How many time frames are folded into each row band: `spec_size / num_mel_bins`.
    pub fn freq_ratio(&self) -> usize {
        self.spec_size / self.num_mel_bins.max(1)
    }

    /// The patch grid `(height, width)` of the first stage.
    pub fn grid(&self) -> (usize, usize) {
        let (sh, sw) = self.patch_stride.get();
        (self.spec_size / sh.max(1), self.spec_size / sw.max(1))
    }

    /// The width of stage `i`: the patch width doubled at each merge.
    pub fn stage_width(&self, i: usize) -> usize {
        self.patch_embeds_hidden_size << i
    }

    /// The last stage's width.
    pub fn num_features(&self) -> usize {
        self.stage_width(self.depths.len().saturating_sub(1))
    }
}

impl ClapConfig {
    /// Refuses options this implementation does not support, naming the field.
    pub fn validate(&self) -> Result<(), Unsupported> {
        if let Some(model_type) = &self.model_type
            && model_type != "clap"
        {
            return Err(Unsupported::new(
                "model_type",
                format!("`{model_type}` is not a CLAP model (expected `clap`)"),
            ));
        }
        let t = &self.text_config;
        if t.hidden_size == 0
            || t.num_attention_heads == 0
            || !t.hidden_size.is_multiple_of(t.num_attention_heads)
        {
            return Err(Unsupported::new(
                "text_config.num_attention_heads",
                format!(
                    "{} heads do not divide the width {}",
                    t.num_attention_heads, t.hidden_size
                ),
            ));
        }
        if t.max_position_embeddings <= t.pad_token_id as usize + 2 {
            return Err(Unsupported::new(
                "text_config.max_position_embeddings",
                "leaves no position for a token after the padding offset",
            ));
        }
        if self.projection_dim == 0 {
            return Err(Unsupported::new("projection_dim", "must be positive"));
        }
        self.validate_audio()
    }

    fn validate_audio(&self) -> Result<(), Unsupported> {
        let a = &self.audio_config;
        if a.enable_fusion {
            return Err(Unsupported::new(
                "audio_config.enable_fusion",
                "fused CLAP checkpoints are not supported (use an unfused one such as \
                 laion/clap-htsat-unfused or laion/larger_clap_music)",
            ));
        }
        if a.patch_embed_input_channels != 1 || !a.flatten_patch_embeds {
            return Err(Unsupported::new(
                "audio_config.patch_embed_input_channels",
                "only one input channel with flattened patch embeddings",
            ));
        }
        if a.num_mel_bins == 0 || a.spec_size == 0 || !a.spec_size.is_multiple_of(a.num_mel_bins) {
            return Err(Unsupported::new(
                "audio_config.spec_size",
                format!(
                    "{} is not a multiple of num_mel_bins {}",
                    a.spec_size, a.num_mel_bins
                ),
            ));
        }
        let (kh, kw) = a.patch_size.get();
        let (sh, sw) = a.patch_stride.get();
        if sh != sw || kh != kw || sh == 0 || kh < sh || !a.spec_size.is_multiple_of(sh) {
            return Err(Unsupported::new(
                "audio_config.patch_stride",
                "only square patches and strides, the stride dividing spec_size and no larger \
                 than the patch",
            ));
        }
        if a.depths.is_empty() || a.depths.len() != a.num_attention_heads.len() {
            return Err(Unsupported::new(
                "audio_config.depths",
                "one depth and one head count per stage",
            ));
        }
        let (gh, gw) = a.grid();
        for (i, &heads) in a.num_attention_heads.iter().enumerate() {
            let width = a.stage_width(i);
            if heads == 0 || width == 0 || !width.is_multiple_of(heads) {
                return Err(Unsupported::new(
                    "audio_config.num_attention_heads",
                    format!("stage {i}: {heads} heads do not divide the width {width}"),
                ));
            }
            // transformers shrinks the window to a smaller resolution but keeps the bias table
            // of the configured window, which then does not fit: refuse what cannot run there.
            let side = (gh >> i).min(gw >> i);
            if side < a.window_size || side == 0 || a.window_size == 0 {
                return Err(Unsupported::new(
                    "audio_config.window_size",
                    format!(
                        "stage {i}: the window {} is larger than the resolution {side}",
                        a.window_size
                    ),
                ));
            }
        }
        if a.hidden_size != a.num_features() {
            return Err(Unsupported::new(
                "audio_config.hidden_size",
                format!(
                    "{} is not the last stage's width {}",
                    a.hidden_size,
                    a.num_features()
                ),
            ));
        }
        Ok(())
    }
}

/// `preprocessor_config.json` of a CLAP checkpoint (`ClapFeatureExtractor`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ClapFeatureConfig {
    /// Mel bands (`n_mels`).
    pub feature_size: usize,
    pub sampling_rate: u32,
    pub hop_length: usize,
    /// Clips are padded or cut to `max_length_s * sampling_rate` samples.
    pub max_length_s: usize,
    pub fft_window_size: usize,
    pub frequency_min: f64,
    pub frequency_max: f64,
    /// `"rand_trunc"` (unfused checkpoints) or `"fusion"` (fused; not supported).
    pub truncation: String,
    /// `"repeatpad"`, `"repeat"` or `"pad"`.
    pub padding: String,
}

impl Default for ClapFeatureConfig {
    fn default() -> Self {
        Self {
            feature_size: 64,
            sampling_rate: 48_000,
            hop_length: 480,
            max_length_s: 10,
            fft_window_size: 1024,
            frequency_min: 0.0,
            frequency_max: 14_000.0,
            truncation: "fusion".into(),
            padding: "repeatpad".into(),
        }
    }
}

/// How a clip shorter than the maximum length is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Repeated whole as often as it fits, then padded.
    RepeatPad,
    /// Repeated and cut to the maximum length.
    Repeat,
    /// Padded.
    Pad,
}

impl ClapFeatureConfig {
    /// The padding mode, or a refusal naming the field.
    pub fn padding_mode(&self) -> Result<Padding, Unsupported> {
        match self.padding.as_str() {
            "repeatpad" => Ok(Padding::RepeatPad),
            "repeat" => Ok(Padding::Repeat),
            "pad" => Ok(Padding::Pad),
            other => Err(Unsupported::new(
                "padding",
                format!("`{other}` is not one of repeatpad, repeat, pad"),
            )),
        }
    }

    /// Refuses options this implementation does not support, naming the field.
    pub fn validate(&self) -> Result<(), Unsupported> {
        if self.truncation != "rand_trunc" {
            return Err(Unsupported::new(
                "truncation",
                format!(
                    "`{}`: only the unfused checkpoints' `rand_trunc` is supported",
                    self.truncation
                ),
            ));
        }
        self.padding_mode()?;
        if self.fft_window_size < 2 || self.hop_length == 0 || self.feature_size == 0 {
            return Err(Unsupported::new(
                "fft_window_size",
                "fft_window_size, hop_length and feature_size must be positive",
            ));
        }
        if self.max_length_s == 0 || self.sampling_rate == 0 {
            return Err(Unsupported::new(
                "max_length_s",
                "max_length_s and sampling_rate must be positive",
            ));
        }
        if !(self.frequency_min >= 0.0 && self.frequency_min <= self.frequency_max) {
            return Err(Unsupported::new(
                "frequency_min",
                "needs 0 <= frequency_min <= frequency_max",
            ));
        }
        Ok(())
    }

    /// The clip length the extractor pads or cuts to, in samples.
    pub fn max_samples(&self) -> usize {
        self.max_length_s * self.sampling_rate as usize
    }
}
