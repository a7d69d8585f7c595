//! What the crate's unit tests share: comparing tensors (through [`crate::parity::compare`]).

use candle_core::Tensor;

use crate::parity::compare::{self, Diff};

/// The largest absolute difference between two f32 tensors of the same shape.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    Diff::between(a, b).expect("comparable tensors").max_abs
}

/// The largest absolute value of an f32 tensor.
pub fn max_abs(t: &Tensor) -> f32 {
    compare::max_abs(t).expect("a float tensor")
}
