//! Fréchet Audio Distance as the paper's `calc_fad.py` computes it: the mean and covariance of
//! each set's pooled embeddings (every example of every file), then
//! FAD = ‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2·tr((Σ₁Σ₂)^½).
//!
//! Everything is f64 (nalgebra). The covariance is numpy's `np.cov(rowvar=False)` (divided by
//! n − 1). Where calc_fad.py takes `scipy.linalg.sqrtm(Σ₁Σ₂)` and keeps its real part, this takes
//! the same trace another way: Σ₁Σ₂ has the eigenvalues of the symmetric positive semi-definite
//! √Σ₁ Σ₂ √Σ₁, so tr((Σ₁Σ₂)^½) = Σᵢ √λᵢ of that matrix (√Σ₁ and the λᵢ from symmetric
//! eigendecompositions, rounding's tiny negative eigenvalues clamped to 0). This needs no
//! ε-offset fallback and stays real when a covariance is singular (fewer examples than
//! dimensions). Two differences from calc_fad.py, both rounding: it averages float32 embeddings
//! in float32 (`np.mean`), this in f64 (the fixtures measure the gap below 1e-6 relative); and
//! scipy's `sqrtm` of a singular product is less exact than this (about 1e-8 relative there).

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::error::{Error, Result};

/// The mean and covariance of one set of embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// How many embeddings (examples) the set pooled.
    pub count: usize,
    /// The mean embedding.
    pub mean: DVector<f64>,
    /// The sample covariance (divided by `count − 1`).
    pub covariance: DMatrix<f64>,
}

impl Statistics {
    /// The statistics of `rows`, one embedding each, all of one length. Fewer than two rows, rows
    /// of different lengths or a value that is not finite are refused.
    pub fn from_rows<R: AsRef<[f32]>>(rows: &[R]) -> Result<Self> {
        let count = rows.len();
        if count < 2 {
            return Err(Error::Input(format!(
                "FAD needs at least 2 embeddings (examples of 0.96 s) per set, got {count}"
            )));
        }
        let dim = rows[0].as_ref().len();
        if dim == 0 || rows.iter().any(|r| r.as_ref().len() != dim) {
            return Err(Error::Input(
                "FAD needs embeddings of one non-zero length".into(),
            ));
        }
        let mut data = DMatrix::<f64>::zeros(count, dim);
        for (i, row) in rows.iter().enumerate() {
            for (j, &v) in row.as_ref().iter().enumerate() {
                if !v.is_finite() {
                    return Err(Error::Input(format!(
                        "embedding {i} holds a value that is not finite ({v})"
                    )));
                }
                data[(i, j)] = f64::from(v);
            }
        }
        let mean = DVector::from_iterator(dim, data.column_iter().map(|c| c.mean()));
        for mut row in data.row_iter_mut() {
            row -= mean.transpose();
        }
        let covariance = data.tr_mul(&data) / (count - 1) as f64;
        Ok(Self {
            count,
            mean,
            covariance,
        })
    }

    /// The embedding size.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }
}

/// The Fréchet distance between two sets' statistics (see the module header).
pub fn frechet_distance(a: &Statistics, b: &Statistics) -> Result<f64> {
    if a.dim() != b.dim() {
        return Err(Error::Input(format!(
            "FAD between embeddings of {} and {} values",
            a.dim(),
            b.dim()
        )));
    }
    let diff = &a.mean - &b.mean;
    let trace_sqrt = trace_sqrt_product(&a.covariance, &b.covariance);
    Ok(diff.dot(&diff) + a.covariance.trace() + b.covariance.trace() - 2.0 * trace_sqrt)
}

/// FAD between two pooled sets of embeddings: [`Statistics::from_rows`] of each, then
/// [`frechet_distance`].
pub fn fad<R: AsRef<[f32]>>(reference: &[R], generated: &[R]) -> Result<f64> {
    frechet_distance(
        &Statistics::from_rows(reference)?,
        &Statistics::from_rows(generated)?,
    )
}

/// tr((Σ₁Σ₂)^½) for symmetric positive semi-definite Σ₁, Σ₂: Σᵢ √λᵢ(√Σ₁ Σ₂ √Σ₁).
fn trace_sqrt_product(s1: &DMatrix<f64>, s2: &DMatrix<f64>) -> f64 {
    let root = psd_sqrt(s1);
    let inner = &root * s2 * &root;
    let symmetric = (&inner + inner.transpose()) * 0.5;
    SymmetricEigen::new(symmetric)
        .eigenvalues
        .iter()
        .map(|&l| l.max(0.0).sqrt())
        .sum()
}

/// The symmetric square root of a symmetric positive semi-definite matrix.
fn psd_sqrt(m: &DMatrix<f64>) -> DMatrix<f64> {
    let symmetric = (m + m.transpose()) * 0.5;
    let eigen = SymmetricEigen::new(symmetric);
    let roots = eigen.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eigen.eigenvectors * DMatrix::from_diagonal(&roots) * eigen.eigenvectors.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_sets_are_at_distance_zero() {
        let rows = vec![vec![1.0f32, 2.0], vec![0.5, -1.0], vec![3.0, 0.25]];
        let d = fad(&rows, &rows).unwrap();
        assert!(d.abs() < 1e-12, "{d}");
    }

    #[test]
    fn one_dimensional_sets_follow_the_closed_form() {
        // (μ₁ − μ₂)² + (σ₁ − σ₂)².
        let a = vec![vec![0.0f32], vec![2.0]]; // μ 1, σ² 2
        let b = vec![vec![3.0f32], vec![11.0]]; // μ 7, σ² 32
        let d = fad(&a, &b).unwrap();
        let expected = 36.0 + (2f64.sqrt() - 32f64.sqrt()).powi(2);
        assert!((d - expected).abs() < 1e-12, "{d} vs {expected}");
    }

    #[test]
    fn too_few_or_ragged_rows_are_refused() {
        let one = vec![vec![1.0f32, 2.0]];
        assert!(
            Statistics::from_rows(&one)
                .unwrap_err()
                .to_string()
                .contains("at least 2")
        );
        let ragged = vec![vec![1.0f32, 2.0], vec![1.0]];
        assert!(Statistics::from_rows(&ragged).is_err());
        let nan = vec![vec![1.0f32], vec![f32::NAN]];
        assert!(Statistics::from_rows(&nan).is_err());
    }
}
