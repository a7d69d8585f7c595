//! The EnCodec configuration as Hugging Face writes it (`EncodecConfig`, the `audio_encoder`
//! section of a MusicGen `config.json`), with the derived quantities transformers computes from it
//! and a `validate()` that refuses the options this decoder does not implement.

use candle_core::{Result, bail};
use serde::Deserialize;

fn default_target_bandwidths() -> Vec<f64> {
    vec![1.5, 3.0, 6.0, 12.0, 24.0]
}
fn default_sampling_rate() -> usize {
    24_000
}
fn default_one() -> usize {
    1
}
fn default_two() -> usize {
    2
}
fn default_seven() -> usize {
    7
}
fn default_three() -> usize {
    3
}
fn default_hidden_size() -> usize {
    128
}
fn default_num_filters() -> usize {
    32
}
fn default_upsampling_ratios() -> Vec<usize> {
    vec![8, 5, 4, 2]
}
fn default_norm_type() -> String {
    "weight_norm".to_string()
}
fn default_pad_mode() -> String {
    "reflect".to_string()
}
fn default_true() -> bool {
    true
}
fn default_trim_right_ratio() -> f64 {
    1.0
}
fn default_codebook_size() -> usize {
    1024
}

/// `EncodecConfig` with the Hugging Face field names. A missing field takes transformers'
/// default (so a config that omits `use_causal_conv` is causal, and refused by [`Config::validate`],
/// exactly as transformers would build a causal model). Unknown fields are ignored; both `dtype`
/// (transformers 5) and `torch_dtype` (older files) are accepted and not used: tensor dtypes come
/// from the weight files.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Config {
    /// Bandwidths in kbit/s; the last one sets the number of codebooks (see [`Config::num_codebooks`]).
    #[serde(default = "default_target_bandwidths")]
    pub target_bandwidths: Vec<f64>,
    /// Audio samples per second (32000 for MusicGen).
    #[serde(default = "default_sampling_rate")]
    pub sampling_rate: usize,
    /// Audio channels of the codec (1: MusicGen's EnCodec is mono).
    #[serde(default = "default_one")]
    pub audio_channels: usize,
    /// Whether the encoder normalises its input by a per-chunk scale.
    #[serde(default)]
    pub normalize: bool,
    /// Chunked encoding and overlap-add decoding (the 48 kHz model); `null` for MusicGen.
    #[serde(default)]
    pub chunk_length_s: Option<f64>,
    /// Overlap of the chunks when `chunk_length_s` is set.
    #[serde(default)]
    pub overlap: Option<f64>,
    /// Width of the latent between the SEANet encoder/decoder and the quantizer.
    #[serde(default = "default_hidden_size")]
    pub hidden_size: usize,
    /// Channels of the outermost SEANet layer; doubled at each of the upsampling stages inwards.
    #[serde(default = "default_num_filters")]
    pub num_filters: usize,
    /// Residual blocks after each upsampling layer.
    #[serde(default = "default_one")]
    pub num_residual_layers: usize,
    /// Strides of the decoder's transposed convolutions, in decoder order.
    #[serde(default = "default_upsampling_ratios")]
    pub upsampling_ratios: Vec<usize>,
    /// `weight_norm` (supported) or `time_group_norm` (refused).
    #[serde(default = "default_norm_type")]
    pub norm_type: String,
    /// Kernel of the first convolution.
    #[serde(default = "default_seven")]
    pub kernel_size: usize,
    /// Kernel of the last convolution.
    #[serde(default = "default_seven")]
    pub last_kernel_size: usize,
    /// Kernel of the first convolution of each residual block.
    #[serde(default = "default_three")]
    pub residual_kernel_size: usize,
    /// Dilation of residual block j is `dilation_growth_rate^j`.
    #[serde(default = "default_two")]
    pub dilation_growth_rate: usize,
    /// Causal convolutions (refused: MusicGen's EnCodec is not causal).
    #[serde(default = "default_true")]
    pub use_causal_conv: bool,
    /// Padding mode of the convolutions (only `reflect` is supported).
    #[serde(default = "default_pad_mode")]
    pub pad_mode: String,
    /// Channel reduction inside the residual blocks.
    #[serde(default = "default_two")]
    pub compress: usize,
    /// Layers of the LSTM after the first decoder convolution.
    #[serde(default = "default_two")]
    pub num_lstm_layers: usize,
    /// Right-trim ratio of causal transposed convolutions; must be 1.0 when not causal.
    #[serde(default = "default_trim_right_ratio")]
    pub trim_right_ratio: f64,
    /// Entries per codebook (a power of two).
    #[serde(default = "default_codebook_size")]
    pub codebook_size: usize,
    /// Width of a codebook entry; `null` means `hidden_size`.
    #[serde(default)]
    pub codebook_dim: Option<usize>,
    /// A 1×1 convolution as the residual shortcut (refused) instead of the identity.
    #[serde(default = "default_true")]
    pub use_conv_shortcut: bool,
    /// The dtype transformers 5 writes; informative only.
    #[serde(default)]
    pub dtype: Option<String>,
    /// The dtype older transformers write; informative only.
    #[serde(default)]
    pub torch_dtype: Option<String>,
}

