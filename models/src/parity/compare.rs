//! How far a computed tensor is from the reference's: the largest absolute difference, and that
//! difference relative to the reference's largest value (what a bf16 computation is judged by).

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

/// The distance of computed values from expected ones.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Diff {
    /// The largest absolute difference.
    pub max_abs: f32,
    /// The largest absolute expected value.
    pub peak: f32,
}

impl Diff {
    /// Compares two tensors of one shape, on any device and in any float dtype (in f32).
    pub fn between(got: &Tensor, want: &Tensor) -> Result<Self> {
        if got.dims() != want.dims() {
            return Err(Error::Input(format!(
                "shapes differ: computed {:?}, expected {:?}",
                got.dims(),
                want.dims()
            )));
        }
        let got = on_cpu_f32(got)?;
        let want = on_cpu_f32(want)?;
        Ok(Self {
            max_abs: max_abs(&(got - &want)?)?,
            peak: max_abs(&want)?,
        })
    }

    /// The largest absolute difference relative to the largest expected value.
    pub fn relative(&self) -> f32 {
        if self.peak > 0.0 {
            self.max_abs / self.peak
        } else {
            self.max_abs
        }
    }

    /// The worse of two comparisons (each figure's maximum).
    pub fn worst(self, other: Self) -> Self {
        Self {
            max_abs: self.max_abs.max(other.max_abs),
            peak: self.peak.max(other.peak),
        }
    }
}

/// The largest absolute value of a float tensor.
pub fn max_abs(t: &Tensor) -> Result<f32> {
    Ok(on_cpu_f32(t)?.abs()?.max_all()?.to_scalar::<f32>()?)
}

/// How many of two id sequences' places hold the same id (a length difference counts as
/// differing places): `(equal, total)`.
pub fn matching_ids(got: &[u32], want: &[u32]) -> (usize, usize) {
    let equal = got.iter().zip(want).filter(|(g, w)| g == w).count();
    (equal, got.len().max(want.len()))
}

fn on_cpu_f32(t: &Tensor) -> Result<Tensor> {
    Ok(t.to_device(&Device::Cpu)?.to_dtype(DType::F32)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_absolute_and_relative_to_the_peak() {
        let want = Tensor::new(&[1f32, -4.0, 2.0], &Device::Cpu).unwrap();
        let got = Tensor::new(&[1.5f32, -4.0, 1.0], &Device::Cpu).unwrap();
        let diff = Diff::between(&got, &want).unwrap();
        assert_eq!(diff.max_abs, 1.0);
        assert_eq!(diff.peak, 4.0);
        assert_eq!(diff.relative(), 0.25);
        let bf16 = got.to_dtype(DType::BF16).unwrap();
        assert_eq!(Diff::between(&bf16, &want).unwrap(), diff);
        let other = Tensor::new(&[1f32, 2.0], &Device::Cpu).unwrap();
        assert!(Diff::between(&other, &want).is_err());
    }

    #[test]
    fn ids_match_place_by_place() {
        assert_eq!(matching_ids(&[1, 2, 3], &[1, 2, 3]), (3, 3));
        assert_eq!(matching_ids(&[1, 9, 3], &[1, 2, 3]), (2, 3));
        assert_eq!(matching_ids(&[1, 2], &[1, 2, 3]), (2, 3));
    }
}
