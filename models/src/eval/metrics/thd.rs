//! Total harmonic distortion by the paper's formula, THD = √(Σₙ₌₂⁶ Hₙ²) / H₁, over one clip's
//! whole spectrum.
//!
//! The authors did not publish their THD code, so the choices are ours and written down here and
//! in the README: the clip is mono at its own rate with its mean removed; X = |rfft(x)| with no
//! window and no padding; the fundamental is the largest bin k ≥ 1 (the first one on a tie, as
//! numpy's `argmax`); Hₙ = X[n·k], and 0 where n·k is past the spectrum's end.

use realfft::RealFftPlanner;

/// How many harmonics above the fundamental the paper's sum takes (H₂ … H₆).
pub const HARMONICS: usize = 5;

/// THD of one clip; `None` for a clip too short to have a bin above DC (fewer than 2 samples) or
/// one that is silent once its mean is removed (H₁ = 0).
pub fn thd(samples: &[f32]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let spectrum = magnitudes(samples);
    let (fundamental, h1) =
        spectrum
            .iter()
            .enumerate()
            .skip(1)
            .fold((0, f64::NEG_INFINITY), |best, (k, &m)| {
                if m > best.1 { (k, m) } else { best }
            });
    if h1 <= 0.0 || !h1.is_finite() {
        return None;
    }
    let harmonics: f64 = (2..=HARMONICS + 1)
        .map(|n| spectrum.get(n * fundamental).map_or(0.0, |h| h * h))
        .sum();
    Some(harmonics.sqrt() / h1)
}

/// |rfft(x − mean(x))| in f64: `len / 2 + 1` bins.
fn magnitudes(samples: &[f32]) -> Vec<f64> {
    let mean = samples.iter().map(|&s| f64::from(s)).sum::<f64>() / samples.len() as f64;
    let mut input: Vec<f64> = samples.iter().map(|&s| f64::from(s) - mean).collect();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(input.len());
    let mut output = fft.make_output_vec();
    fft.process(&mut input, &mut output)
        .expect("the buffers come from the plan itself");
    output.iter().map(|c| c.norm()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: f64, len: usize, parts: &[(f64, f64)]) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let t = i as f64 / rate;
                parts
                    .iter()
                    .map(|&(f, a)| a * (2.0 * std::f64::consts::PI * f * t).sin())
                    .sum::<f64>() as f32
            })
            .collect()
    }

    #[test]
    fn a_pure_tone_with_one_known_harmonic() {
        // 441 Hz and its third harmonic at a fifth of its amplitude, both on exact bins of a 1 s
        // clip: THD = 0.2.
        let x = tone(44_100.0, 44_100, &[(441.0, 1.0), (1323.0, 0.2)]);
        let got = thd(&x).unwrap();
        assert!((got - 0.2).abs() < 1e-6, "{got}");
    }

    #[test]
    fn harmonics_past_the_spectrum_count_as_zero() {
        // A fundamental at 0.4 of the rate: 2k lies past Nyquist, so nothing is summed.
        let x = tone(1000.0, 1000, &[(400.0, 1.0)]);
        assert!(thd(&x).unwrap() < 1e-9);
    }

    #[test]
    fn silence_and_a_constant_have_no_thd() {
        assert_eq!(thd(&[0.0; 64]), None);
        assert_eq!(thd(&[0.5; 64]), None);
        assert_eq!(thd(&[0.5]), None);
    }
}
