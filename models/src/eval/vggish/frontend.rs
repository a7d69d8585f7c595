//! VGGish's input: torchvggish's `vggish_input.waveform_to_examples`, in f64 like numpy, with
//! the examples rounded to f32 at the end as torchvggish's `.float()` does.
//!
//! Samples (already floats, e.g. 16-bit values / 32768) are resampled to 16 kHz with resampy's
//! `kaiser_best` ([`super::resampy`]); 25 ms frames every 10 ms (400 samples, hop 160, no
//! padding) are windowed with a periodic Hann window and their 512-point FFT magnitudes taken;
//! 64 HTK mel bands from 125 to 7500 Hz (the DC bin's weights zeroed) give log(mel + 0.01); and
//! non-overlapping runs of 96 frames make the examples. A trailing partial example is dropped, so a
//! clip shorter than 0.975 s (15 600 samples at 16 kHz: 96 frames) gives none.

use std::sync::OnceLock;

use candle_core::{Device, Tensor};
use realfft::RealFftPlanner;

use super::resampy;
use crate::error::Result;

/// The rate VGGish listens at.
pub const SAMPLE_RATE: u32 = 16_000;
/// STFT window, in samples (25 ms).
pub const WINDOW: usize = 400;
/// STFT hop, in samples (10 ms).
pub const HOP: usize = 160;
/// FFT length (the window rounded up to a power of two).
pub const FFT: usize = 512;
/// Mel bands per frame.
pub const MEL_BANDS: usize = 64;
/// Frames per example (0.96 s).
pub const EXAMPLE_FRAMES: usize = 96;
/// Lowest and highest mel band edges, in Hz.
const MEL_RANGE_HZ: (f64, f64) = (125.0, 7500.0);
/// Added before the logarithm.
const LOG_OFFSET: f64 = 0.01;

/// Log-mel examples of one clip: `count` blocks of 96 frames × 64 bands, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Examples {
    /// How many examples.
    pub count: usize,
    /// `count · 96 · 64` values: example, then frame, then band.
    pub values: Vec<f32>,
}

impl Examples {
    /// The examples as a `(count, 96, 64)` tensor.
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        Ok(Tensor::from_slice(
            &self.values,
            (self.count, EXAMPLE_FRAMES, MEL_BANDS),
            device,
        )?)
    }

    /// Whether the clip was too short for a single example.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The mean of the channels of interleaved samples (`channels` values per instant), taken in
/// f64 as numpy's `np.mean(data, axis=1)` does.
pub fn mix_to_mono(interleaved: &[f32], channels: usize) -> Vec<f32> {
    let channels = channels.max(1);
    interleaved
        .chunks_exact(channels)
        .map(|frame| {
            let sum: f64 = frame.iter().map(|&s| f64::from(s)).sum();
            (sum / channels as f64) as f32
        })
        .collect()
}

/// The VGGish examples of mono `samples` at `rate` samples per second. A clip shorter than one
/// example gives `count == 0`.
pub fn examples(samples: &[f32], rate: u32) -> Result<Examples> {
    let samples: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
    examples_f64(&samples, rate)
}

/// [`examples`] of samples already in f64.
pub fn examples_f64(samples: &[f64], rate: u32) -> Result<Examples> {
    let resampled;
    let audio = if rate == SAMPLE_RATE || samples.is_empty() {
        samples
    } else if (samples.len() as f64 * f64::from(SAMPLE_RATE) / f64::from(rate)) < 1.0 {
        // Too short for even one output sample: resampy refuses; there is no example either.
        &[][..]
    } else {
        resampled = resampy::resample(samples, rate, SAMPLE_RATE)?;
        &resampled[..]
    };
    let log_mel = log_mel_frames(audio);
    let frames = log_mel.len() / MEL_BANDS;
    let count = frames / EXAMPLE_FRAMES;
    let values = log_mel[..count * EXAMPLE_FRAMES * MEL_BANDS]
        .iter()
        .map(|&v| v as f32)
        .collect();
    Ok(Examples { count, values })
}

