//! The paper's KL divergence (`calc_kl.py`): each set's pooled embedding values (every number of
//! every embedding) as a 100-bin density histogram over the set's own range
//! (`np.histogram(x, bins=100, density=True)`), then
//! `F.kl_div(log(f(h_gen) + 1e-6), f(h_ref), reduction="sum")` =
//! Σᵢ f(h_ref)ᵢ · (log f(h_ref)ᵢ − log(f(h_gen)ᵢ + 1e-6)) with f = softmax over the 100 bins or
//! the element-wise sigmoid.
//!
//! The histogram follows numpy's rules for float32 input exactly: the range is the values' min
//! and max (widened by 0.5 each way when they are equal); the 101 edges are float32
//! (`i·step + min`, the last edge the max itself); a value's bin is
//! `⌊(x − min) / (max − min) · 100⌋` in float32, moved one down or up where that disagrees with
//! the edges, the last bin closed on the right; densities are `count / width / total` in f64 with
//! the widths taken between float32 edges. The softmax, sigmoid and sum are f64, as calc_kl.py's
//! float64 tensors are. The ε inside the logarithm can make a divergence slightly negative for
//! near-equal histograms, as the reference's does.

use crate::error::{Error, Result};

/// Bins per histogram.
pub const BINS: usize = 100;
/// Added to f(h_gen) before its logarithm.
pub const EPS: f64 = 1e-6;

/// Both KL divergences of one comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramKl {
    /// With the histograms through a softmax over the bins (`kl_vggish_softmax`).
    pub softmax: f64,
    /// With the histograms through an element-wise sigmoid (`kl_vggish_sigmoid`).
    pub sigmoid: f64,
}

/// KL(reference ‖ generated) of the two sets' value histograms (see the module header).
pub fn kl(reference_values: &[f32], generated_values: &[f32]) -> Result<HistogramKl> {
    let reference = density_histogram(reference_values)?;
    let generated = density_histogram(generated_values)?;
    let divergence = |f: fn(&[f64]) -> Vec<f64>| {
        let target = f(&reference);
        let input = f(&generated);
        target
            .iter()
            .zip(&input)
            .map(|(&t, &g)| {
                if t > 0.0 {
                    t * (t.ln() - (g + EPS).ln())
                } else {
                    0.0
                }
            })
            .sum()
    };
    Ok(HistogramKl {
        softmax: divergence(softmax),
        sigmoid: divergence(sigmoid),
    })
}

/// [`kl`] of two pooled sets of embeddings, one row each: every value of every row, as
/// calc_kl.py's histogram of the whole `(examples, 128)` array takes them.
pub fn kl_of_rows<R: AsRef<[f32]>>(reference: &[R], generated: &[R]) -> Result<HistogramKl> {
    let values = |rows: &[R]| -> Vec<f32> {
        rows.iter()
            .flat_map(|r| r.as_ref().iter().copied())
            .collect()
    };
    kl(&values(reference), &values(generated))
}

/// numpy's `histogram(values, bins=100, density=True)` of float32 values (see the module header).
pub fn density_histogram(values: &[f32]) -> Result<[f64; BINS]> {
    if values.is_empty() {
        return Err(Error::Input("a histogram of no values".into()));
    }
    let (mut first, mut last) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Error::Input(
            "a histogram of values that are not all finite".into(),
        ));
    }
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let edges = bin_edges(first, last);
    if edges.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::Input(format!(
            "too many bins for the data range [{first}, {last}]"
        )));
    }
    let width = last - first;
    let mut counts = [0u64; BINS];
    for &v in values {
        let mut index = (((v - first) / width) * BINS as f32) as usize;
        if index == BINS {
            index -= 1;
        }
        if v < edges[index] {
            index -= 1;
        } else if v >= edges[index + 1] && index != BINS - 1 {
            index += 1;
        }
        counts[index] += 1;
    }
    let total = values.len() as f64;
    let mut density = [0.0; BINS];
    for (i, d) in density.iter_mut().enumerate() {
        let bin_width = f64::from(edges[i + 1] - edges[i]);
        *d = counts[i] as f64 / bin_width / total;
    }
    Ok(density)
}

/// numpy's `linspace(first, last, 101)` in float32.
fn bin_edges(first: f32, last: f32) -> [f32; BINS + 1] {
    let delta = last - first;
    let step = delta / BINS as f32;
    let mut edges = [0.0f32; BINS + 1];
    for (i, e) in edges.iter_mut().enumerate() {
        *e = if step == 0.0 {
            // numpy's path for a step that underflows: (i / n) · delta.
            (i as f32 / BINS as f32) * delta + first
        } else {
            i as f32 * step + first
        };
    }
    edges[BINS] = last;
    edges
}

fn softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = x.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

fn sigmoid(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densities_integrate_to_one() {
        let values: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 / 7.0).collect();
        let h = density_histogram(&values).unwrap();
        let width = (100.0f64 / 7.0) / BINS as f64;
        let area: f64 = h.iter().map(|d| d * width).sum();
        assert!((area - 1.0).abs() < 1e-5, "{area}");
    }

    #[test]
    fn a_set_against_itself_is_near_zero() {
        let values: Vec<f32> = (0..500).map(|i| (i as f32 * 0.37).sin()).collect();
        let d = kl(&values, &values).unwrap();
        // Only the ε inside the logarithm separates them.
        assert!(d.softmax.abs() < 1e-4 && d.sigmoid.abs() < 1e-4, "{d:?}");
    }

    #[test]
    fn empty_or_infinite_sets_are_refused() {
        assert!(kl(&[], &[1.0]).is_err());
        assert!(kl(&[1.0, f32::INFINITY], &[1.0]).is_err());
    }
}
