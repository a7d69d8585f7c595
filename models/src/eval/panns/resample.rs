//! `torchaudio.functional.resample` with its defaults (`sinc_interp_hann`, 6 zero crossings,
//! roll-off 0.99), which audioldm_eval applies to clips not at the model's rate.
//!
//! As torchaudio: both rates are divided by their gcd (`from`, `to`); the cut-off is
//! `base = min(from, to) · 0.99`; each of the `to` output phases j has a kernel over
//! `2·width + from` input samples, `width = ⌈6·from / base⌉`, of
//! `sinc(π·t)·cos²(π·t / 12)·base / from` at `t = clamp(((k − width)/from − j/to)·base, −6, 6)`; the
//! clip is zero-padded by `width` on the left and `width + from` on the right, each block of `from`
//! input samples gives `to` outputs, and the result is cut to `⌈to·len / from⌉` samples. The
//! kernels are computed in float32 step by step as torchaudio computes them for a float32 clip; the
//! sums are accumulated in f64.

/// Zero crossings of the sinc on each side (`lowpass_filter_width`).
const ZERO_CROSSINGS: f32 = 6.0;
/// The cut-off as a fraction of the lower Nyquist rate (`rolloff`).
const ROLLOFF: f64 = 0.99;

/// `samples` at `from_rate` resampled to `to_rate`; the same samples when the rates are equal.
/// Panics on a zero rate.
pub fn resample(samples: &[f32], from_rate: u32, to_rate: u32) -> Vec<f32> {
    assert!(
        from_rate > 0 && to_rate > 0,
        "sample rates must be positive"
    );
    if from_rate == to_rate {
        return samples.to_vec();
    }
    let divisor = gcd(from_rate, to_rate);
    let (from, to) = ((from_rate / divisor) as usize, (to_rate / divisor) as usize);
    let kernels = Kernels::new(from, to);
    let width = kernels.width;
    let taps = kernels.taps;
    let mut padded = vec![0.0f32; width];
    padded.extend_from_slice(samples);
    padded.resize(samples.len() + 2 * width + from, 0.0);
    let out_len = (to * samples.len()).div_ceil(from);
    let mut out = Vec::with_capacity(out_len);
    'blocks: for block in 0.. {
        let input = &padded[block * from..block * from + taps];
        for phase in 0..to {
            if out.len() == out_len {
                break 'blocks;
            }
            let kernel = &kernels.values[phase * taps..(phase + 1) * taps];
            let sum: f64 = input
                .iter()
                .zip(kernel)
                .map(|(&x, &k)| f64::from(x) * f64::from(k))
                .sum();
            out.push(sum as f32);
        }
    }
    out
}

/// The `to` interpolation kernels of `taps` values each, row by row.
struct Kernels {
    values: Vec<f32>,
    width: usize,
    taps: usize,
}

impl Kernels {
    fn new(from: usize, to: usize) -> Self {
        let base = from.min(to) as f64 * ROLLOFF;
        let width = (f64::from(ZERO_CROSSINGS) * from as f64 / base).ceil() as usize;
        let taps = 2 * width + from;
        let (base32, scale) = (base as f32, (base / from as f64) as f32);
        let pi = std::f32::consts::PI;
        let mut values = Vec::with_capacity(to * taps);
        for phase in 0..to {
            let shift = -(phase as f32) / to as f32;
            for k in 0..taps {
                let index = (k as f32 - width as f32) / from as f32;
                let t = ((shift + index) * base32).clamp(-ZERO_CROSSINGS, ZERO_CROSSINGS);
                let window = (t * pi / ZERO_CROSSINGS / 2.0).cos().powi(2);
                let t = t * pi;
                let sinc = if t == 0.0 { 1.0 } else { t.sin() / t };
                values.push(sinc * (window * scale));
            }
        }
        Self {
            values,
            width,
            taps,
        }
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_rounded_up() {
        assert_eq!(resample(&[0.0; 441], 44_100, 32_000).len(), 320);
        assert_eq!(resample(&[0.0; 442], 44_100, 32_000).len(), 321);
        assert_eq!(resample(&[0.0; 3], 16_000, 32_000).len(), 6);
        assert_eq!(resample(&[0.5; 7], 32_000, 32_000), [0.5; 7]);
    }

    #[test]
    fn a_low_tone_survives() {
        let tone = |rate: f64, len: usize| -> Vec<f32> {
            (0..len)
                .map(|n| (2.0 * std::f64::consts::PI * 440.0 * n as f64 / rate).sin() as f32)
                .collect()
        };
        let resampled = resample(&tone(48_000.0, 4800), 48_000, 32_000);
        let expected = tone(32_000.0, 3200);
        // Away from the edges the resampled tone is the tone at the new rate.
        let error = resampled[100..3100]
            .iter()
            .zip(&expected[100..3100])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(error < 1e-2, "{error}");
    }
}
