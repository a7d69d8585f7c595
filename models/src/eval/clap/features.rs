//! CLAP's audio front end as transformers' `ClapFeatureExtractor` computes it for the unfused
//! checkpoints (`truncation: "rand_trunc"`): a 48 kHz clip is fitted to the maximum length
//! (a longer clip keeps its **first** `max_length` samples, where the reference crops at random;
//! a shorter one is repeated and padded per `padding`), then a centred, reflect-padded STFT with a
//! periodic Hann window, power spectrum, Slaney mel filters with Slaney normalisation, and
//! `10 · log10(max(mel, 1e-10))` — `top_db` is not applied, as in the reference.
//!
//! The reference computes in f64 but stores the FFT as complex64 before taking magnitudes, and
//! returns f32; this port rounds at the same two places.

use realfft::RealFftPlanner;

use super::config::{ClapFeatureConfig, Padding};
use crate::error::{Error, Result, Unsupported};

/// The floor under mel energies and under the dB conversion (`mel_floor`, `min_value`).
const FLOOR: f64 = 1e-10;

/// The feature extractor of one checkpoint.
#[derive(Debug, Clone)]
pub struct FeatureExtractor {
    config: ClapFeatureConfig,
    padding: Padding,
    /// `(fft_window_size / 2 + 1) × feature_size`, row-major.
    mel_filters: Vec<f64>,
    window: Vec<f64>,
}

