//! Parity with the reference implementation: each model of the chain, loaded from its tiny
//! random-weight checkpoint, against the outputs transformers or PyTorch computed from the same
//! weights (`models/fixtures/*.py` → `models/tests/data/<set>/expected.{safetensors,json}`), on
//! any device and in f32 or bf16. The model tests run these checks on the CPU; `ekphrasis
//! parity` runs them wherever it is asked to (a GPU, from the GPU bundle).
//!
//! Tolerances, stated once here:
//! - f32, on any device: every float within [`F32_ABSOLUTE`] (1e-4) of the reference, the
//!   project's rule; generated ids and codes equal, place for place.
//! - bf16 (8 bits of mantissa, 0.4% a rounding): the largest difference within
//!   [`BF16_RELATIVE`] (5%) of the largest expected value; on the CPU it measured 0.9% (BLIP's
//!   vision states) to 2.2% (BLIP's logits). Generated ids are not compared in bf16: greedy
//!   decoding leaves the reference's path at the first near-tie, so the bf16 checks are
//!   teacher-forced (logits for the reference's own inputs).
//! - CLIP and the emotion model compute in f32 on every device, so they are checked in f32 only.
//!
//! Layout: [`compare`] (differences), [`fixture`] (the expected files), one module a model set.

pub mod compare;
pub mod fixture;

mod blip;
mod falcon_rw;
mod musicgen;
mod vision;

use std::path::Path;

use candle_core::{DType, Device};

use crate::error::{Error, Result};
use compare::Diff;

/// The largest absolute difference allowed in f32.
pub const F32_ABSOLUTE: f32 = 1e-4;
/// The largest difference allowed in bf16, relative to the largest expected value.
pub const BF16_RELATIVE: f32 = 0.05;

/// The fixture sets the checks read, each a folder of `models/tests/data/`.
pub const FIXTURE_SETS: &[&str] = &[
    "musicgen-tiny",
    "falcon-rw-tiny",
    "blip-tiny",
    "clip-tiny",
    "emotion-head-tiny",
];

/// What a check allows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// Floats within this absolute difference.
    Absolute(f32),
    /// Floats within this share of the largest expected value.
    RelativeToPeak(f32),
    /// Ids or codes equal in every place.
    Exact,
}

impl Tolerance {
    /// The tolerance for floats computed in `dtype` (see the module doc).
    pub fn for_floats(dtype: DType) -> Self {
        match dtype {
            DType::F32 | DType::F64 => Self::Absolute(F32_ABSOLUTE),
            _ => Self::RelativeToPeak(BF16_RELATIVE),
        }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Absolute(limit) => write!(f, "abs ≤ {limit:.0e}"),
            Self::RelativeToPeak(share) => write!(f, "rel ≤ {share}"),
            Self::Exact => write!(f, "all equal"),
        }
    }
}

/// What a check measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Measured {
    /// Floats.
    Floats(Diff),
    /// Ids or codes: how many places are equal, of how many.
    Ids { equal: usize, total: usize },
}

/// One comparison with the reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The model set (`musicgen`, `falcon-rw`, …).
    pub model: &'static str,
    /// What was compared.
    pub what: String,
    /// The dtype the model computed in.
    pub dtype: DType,
    /// The measurement.
    pub measured: Measured,
    /// What is allowed.
    pub tolerance: Tolerance,
}

impl Check {
    /// A float comparison in `dtype`, with that dtype's tolerance.
    pub fn floats(model: &'static str, what: &str, dtype: DType, diff: Diff) -> Self {
        Self {
            model,
            what: what.to_owned(),
            dtype,
            measured: Measured::Floats(diff),
            tolerance: Tolerance::for_floats(dtype),
        }
    }

    /// An exact comparison of ids or codes.
    pub fn ids(
        model: &'static str,
        what: &str,
        dtype: DType,
        (equal, total): (usize, usize),
    ) -> Self {
        Self {
            model,
            what: what.to_owned(),
            dtype,
            measured: Measured::Ids { equal, total },
            tolerance: Tolerance::Exact,
        }
    }

    /// Whether the measurement is within the tolerance.
    pub fn passed(&self) -> bool {
        match (self.measured, self.tolerance) {
            (Measured::Floats(diff), Tolerance::Absolute(limit)) => diff.max_abs <= limit,
            (Measured::Floats(diff), Tolerance::RelativeToPeak(share)) => diff.relative() <= share,
            (Measured::Ids { equal, total }, Tolerance::Exact) => total > 0 && equal == total,
            _ => false,
        }
    }
}

/// Runs every check on `device`, the models computing in `dtype` (f32 or bf16), with the
/// fixture sets read from `fixtures/<set>/` ([`FIXTURE_SETS`]).
pub fn run(fixtures: &Path, device: &Device, dtype: DType) -> Result<Vec<Check>> {
    if !matches!(dtype, DType::F32 | DType::BF16) {
        return Err(Error::Input(format!(
            "parity is checked in f32 or bf16, not {dtype:?}"
        )));
    }
    let mut checks = musicgen::checks(&fixtures.join("musicgen-tiny"), device, dtype)?;
    checks.extend(falcon_rw::checks(
        &fixtures.join("falcon-rw-tiny"),
        device,
        dtype,
    )?);
    checks.extend(blip::checks(&fixtures.join("blip-tiny"), device, dtype)?);
    if dtype == DType::F32 {
        checks.extend(vision::clip_checks(&fixtures.join("clip-tiny"), device)?);
        checks.extend(vision::emotion_checks(
            &fixtures.join("emotion-head-tiny"),
            device,
        )?);
    }
    Ok(checks)
}
