//! What the model tests share: the tiny MusicGen fixture made by transformers
//! (`models/fixtures/make_musicgen_fixtures.py`) and tensor comparison.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};

/// The tiny random-weight MusicGen in the published layout, with its expected outputs.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/musicgen-tiny")
}

/// The expected tensors computed by transformers.
pub fn expected() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture_dir().join("expected.safetensors"), &Device::Cpu)
        .expect("expected.safetensors")
}

/// The largest absolute difference between two tensors of the same shape.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("comparable f32 tensors")
}