/// log(mel + 0.01) of every full 400-sample frame of 16 kHz audio: frames × 64 values.
fn log_mel_frames(audio: &[f64]) -> Vec<f64> {
    if audio.len() < WINDOW {
        return Vec::new();
    }
    let frames = 1 + (audio.len() - WINDOW) / HOP;
    let window = periodic_hann();
    let mel = mel_matrix();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(FFT);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut magnitudes = vec![0.0f64; FFT / 2 + 1];
    let mut out = Vec::with_capacity(frames * MEL_BANDS);
    for f in 0..frames {
        let start = f * HOP;
        input.fill(0.0);
        for (i, (slot, w)) in input.iter_mut().zip(&window).enumerate() {
            *slot = audio[start + i] * w;
        }
        fft.process(&mut input, &mut spectrum)
            .expect("the buffers come from the plan itself");
        for (m, c) in magnitudes.iter_mut().zip(&spectrum) {
            *m = c.re.hypot(c.im);
        }
        for band in 0..MEL_BANDS {
            let energy: f64 = magnitudes
                .iter()
                .enumerate()
                .map(|(bin, m)| m * mel[bin * MEL_BANDS + band])
                .sum();
            out.push((energy + LOG_OFFSET).ln());
        }
    }
    out
}

/// `0.5 − 0.5·cos(2π/N · n)`: the Hann window that ends just before its final zero.
fn periodic_hann() -> Vec<f64> {
    let step = 2.0 * std::f64::consts::PI / WINDOW as f64;
    (0..WINDOW)
        .map(|n| 0.5 - 0.5 * (step * n as f64).cos())
        .collect()
}

/// HTK mel scale: 1127 · ln(1 + f / 700).
fn hertz_to_mel(hertz: f64) -> f64 {
    1127.0 * (1.0 + hertz / 700.0).ln()
}

/// numpy's `linspace(start, stop, num)` (endpoint included).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    (0..num)
        .map(|i| {
            if i == num - 1 {
                stop
            } else {
                i as f64 * step + start
            }
        })
        .collect()
}

/// The (257 bins × 64 bands) triangular mel weights of torchvggish's
/// `spectrogram_to_mel_matrix`, row-major, the DC row zeroed.
fn mel_matrix() -> &'static [f64] {
    static MATRIX: OnceLock<Vec<f64>> = OnceLock::new();
    MATRIX.get_or_init(|| {
        let bins = FFT / 2 + 1;
        let bin_mels: Vec<f64> = linspace(0.0, f64::from(SAMPLE_RATE) / 2.0, bins)
            .into_iter()
            .map(hertz_to_mel)
            .collect();
        let edges = linspace(
            hertz_to_mel(MEL_RANGE_HZ.0),
            hertz_to_mel(MEL_RANGE_HZ.1),
            MEL_BANDS + 2,
        );
        let mut matrix = vec![0.0f64; bins * MEL_BANDS];
        for band in 0..MEL_BANDS {
            let (lower, center, upper) = (edges[band], edges[band + 1], edges[band + 2]);
            for (bin, &mel) in bin_mels.iter().enumerate().skip(1) {
                let rising = (mel - lower) / (center - lower);
                let falling = (upper - mel) / (upper - center);
                matrix[bin * MEL_BANDS + band] = rising.min(falling).max(0.0);
            }
        }
        matrix
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_shorter_than_one_example_gives_none() {
        let samples = vec![0.1f32; 15_599];
        assert_eq!(examples(&samples, SAMPLE_RATE).unwrap().count, 0);
        // 400 + 95 · 160 = 15 600 samples make exactly 96 frames.
        let samples = vec![0.1f32; 15_600];
        assert_eq!(examples(&samples, SAMPLE_RATE).unwrap().count, 1);
        assert_eq!(examples(&[], 44_100).unwrap().count, 0);
        assert_eq!(examples(&[0.5], 44_100).unwrap().count, 0);
    }

    #[test]
    fn channels_are_averaged() {
        assert_eq!(mix_to_mono(&[1.0, 0.0, 0.5, 0.25], 2), vec![0.5, 0.375]);
    }

    #[test]
    fn mel_weights_are_triangles_without_dc() {
        let mel = mel_matrix();
        assert!(mel[..MEL_BANDS].iter().all(|&w| w == 0.0));
        assert!(mel.iter().all(|&w| (0.0..=1.0).contains(&w)));
    }
}
