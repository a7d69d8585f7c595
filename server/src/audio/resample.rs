//! Changing a mono signal's sample rate with rubato's FFT resampler (a fixed ratio, windowed-sinc
//! anti-aliasing), its delay removed so that sample `n` of the output is at time `n / rate`.

use anyhow::Context;
use rubato::{FftFixedInOut, Resampler};

/// Input frames per resampler chunk.
const CHUNK: usize = 4096;

/// `samples` at `from` Hz resampled to `to` Hz: `round(len · to / from)` samples.
pub fn resample(samples: &[f32], from: u32, to: u32) -> anyhow::Result<Vec<f32>> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let wanted = (samples.len() as u128 * u128::from(to) + u128::from(from) / 2) / u128::from(from);
    let wanted = wanted as usize;
    let mut resampler =
        FftFixedInOut::<f32>::new(from as usize, to as usize, CHUNK, 1).context("resampler")?;
    let delay = resampler.output_delay();
    let mut out = Vec::with_capacity(wanted + delay + CHUNK);
    let mut chunk = vec![0.0f32; resampler.input_frames_next()];
    let mut read = 0;
    while out.len() < delay + wanted {
        let take = (samples.len().saturating_sub(read)).min(chunk.len());
        chunk[..take].copy_from_slice(&samples[read..read + take]);
        chunk[take..].fill(0.0);
        read += take;
        let produced = resampler
            .process(&[&chunk[..]], None)
            .context("resampling")?;
        out.extend_from_slice(&produced[0]);
    }
    Ok(out[delay..delay + wanted].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        let n = (seconds * f64::from(rate)) as usize;
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    #[test]
    fn a_tone_keeps_its_pitch_level_and_timing() {
        for (from, to) in [(44_100, 32_000), (16_000, 32_000), (48_000, 32_000)] {
            let input = sine(440.0, from, 1.0);
            let out = resample(&input, from, to).unwrap();
            assert_eq!(out.len(), to as usize, "{from} → {to}");
            let want = sine(440.0, to, 1.0);
            // Away from the edges the resampled tone is the tone at the new rate.
            let middle = (to as usize / 10)..(to as usize * 9 / 10);
            let worst = middle
                .map(|i| (out[i] - want[i]).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 2e-3, "{from} → {to}: worst error {worst}");
        }
    }

    #[test]
    fn the_same_rate_is_left_alone() {
        let input = sine(100.0, 32_000, 0.1);
        assert_eq!(resample(&input, 32_000, 32_000).unwrap(), input);
    }

    #[test]
    fn frequencies_above_the_new_nyquist_are_removed() {
        // 20 kHz at 48 kHz cannot exist at 32 kHz (Nyquist 16 kHz): it must not fold back.
        let out = resample(&sine(20_000.0, 48_000, 1.0), 48_000, 32_000).unwrap();
        let middle = &out[3200..28_800];
        let rms = (middle.iter().map(|v| v * v).sum::<f32>() / middle.len() as f32).sqrt();
        assert!(rms < 1e-2, "aliased energy, rms {rms}");
    }
}
