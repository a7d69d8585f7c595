//! audioldm_eval's paired KL divergence over PANNs CNN14 logits (`metrics/kl.py`,
//! `calculate_kl`): for each pair of a generated clip and its reference clip,
//! `kl_div(log(f(gen) + 1e-6), f(ref), reduction="sum")`, i.e. Σ f(ref)·(log f(ref) − log(f(gen) +
//! 1e-6)), averaged over the pairs; f is the softmax over the classes (the form AudioGen uses) or
//! the element-wise sigmoid (audioldm_eval's multi-label form).
//!
//! The logits are the pre-sigmoid output of CNN14's `fc_audioset`. Where audioldm_eval works in
//! float32 (its logits are float32 tensors), this works in f64 from the same float32 logits; the
//! two agree to float32 rounding (about 1e-7 relative). A term whose target is exactly 0 counts 0,
//! as torch's `kl_div` (it uses `xlogy`).

use crate::error::{Error, Result};

/// The epsilon kl.py adds to the generated clip's probabilities before the log.
pub const EPS: f64 = 1e-6;

/// The two paired KL divergences, each the mean over pairs of the summed divergence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedKl {
    /// Over softmax probabilities (`kullback_leibler_divergence_softmax`).
    pub softmax: f64,
    /// Over element-wise sigmoid probabilities (`kullback_leibler_divergence_sigmoid`).
    pub sigmoid: f64,
}

/// The paired KL divergences of `pairs`, each `(generated logits, reference logits)` of one clip
/// pair. Fails on no pairs, an empty logit row or rows of different lengths.
pub fn kl<G: AsRef<[f32]>, R: AsRef<[f32]>>(pairs: &[(G, R)]) -> Result<PairedKl> {
    let Some(first) = pairs.first() else {
        return Err(Error::Input(
            "paired KL: no pairs (a generated file pairs with the reference file of the same relative path)".into(),
        ));
    };
    let classes = first.0.as_ref().len();
    if classes == 0 {
        return Err(Error::Input("paired KL: empty logit rows".into()));
    }
    let (mut softmax_sum, mut sigmoid_sum) = (0.0, 0.0);
    for (index, (generated, reference)) in pairs.iter().enumerate() {
        let (generated, reference) = (generated.as_ref(), reference.as_ref());
        if generated.len() != classes || reference.len() != classes {
            return Err(Error::Input(format!(
                "paired KL: pair {index} has {} and {} logits, not {classes}",
                generated.len(),
                reference.len()
            )));
        }
        softmax_sum += divergence(&softmax(reference), &softmax(generated));
        sigmoid_sum += divergence(&sigmoid(reference), &sigmoid(generated));
    }
    let pairs = pairs.len() as f64;
    Ok(PairedKl {
        softmax: softmax_sum / pairs,
        sigmoid: sigmoid_sum / pairs,
    })
}

/// Σ target·(log target − log(prediction + EPS)), a zero target counting 0.
fn divergence(target: &[f64], prediction: &[f64]) -> f64 {
    target
        .iter()
        .zip(prediction)
        .map(|(&t, &p)| {
            let log_prediction = (p + EPS).ln();
            if t == 0.0 {
                0.0
            } else {
                t * (t.ln() - log_prediction)
            }
        })
        .sum()
}

/// The softmax of one logit row in f64 (shifted by its maximum, as torch computes it).
fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits
        .iter()
        .map(|&x| f64::from(x))
        .fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|&x| (f64::from(x) - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// The element-wise sigmoid of one logit row in f64.
fn sigmoid(logits: &[f32]) -> Vec<f64> {
    logits
        .iter()
        .map(|&x| 1.0 / (1.0 + (-f64::from(x)).exp()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_pairs_give_almost_zero() {
        let row = vec![1.0f32, -2.0, 0.5, 3.0];
        let out = kl(&[(row.clone(), row)]).unwrap();
        // Only the epsilon separates them.
        assert!(
            out.softmax.abs() < 1e-5 && out.sigmoid.abs() < 1e-5,
            "{out:?}"
        );
    }

    #[test]
    fn refuses_no_pairs_and_ragged_rows() {
        let none: [(Vec<f32>, Vec<f32>); 0] = [];
        assert!(kl(&none).unwrap_err().to_string().contains("no pairs"));
        let ragged = [(vec![1.0f32, 2.0], vec![1.0f32])];
        assert!(kl(&ragged).unwrap_err().to_string().contains("pair 0"));
    }
}
