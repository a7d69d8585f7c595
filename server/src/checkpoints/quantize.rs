//! What `--quantize` asks for and what each model gets: by default (`auto`), on a CPU, the
//! quantization the measurements chose for each model (docs/benchmarks.md): MusicGen's decoder
//! in q4k (about three times the steps a second of f32, real time on two cores, mean log-prob
//! within 1.5 % of f32's), Falcon-RW in q8_0 (about four times the tokens a second, q8_0's
//! greedy agreement with f32 above 0.93 where it was measured); on CUDA nothing (bf16 there).

use candle_core::Device;
use ekphrasis_models::kernels::dense::Quantization;
use ekphrasis_models::{falcon_rw, musicgen};

/// The narrowest weight rows among the measured models (MusicGen-small's decoder is 1024 wide).
pub const MEASURED_WIDTH: usize = 1024;

/// The `--quantize` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuantizeChoice {
    /// Each model as measured best on the device (see the module's note).
    #[default]
    Auto,
    /// Every weight as the checkpoint stores it (f32 on a CPU, bf16 on CUDA).
    Off,
    /// Falcon-RW's and MusicGen's decoder weights in this format.
    Every(Quantization),
}

impl QuantizeChoice {
    /// The format of MusicGen's decoder weights on `device`; `None` keeps them as loaded.
    pub fn for_musicgen(self, device: &Device, config: &musicgen::Config) -> Option<Quantization> {
        let rows = [config.decoder.hidden_size, config.decoder.ffn_dim];
        self.choose(device, Quantization::Q4K, &rows)
    }

    /// The format of Falcon-RW's weights on `device`; `None` keeps them as loaded.
    pub fn for_falcon(self, device: &Device, config: &falcon_rw::Config) -> Option<Quantization> {
        let rows = [config.hidden_size, 4 * config.hidden_size];
        self.choose(device, Quantization::Q8_0, &rows)
    }

    /// `auto` picks `measured` on a CPU for a model as wide as those measured (rows of at
    /// least [`MEASURED_WIDTH`] that fit the format's blocks); narrower ones, like the tiny demo
    /// models, stay as loaded. A named format is always used, and a model whose rows do not fit
    /// it is refused when it is quantized.
    fn choose(
        self,
        device: &Device,
        measured: Quantization,
        rows: &[usize],
    ) -> Option<Quantization> {
        match self {
            QuantizeChoice::Off => None,
            QuantizeChoice::Every(quantization) => Some(quantization),
            QuantizeChoice::Auto => (device.is_cpu()
                && rows
                    .iter()
                    .all(|&len| len >= MEASURED_WIDTH && len % measured.block_len() == 0))
            .then_some(measured),
        }
    }
}

impl std::str::FromStr for QuantizeChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(QuantizeChoice::Auto),
            "none" | "off" | "f32" => Ok(QuantizeChoice::Off),
            other => other.parse().map(QuantizeChoice::Every).map_err(|_| {
                format!("unknown quantization `{other}`: use auto, none, q8_0 or q4k")
            }),
        }
    }
}

impl std::fmt::Display for QuantizeChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuantizeChoice::Auto => f.write_str("auto"),
            QuantizeChoice::Off => f.write_str("none"),
            QuantizeChoice::Every(quantization) => quantization.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_quantizes_the_published_sizes_on_a_cpu_and_leaves_tiny_models_alone() {
        let cpu = Device::Cpu;
        let musicgen = musicgen::Config::musicgen_small();
        let falcon = falcon_rw::Config::falcon_rw_1b();
        let auto = QuantizeChoice::Auto;
        assert_eq!(auto.for_musicgen(&cpu, &musicgen), Some(Quantization::Q4K));
        assert_eq!(auto.for_falcon(&cpu, &falcon), Some(Quantization::Q8_0));
        let mut tiny = musicgen.clone();
        tiny.decoder.hidden_size = 32;
        tiny.decoder.ffn_dim = 64;
        assert_eq!(auto.for_musicgen(&cpu, &tiny), None);
        let mut tiny_falcon = falcon.clone();
        tiny_falcon.hidden_size = 32;
        assert_eq!(auto.for_falcon(&cpu, &tiny_falcon), None);
        assert_eq!(QuantizeChoice::Off.for_musicgen(&cpu, &musicgen), None);
        let q8 = QuantizeChoice::Every(Quantization::Q8_0);
        assert_eq!(q8.for_musicgen(&cpu, &tiny), Some(Quantization::Q8_0));
    }

    #[test]
    fn parses_and_prints_every_spelling() {
        for text in ["auto", "none", "q8_0", "q4k"] {
            let choice: QuantizeChoice = text.parse().unwrap();
            assert_eq!(choice.to_string(), text);
        }
        assert_eq!("f32".parse(), Ok(QuantizeChoice::Off));
        let err = "q2".parse::<QuantizeChoice>().unwrap_err();
        assert!(err.contains("auto, none, q8_0 or q4k"), "{err}");
    }
}