impl FeatureExtractor {
    /// The extractor for a checkpoint's `preprocessor_config.json`.
    pub fn new(config: ClapFeatureConfig) -> Result<Self, Unsupported> {
        config.validate()?;
        let padding = config.padding_mode()?;
        let mel_filters = slaney_mel_filters(
            config.fft_window_size / 2 + 1,
            config.feature_size,
            config.frequency_min,
            config.frequency_max,
            config.sampling_rate,
        );
        let window = periodic_hann(config.fft_window_size);
        Ok(Self {
            config,
            padding,
            mel_filters,
            window,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ClapFeatureConfig {
        &self.config
    }

    /// The Slaney filter bank, `(frequency bins) × (mel bands)` row-major, in f64.
    pub fn mel_filters(&self) -> &[f64] {
        &self.mel_filters
    }

    /// Mel bands per frame.
    pub fn mel_bands(&self) -> usize {
        self.config.feature_size
    }

    /// Frames of every clip's features: `1 + max_samples / hop` (1001 for 10 s at 48 kHz).
    pub fn frames(&self) -> usize {
        let half = self.config.fft_window_size / 2;
        1 + (self.config.max_samples() + 2 * half - self.config.fft_window_size)
            / self.config.hop_length
    }

    /// The clip the spectrogram is taken of: its first `max_samples`, or the clip repeated and
    /// padded with zeros as `padding` says.
    pub fn fit_to_length(&self, samples: &[f32]) -> Vec<f32> {
        let max = self.config.max_samples();
        if samples.len() >= max || samples.is_empty() {
            let mut out = samples[..samples.len().min(max)].to_vec();
            out.resize(max, 0.0);
            return out;
        }
        let copies = max / samples.len();
        let mut out = match self.padding {
            Padding::RepeatPad => samples.repeat(copies),
            Padding::Repeat => samples.repeat(copies + 1),
            Padding::Pad => samples.to_vec(),
        };
        out.truncate(max);
        out.resize(max, 0.0);
        out
    }

    /// The model input of one clip at the extractor's rate: `frames() × mel_bands()` log-mel
    /// values (dB), row-major by frame.
    pub fn features(&self, samples: &[f32]) -> Result<Vec<f32>> {
        if samples.is_empty() {
            return Err(Error::Input("CLAP features of an empty clip".into()));
        }
        if samples.iter().any(|s| !s.is_finite()) {
            return Err(Error::Input(
                "CLAP features of a clip with non-finite samples".into(),
            ));
        }
        Ok(self.log_mel(&self.fit_to_length(samples)))
    }

    /// The log-mel spectrogram of a clip as it is (no fitting): `frames × mel bands`.
    pub fn log_mel(&self, samples: &[f32]) -> Vec<f32> {
        let n_fft = self.config.fft_window_size;
        let hop = self.config.hop_length;
        let bins = n_fft / 2 + 1;
        let mels = self.config.feature_size;
        let padded = reflect_pad(samples, n_fft / 2);
        if padded.len() < n_fft {
            return Vec::new();
        }
        let frames = 1 + (padded.len() - n_fft) / hop;
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(n_fft);
        let mut buffer = fft.make_input_vec();
        let mut spectrum = fft.make_output_vec();
        let mut power = vec![0f64; bins];
        let mut out = Vec::with_capacity(frames * mels);
        for frame in 0..frames {
            let start = frame * hop;
            for ((b, &x), &w) in buffer
                .iter_mut()
                .zip(&padded[start..start + n_fft])
                .zip(&self.window)
            {
                *b = x * w;
            }
            fft.process(&mut buffer, &mut spectrum)
                .expect("buffers sized by the planner");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                // numpy keeps the spectrum as complex64, then takes |·| in f64
                let re = f64::from(c.re as f32);
                let im = f64::from(c.im as f32);
                let magnitude = re.hypot(im);
                *p = magnitude * magnitude;
            }
            for m in 0..mels {
                let energy: f64 = power
                    .iter()
                    .enumerate()
                    .map(|(k, &p)| self.mel_filters[k * mels + m] * p)
                    .sum();
                out.push((10.0 * energy.max(FLOOR).log10()) as f32);
            }
        }
        out
    }
}

/// How many samples `librosa.load(sr=to)` / `librosa.resample` gives for `samples` at `from` Hz:
/// `ceil(samples · (to / from))` in f64 — sometimes one more than the exact count (22050 samples
/// from 44.1 kHz to 48 kHz give 24001). A resampler that gives the exact count should pad its
/// output with zeros to this length, since `repeatpad` counts copies by the clip's length.
pub fn librosa_resampled_len(samples: usize, from: u32, to: u32) -> usize {
    (samples as f64 * (f64::from(to) / f64::from(from))).ceil() as usize
}

/// numpy's `pad(mode="reflect")` by `pad` samples on each side, promoted to f64.
fn reflect_pad(samples: &[f32], pad: usize) -> Vec<f64> {
    let n = samples.len();
    let at = |i: isize| -> f64 {
        // reflection about the end samples, repeated for very short clips
        let period = 2 * (n as isize - 1);
        if period <= 0 {
            return f64::from(samples.first().copied().unwrap_or(0.0));
        }
        let mut j = i.rem_euclid(period);
        if j >= n as isize {
            j = period - j;
        }
        f64::from(samples[j as usize])
    };
    (-(pad as isize)..(n + pad) as isize).map(at).collect()
}

/// `np.hanning(n + 1)[:-1]`: the periodic Hann window, computed as numpy does.
fn periodic_hann(n: usize) -> Vec<f64> {
    let m = n as f64; // (M - 1) of the symmetric window of M = n + 1 points
    (0..n)
        .map(|k| {
            let x = 2.0 * k as f64 - m;
            0.5 + 0.5 * (std::f64::consts::PI * x / m).cos()
        })
        .collect()
}

fn hertz_to_slaney_mel(hz: f64) -> f64 {
    if hz >= 1000.0 {
        15.0 + (hz / 1000.0).ln() * (27.0 / 6.4f64.ln())
    } else {
        3.0 * hz / 200.0
    }
}

fn slaney_mel_to_hertz(mel: f64) -> f64 {
    if mel >= 15.0 {
        1000.0 * ((6.4f64.ln() / 27.0) * (mel - 15.0)).exp()
    } else {
        200.0 * mel / 3.0
    }
}

/// `np.linspace(start, stop, num)`: `start + i · step`, the last point exactly `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num.max(2) - 1) as f64;
    let mut points: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    if let Some(last) = points.last_mut()
        && num > 1
    {
        *last = stop;
    }
    points
}

/// transformers' `mel_filter_bank(norm="slaney", mel_scale="slaney")`: `bins × mels`.
fn slaney_mel_filters(bins: usize, mels: usize, f_min: f64, f_max: f64, rate: u32) -> Vec<f64> {
    let mel_points = linspace(
        hertz_to_slaney_mel(f_min),
        hertz_to_slaney_mel(f_max),
        mels + 2,
    );
    let filter_hz: Vec<f64> = mel_points.iter().map(|&m| slaney_mel_to_hertz(m)).collect();
    let fft_hz = linspace(0.0, f64::from(rate / 2), bins);
    let mut filters = vec![0f64; bins * mels];
    for (k, &f) in fft_hz.iter().enumerate() {
        for m in 0..mels {
            let down = -(filter_hz[m] - f) / (filter_hz[m + 1] - filter_hz[m]);
            let up = (filter_hz[m + 2] - f) / (filter_hz[m + 2] - filter_hz[m + 1]);
            let enorm = 2.0 / (filter_hz[m + 2] - filter_hz[m]);
            filters[k * mels + m] = 0f64.max(down.min(up)) * enorm;
        }
    }
    filters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extractor(padding: &str) -> FeatureExtractor {
        FeatureExtractor::new(ClapFeatureConfig {
            truncation: "rand_trunc".into(),
            padding: padding.into(),
            max_length_s: 1,
            ..ClapFeatureConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn clips_are_fitted_as_the_reference_pads_them() {
        let clip: Vec<f32> = (1..=7).map(|i| i as f32).collect();
        let repeatpad = extractor("repeatpad").fit_to_length(&clip);
        assert_eq!(repeatpad.len(), 48_000);
        let copies = 48_000 / 7;
        assert_eq!(&repeatpad[7 * (copies - 1)..7 * copies], &clip[..]);
        assert!(repeatpad[7 * copies..].iter().all(|&x| x == 0.0));
        let repeat = extractor("repeat").fit_to_length(&clip);
        assert_eq!(repeat[47_999], clip[47_999 % 7]);
        let pad = extractor("pad").fit_to_length(&clip);
        assert_eq!(&pad[..7], &clip[..]);
        assert!(pad[7..].iter().all(|&x| x == 0.0));
        let long: Vec<f32> = (0..50_000).map(|i| i as f32).collect();
        assert_eq!(extractor("pad").fit_to_length(&long), long[..48_000]);
    }

    #[test]
    fn frames_and_window_are_as_numpy_makes_them() {
        let e = extractor("repeatpad");
        assert_eq!(e.frames(), 101);
        assert_eq!(e.log_mel(&vec![0.1; 48_000]).len(), 101 * 64);
        let w = periodic_hann(8);
        assert!((w[0] - 0.0).abs() < 1e-15 && (w[4] - 1.0).abs() < 1e-15);
        assert_eq!(
            reflect_pad(&[1.0, 2.0, 3.0, 4.0], 2),
            [3., 2., 1., 2., 3., 4., 3., 2.]
        );
    }

    #[test]
    fn resampled_lengths_are_librosas() {
        assert_eq!(librosa_resampled_len(22_050, 44_100, 48_000), 24_001);
        assert_eq!(librosa_resampled_len(160_000, 32_000, 48_000), 240_000);
        assert_eq!(librosa_resampled_len(48_000, 48_000, 48_000), 48_000);
    }

    #[test]
    fn fused_checkpoints_and_unknown_modes_are_refused_by_field() {
        let err = FeatureExtractor::new(ClapFeatureConfig::default()).unwrap_err();
        assert_eq!(err.field, "truncation");
        let err = FeatureExtractor::new(ClapFeatureConfig {
            truncation: "rand_trunc".into(),
            padding: "mirror".into(),
            ..ClapFeatureConfig::default()
        })
        .unwrap_err();
        assert_eq!(err.field, "padding");
    }
}
