//! What the model tests share: the fixture directories made by the scripts in
//! `models/fixtures/` (their `expected.safetensors` and `expected.json` computed by transformers
//! or PyTorch), copying a fixture to edit it, and tensor comparison.

// Each test file uses only some of these.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Tensor;
use ekphrasis_models::parity::compare::{self, Diff};
use ekphrasis_models::parity::fixture;
use serde_json::Value;

/// `models/tests/data/<name>`: one fixture set.
pub fn data_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The tiny random-weight MusicGen in the published layout, with its expected outputs.
pub fn fixture_dir() -> PathBuf {
    data_dir("musicgen-tiny")
}

/// The expected tensors of the MusicGen fixture, computed by transformers.
pub fn expected() -> HashMap<String, Tensor> {
    expected_tensors(&fixture_dir())
}

/// A fixture directory's `expected.safetensors`.
pub fn expected_tensors(dir: &Path) -> HashMap<String, Tensor> {
    fixture::expected_tensors(dir).expect("expected.safetensors")
}

/// A fixture directory's `expected.json`.
pub fn expected_json(dir: &Path) -> Value {
    fixture::expected_json(dir).expect("expected.json")
}

/// A fixture directory's expected tensors and values.
pub struct Fixture {
    /// `expected.safetensors`.
    pub tensors: HashMap<String, Tensor>,
    /// `expected.json`.
    pub json: Value,
}

impl Fixture {
    /// Reads both expected files of `dir`.
    pub fn load(dir: &Path) -> Self {
        Self {
            tensors: expected_tensors(dir),
            json: expected_json(dir),
        }
    }

    /// The expected tensor `name`.
    pub fn tensor(&self, name: &str) -> &Tensor {
        &self.tensors[name]
    }
}

/// A temporary copy of the files (not the subfolders) of a fixture directory, to edit.
pub fn copy_fixture(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("a temporary directory");
    copy_files(dir, copy.path());
    copy
}

/// Copies the files (not the subfolders) of `from` into the existing directory `to`.
pub fn copy_files(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("a fixture directory") {
        let entry = entry.expect("a directory entry");
        if entry.file_type().expect("a file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("a copied file");
        }
    }
}

/// The largest absolute difference between two tensors of the same shape.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    Diff::between(a, b).expect("comparable tensors").max_abs
}

/// The largest absolute value of a tensor.
pub fn max_abs(t: &Tensor) -> f32 {
    compare::max_abs(t).expect("a float tensor")
}
