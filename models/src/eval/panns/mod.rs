//! PANNs CNN14 (the 32 kHz AudioSet tagger, `Cnn14_mAP=0.431.pth`) as audioldm_eval listens
//! through it for its paired KL and Inception Score: the clip normalisation of its loader, the
//! torchlibrosa front end and the network in eval mode, giving the 527 pre-sigmoid logits.
//!
//! - [`normalise_clip`]: audioldm_eval's `WaveDataset.read_from_file` on a clip already at the
//!   model's rate: the clip's mean removed, then zeros appended up to 32 000 samples (1 s).
//! - [`normalise_clip_at`]: the same for a clip at another rate, resampled to 32 kHz after the
//!   mean is removed, as audioldm_eval does, by [`resample::resample`] (torchaudio's).
//! - [`frontend`]: the log-mel front end, kernels and mel matrix from the checkpoint.
//! - [`model`]: the network, [`Cnn14`].
//! - [`weights`]: reading the checkpoint (`.pth`, zip or legacy, or `.safetensors`) through
//!   [`crate::eval::torch_state_dict`], taking the published dict's `"model"` entry.
//!
//! Left to the caller: audioldm_eval reads only a file's first channel (`audio[0:1]`), not the
//! mean of the channels; hand over that channel.

pub mod frontend;
pub mod model;
pub mod resample;
pub mod weights;

pub use model::{Cnn14, Cnn14Dims};

/// audioldm_eval pads clips shorter than this many samples (`pad_short_audio`): 1 s at 32 kHz.
pub const MIN_SAMPLES: usize = 32_000;
/// The rate of the published CNN14 (`Cnn14_mAP=0.431.pth`) and of audioldm_eval's 32 kHz
/// evaluator.
pub const SAMPLE_RATE: u32 = 32_000;

/// A clip as audioldm_eval hands it to CNN14: its mean (over the whole clip, float32) removed and
/// zeros appended up to [`MIN_SAMPLES`]. An empty clip becomes [`MIN_SAMPLES`] zeros, as there.
pub fn normalise_clip(samples: &[f32]) -> Vec<f32> {
    pad_to_min(remove_mean(samples))
}

/// A clip at `sample_rate` as audioldm_eval hands it to the 32 kHz CNN14: its mean removed,
/// resampled to 32 kHz ([`resample::resample`]), then padded to [`MIN_SAMPLES`].
pub fn normalise_clip_at(samples: &[f32], sample_rate: u32) -> Vec<f32> {
    let centred = remove_mean(samples);
    pad_to_min(resample::resample(&centred, sample_rate, SAMPLE_RATE))
}

/// The clip less its mean (taken in f64, rounded to f32 as torch's float32 mean is).
fn remove_mean(samples: &[f32]) -> Vec<f32> {
    let mean = if samples.is_empty() {
        0.0
    } else {
        (samples.iter().map(|&s| f64::from(s)).sum::<f64>() / samples.len() as f64) as f32
    };
    samples.iter().map(|&s| s - mean).collect()
}

/// Zeros appended up to [`MIN_SAMPLES`].
fn pad_to_min(mut normalised: Vec<f32>) -> Vec<f32> {
    if normalised.len() < MIN_SAMPLES {
        normalised.resize(MIN_SAMPLES, 0.0);
    }
    normalised
}
