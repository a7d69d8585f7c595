//! audioldm_eval's Inception Score over PANNs CNN14 logits (`metrics/isc.py`, `calculate_isc`,
//! as its evaluator calls it: shuffled with seed 2020, 10 splits).
//!
//! Exactly as isc.py: the rows (one per generated file, in the caller's order; the eval command
//! sorts by relative path) are reordered by numpy's `RandomState(seed).permutation(N)` (see
//! [`super::numpy_random`]); p = softmax and log p = log-softmax of each row in f64; split i is
//! rows `i·N/splits .. (i+1)·N/splits` (integer division, so splits differ by at most one row);
//! its score is exp(mean over its rows of Σ_c p·(log p − log q)), q the split's mean of p; the
//! result is the mean and the population standard deviation (numpy's `np.std`, ddof 0) of the
//! split scores.
//!
//! With fewer rows than splits isc.py gives NaN (an empty split has no mean); this refuses
//! instead, saying how many rows are needed.

use super::numpy_random::RandomState;
use crate::error::{Error, Result};

/// The number of splits audioldm_eval's evaluator uses.
pub const SPLITS: usize = 10;
/// The permutation seed audioldm_eval's evaluator uses.
pub const SEED: u32 = 2020;

/// An Inception Score: the mean and population standard deviation of the split scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Isc {
    /// `inception_score_mean`.
    pub mean: f64,
    /// `inception_score_std`.
    pub std: f64,
}

/// The Inception Score of `logits` (one row per generated file) as audioldm_eval computes it:
/// seed 2020, 10 splits.
pub fn inception_score<L: AsRef<[f32]>>(logits: &[L]) -> Result<Isc> {
    inception_score_with(logits, SPLITS, SEED)
}

/// The Inception Score of `logits` with `splits` splits after a `RandomState(seed)` shuffle.
pub fn inception_score_with<L: AsRef<[f32]>>(
    logits: &[L],
    splits: usize,
    seed: u32,
) -> Result<Isc> {
    let rows = logits.len();
    if splits == 0 || rows < splits {
        return Err(Error::Input(format!(
            "Inception Score: {rows} generated files for {splits} splits (at least {} are needed; \
             audioldm_eval would give NaN)",
            splits.max(1)
        )));
    }
    let classes = logits[0].as_ref().len();
    if classes == 0 || logits.iter().any(|row| row.as_ref().len() != classes) {
        return Err(Error::Input(format!(
            "Inception Score: logit rows of different or zero lengths (the first has {classes})"
        )));
    }
    let order = RandomState::new(seed).permutation(rows);
    let log_p: Vec<Vec<f64>> = order
        .iter()
        .map(|&i| log_softmax(logits[i].as_ref()))
        .collect();
    let p: Vec<Vec<f64>> = order.iter().map(|&i| softmax(logits[i].as_ref())).collect();
    let scores: Vec<f64> = (0..splits)
        .map(|i| {
            let range = i * rows / splits..(i + 1) * rows / splits;
            split_score(&p[range.clone()], &log_p[range])
        })
        .collect();
    let mean = scores.iter().sum::<f64>() / splits as f64;
    let variance = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / splits as f64;
    Ok(Isc {
        mean,
        std: variance.sqrt(),
    })
}

/// exp(mean over the rows of KL(p ‖ q)), q the rows' mean distribution.
fn split_score(p: &[Vec<f64>], log_p: &[Vec<f64>]) -> f64 {
    let classes = p[0].len();
    let count = p.len() as f64;
    let log_q: Vec<f64> = (0..classes)
        .map(|c| (p.iter().map(|row| row[c]).sum::<f64>() / count).ln())
        .collect();
    let total: f64 = p
        .iter()
        .zip(log_p)
        .map(|(p_row, log_p_row)| {
            p_row
                .iter()
                .zip(log_p_row)
                .zip(&log_q)
                .map(|((p, lp), lq)| p * (lp - lq))
                .sum::<f64>()
        })
        .sum();
    (total / count).exp()
}

/// The softmax of one row in f64: exp(x − max) / Σ exp(x − max), as torch computes it.
fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = row_max(logits);
    let exps: Vec<f64> = logits.iter().map(|&x| (f64::from(x) - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// The log-softmax of one row in f64: x − max − log Σ exp(x − max), as torch computes it.
fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let max = row_max(logits);
    let log_total = logits
        .iter()
        .map(|&x| (f64::from(x) - max).exp())
        .sum::<f64>()
        .ln();
    logits
        .iter()
        .map(|&x| f64::from(x) - max - log_total)
        .collect()
}

fn row_max(logits: &[f32]) -> f64 {
    logits
        .iter()
        .map(|&x| f64::from(x))
        .fold(f64::NEG_INFINITY, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_split_scores_one() {
        let rows: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32, 0.0, -1.0]).collect();
        let isc = inception_score(&rows).unwrap();
        assert!((isc.mean - 1.0).abs() < 1e-12 && isc.std < 1e-12, "{isc:?}");
    }

    #[test]
    fn refuses_fewer_rows_than_splits() {
        let rows = vec![vec![0.0f32; 3]; 9];
        let error = inception_score(&rows).unwrap_err().to_string();
        assert!(error.contains("9 generated files for 10 splits"), "{error}");
    }
}