/// Python's float floor division `a // b` for finite positive operands, digit for digit
/// (CPython computes it from `fmod`, which can differ from `(a / b).floor()` by one ulp-step).
fn py_floordiv(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div == 0.0 {
        return 0.0;
    }
    let floor = div.floor();
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

impl Config {
    /// The settings of `facebook/musicgen-small`'s `audio_encoder` (EnCodec 32 kHz).
    pub fn musicgen_small() -> Self {
        Self {
            target_bandwidths: vec![2.2],
            sampling_rate: 32_000,
            audio_channels: 1,
            normalize: false,
            chunk_length_s: None,
            overlap: None,
            hidden_size: 128,
            num_filters: 64,
            num_residual_layers: 1,
            upsampling_ratios: vec![8, 5, 4, 4],
            norm_type: "weight_norm".to_string(),
            kernel_size: 7,
            last_kernel_size: 7,
            residual_kernel_size: 3,
            dilation_growth_rate: 2,
            use_causal_conv: false,
            pad_mode: "reflect".to_string(),
            compress: 2,
            num_lstm_layers: 2,
            trim_right_ratio: 1.0,
            codebook_size: 2048,
            codebook_dim: Some(128),
            use_conv_shortcut: false,
            dtype: None,
            torch_dtype: None,
        }
    }

    /// Refuses every option the decoder does not implement, and sizes that cannot build a model.
    pub fn validate(&self) -> Result<()> {
        if self.use_causal_conv {
            bail!(
                "encodec config: use_causal_conv = true is not supported (only the non-causal decoder MusicGen uses)"
            )
        }
        if self.norm_type != "weight_norm" {
            bail!(
                "encodec config: norm_type `{}` is not supported (only `weight_norm`)",
                self.norm_type
            )
        }
        if self.pad_mode != "reflect" {
            bail!(
                "encodec config: pad_mode `{}` is not supported (only `reflect`)",
                self.pad_mode
            )
        }
        if self.use_conv_shortcut {
            bail!(
                "encodec config: use_conv_shortcut = true is not supported (only identity shortcuts)"
            )
        }
        if self.normalize {
            bail!(
                "encodec config: normalize = true is not supported: decoding would need the encoder's per-chunk scales"
            )
        }
        if self.chunk_length_s.is_some() {
            bail!("encodec config: chunk_length_s is not supported (chunked overlap-add decoding)")
        }
        if self.trim_right_ratio != 1.0 {
            bail!(
                "encodec config: trim_right_ratio {} must be 1.0 for a non-causal model",
                self.trim_right_ratio
            )
        }
        if self.audio_channels != 1 {
            bail!(
                "encodec config: audio_channels = {} is not supported (MusicGen's EnCodec is mono)",
                self.audio_channels
            )
        }
        if self.upsampling_ratios.is_empty() || self.upsampling_ratios.contains(&0) {
            bail!(
                "encodec config: upsampling_ratios {:?} must be non-empty and positive",
                self.upsampling_ratios
            )
        }
        if self.upsampling_ratios.len() > 16 {
            bail!(
                "encodec config: too many upsampling_ratios ({})",
                self.upsampling_ratios.len()
            )
        }
        for (name, value) in [
            ("sampling_rate", self.sampling_rate),
            ("hidden_size", self.hidden_size),
            ("num_filters", self.num_filters),
            ("kernel_size", self.kernel_size),
            ("last_kernel_size", self.last_kernel_size),
            ("residual_kernel_size", self.residual_kernel_size),
            ("dilation_growth_rate", self.dilation_growth_rate),
            ("compress", self.compress),
            ("num_lstm_layers", self.num_lstm_layers),
        ] {
            if value == 0 {
                bail!("encodec config: {name} must be positive")
            }
        }
        if !self.codebook_size.is_power_of_two() {
            bail!(
                "encodec config: codebook_size {} must be a power of two",
                self.codebook_size
            )
        }
        if self.codebook_dim() != self.hidden_size {
            bail!(
                "encodec config: codebook_dim {} must equal hidden_size {} (the decoder has no projection)",
                self.codebook_dim(),
                self.hidden_size
            )
        }
        // The residual blocks' inner width is `dim // compress` (floored, as transformers does);
        // the narrowest blocks have `num_filters` channels.
        if self.num_filters < self.compress {
            bail!(
                "encodec config: num_filters {} is smaller than compress {}: the residual blocks would have no channels",
                self.num_filters,
                self.compress
            )
        }
        match self.target_bandwidths.last() {
            Some(bw) if bw.is_finite() && *bw > 0.0 => {}
            _ => bail!(
                "encodec config: target_bandwidths {:?} must end with a positive bandwidth",
                self.target_bandwidths
            ),
        }
        if self.num_codebooks() == 0 {
            bail!(
                "encodec config: target_bandwidths {:?} give no codebook",
                self.target_bandwidths
            )
        }
        Ok(())
    }

    /// Audio samples per code frame: the product of `upsampling_ratios` (640 for MusicGen).
    pub fn hop_length(&self) -> usize {
        self.upsampling_ratios.iter().product()
    }

    /// Code frames per second, `ceil(sampling_rate / hop_length)` as transformers computes it
    /// (50 for MusicGen).
    pub fn frame_rate(&self) -> usize {
        self.sampling_rate.div_ceil(self.hop_length().max(1))
    }

    /// Audio samples per second.
    pub fn sampling_rate(&self) -> usize {
        self.sampling_rate
    }

    /// Bits per code: `ceil(log2(codebook_size))`.
    pub fn codebook_nbits(&self) -> usize {
        self.codebook_size
            .max(1)
            .next_power_of_two()
            .trailing_zeros() as usize
    }

    /// Width of a codebook entry (`codebook_dim`, or `hidden_size` when unset).
    pub fn codebook_dim(&self) -> usize {
        self.codebook_dim.unwrap_or(self.hidden_size)
    }

    /// Number of codebooks (residual quantizers), as transformers' `num_quantizers`:
    /// `int(1000 * target_bandwidths[-1] // (frame_rate * codebook_nbits))`, with Python's float
    /// floor division. MusicGen-small: `2200 // 550 = 4`.
    pub fn num_codebooks(&self) -> usize {
        let Some(bw) = self.target_bandwidths.last() else {
            return 0;
        };
        let denom = (self.frame_rate() * self.codebook_nbits()) as f64;
        if denom <= 0.0 || !bw.is_finite() || *bw <= 0.0 {
            return 0;
        }
        py_floordiv(1000.0 * bw, denom) as usize
    }

    /// Codebooks `encode` writes at the default bandwidth (`target_bandwidths[0]`), as
    /// transformers' `get_num_quantizers_for_bandwidth`: `max(1, floor(bw · 1000 / (frame_rate ·
    /// codebook_nbits)))`, at most [`Config::num_codebooks`]. MusicGen-small: 4.
    pub fn encode_codebooks(&self) -> usize {
        let per_codebook = (self.frame_rate() * self.codebook_nbits()) as f64;
        let wanted = match self.target_bandwidths.first() {
            Some(bw) if *bw > 0.0 && per_codebook > 0.0 => (bw * 1000.0 / per_codebook).floor(),
            _ => return self.num_codebooks(),
        };
        (wanted.max(1.0) as usize).min(self.num_codebooks())
    }

    /// Channels after the first decoder convolution and through the LSTM:
    /// `num_filters · 2^len(upsampling_ratios)` (1024 for MusicGen).
    pub fn lstm_dim(&self) -> usize {
        self.num_filters << self.upsampling_ratios.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_floor_division() {
        assert_eq!(py_floordiv(1000.0 * 2.2, 550.0), 4.0);
        assert_eq!(py_floordiv(1400.0, 300.0), 4.0);
        assert_eq!(py_floordiv(1000.0 * 6.0, 750.0), 8.0);
        assert_eq!(py_floordiv(1000.0 * 1.5, 750.0), 2.0);
        assert_eq!(py_floordiv(1.0, 3.0), 0.0);
    }

    #[test]
    fn musicgen_small_numbers() {
        let cfg = Config::musicgen_small();
        cfg.validate().unwrap();
        assert_eq!(cfg.hop_length(), 640);
        assert_eq!(cfg.frame_rate(), 50);
        assert_eq!(cfg.codebook_nbits(), 11);
        assert_eq!(cfg.num_codebooks(), 4);
        assert_eq!(cfg.lstm_dim(), 1024);
    }
}
