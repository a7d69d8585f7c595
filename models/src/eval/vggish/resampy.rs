//! resampy's `kaiser_best` band-limited resampler (resampy 0.4.3, `resampy.resample(x, from, to)`
//! with its default filter), which torchvggish uses to bring audio to 16 kHz: the same filter
//! table, the same linear interpolation between its entries and the same summation order, in f64.
//!
//! resampy ships the table precomputed (`data/kaiser_best.npz`, 50 zero crossings, 2¹³ entries
//! per crossing). It is `sinc_window(num_zeros=50, precision=13, window=np.kaiser(·, β),
//! rolloff=0.9173473712608761)` with β = 12.984585247043595 (the fixture script checks that this
//! rebuilds the shipped table to 2e-15); it is computed here once, on first use.

use std::f64::consts::PI;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Zero crossings of the sinc kept on each side.
const NUM_ZEROS: usize = 50;
/// Table entries per zero crossing (2¹³).
const PER_CROSSING: usize = 1 << 13;
/// The Kaiser window's β.
const KAISER_BETA: f64 = 12.984585247043595;
/// The filter's cut-off as a fraction of the Nyquist frequency.
const ROLLOFF: f64 = 0.9173473712608761;

/// The right half of the interpolation filter: `NUM_ZEROS · PER_CROSSING + 1` taps.
pub fn kaiser_best_table() -> &'static [f64] {
    static TABLE: OnceLock<Vec<f64>> = OnceLock::new();
    TABLE.get_or_init(build_table)
}

fn build_table() -> Vec<f64> {
    let n = NUM_ZEROS * PER_CROSSING;
    let step = NUM_ZEROS as f64 / n as f64;
    // np.kaiser(2n + 1, β)[n:]: the window's right half, centred on tap 0.
    let alpha = n as f64;
    let i0_beta = bessel_i0(KAISER_BETA);
    (0..=n)
        .map(|i| {
            let x = if i == n {
                NUM_ZEROS as f64
            } else {
                i as f64 * step
            };
            let ratio = ((i + n) as f64 - alpha) / alpha;
            let taper = bessel_i0(KAISER_BETA * (1.0 - ratio.powi(2)).sqrt()) / i0_beta;
            taper * (ROLLOFF * sinc(ROLLOFF * x))
        })
        .collect()
}

/// numpy's `sinc`: sin(πx)/(πx), 1 at 0.
fn sinc(x: f64) -> f64 {
    let y = PI * if x == 0.0 { 1.0e-20 } else { x };
    y.sin() / y
}

/// The modified Bessel function of the first kind, order 0, by its power series
/// Σ ((x/2)ᵏ / k!)², summed until the terms stop changing the total.
fn bessel_i0(x: f64) -> f64 {
    let quarter_square = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..500 {
        term *= quarter_square / (k * k) as f64;
        sum += term;
        if term < sum * f64::EPSILON * 0.5 {
            break;
        }
    }
    sum
}

/// `x` at `from` samples per second resampled to `to`, as `resampy.resample(x, from, to)` does:
/// `⌊len · to / from⌋` output samples (a copy when the rates are equal).
pub fn resample(x: &[f64], from: u32, to: u32) -> Result<Vec<f64>> {
    if from == 0 || to == 0 {
        return Err(Error::Input(format!(
            "cannot resample from {from} Hz to {to} Hz: a rate must be positive"
        )));
    }
    if from == to {
        return Ok(x.to_vec());
    }
    let ratio = f64::from(to) / f64::from(from);
    let out_len = (x.len() as f64 * f64::from(to) / f64::from(from)) as usize;
    if out_len == 0 {
        return Err(Error::Input(format!(
            "{} samples are too few to resample from {from} Hz to {to} Hz",
            x.len()
        )));
    }
    let table = kaiser_best_table();
    // Downsampling narrows the filter and scales it by the ratio.
    let window: Vec<f64> = if ratio < 1.0 {
        table.iter().map(|w| ratio * w).collect()
    } else {
        table.to_vec()
    };
    let delta: Vec<f64> = (0..window.len())
        .map(|i| window.get(i + 1).map_or(0.0, |next| next - window[i]))
        .collect();
    let scale = ratio.min(1.0);
    let time_step = 1.0 / ratio;
    let index_step = (scale * PER_CROSSING as f64) as usize;
    let taps = window.len();
    let mut y = vec![0.0f64; out_len];
    for (t, out) in y.iter_mut().enumerate() {
        let time = t as f64 * time_step;
        let n = time as usize;
        let mut acc = 0.0;
        // Left wing: x[n], x[n − 1], …
        let (offset, eta) = filter_position(scale * (time - n as f64));
        let left = (n + 1).min((taps - offset) / index_step);
        for i in 0..left {
            let k = offset + i * index_step;
            acc += (window[k] + eta * delta[k]) * x[n - i];
        }
        // Right wing: x[n + 1], x[n + 2], …
        let (offset, eta) = filter_position(scale - scale * (time - n as f64));
        let right = (x.len() - n - 1).min((taps - offset) / index_step);
        for k in 0..right {
            let j = offset + k * index_step;
            acc += (window[j] + eta * delta[j]) * x[n + k + 1];
        }
        *out = acc;
    }
    Ok(y)
}

/// The table index and the interpolation factor between it and the next entry for a fractional
/// position `frac` (in input samples, already scaled).
fn filter_position(frac: f64) -> (usize, f64) {
    let index = frac * PER_CROSSING as f64;
    let offset = index as usize;
    (offset, index - offset as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bessel_i0_matches_known_values() {
        // Abramowitz & Stegun table 9.8 / scipy.special.i0.
        assert_eq!(bessel_i0(0.0), 1.0);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-15);
        assert!((bessel_i0(10.0) / 2_815.716_628_466_254 - 1.0).abs() < 1e-14);
    }

    #[test]
    fn table_starts_at_the_rolloff_and_ends_near_zero() {
        let table = kaiser_best_table();
        assert_eq!(table.len(), NUM_ZEROS * PER_CROSSING + 1);
        assert_eq!(table[0], ROLLOFF);
        assert!(table[table.len() - 1].abs() < 1e-7);
    }

    #[test]
    fn equal_rates_copy_and_bad_rates_are_refused() {
        assert_eq!(resample(&[1.0, 2.0], 16000, 16000).unwrap(), vec![1.0, 2.0]);
        assert!(resample(&[1.0], 0, 16000).is_err());
        assert!(resample(&[1.0], 48000, 16000).is_err());
    }
}
