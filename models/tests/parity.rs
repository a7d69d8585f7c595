//! The parity checks that `ekphrasis parity` runs on a GPU, run here on the CPU against the
//! committed fixtures: every one within its stated tolerance, in f32 and in bf16.

use std::collections::BTreeSet;

use candle_core::{DType, Device};
use ekphrasis_models::parity::{self, Check, Measured, Tolerance};

use crate::common;

fn run(dtype: DType) -> Vec<Check> {
    let fixtures = common::data_dir("");
    parity::run(&fixtures, &Device::Cpu, dtype).unwrap()
}

fn assert_all_pass(checks: &[Check]) {
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed()).collect();
    assert!(failed.is_empty(), "failed: {failed:#?}");
}

#[test]
fn every_check_passes_in_f32_and_every_model_is_checked() {
    let checks = run(DType::F32);
    assert_all_pass(&checks);
    let models: BTreeSet<&str> = checks.iter().map(|c| c.model).collect();
    assert_eq!(
        models,
        BTreeSet::from(["blip", "clip", "emotion", "falcon-rw", "musicgen"])
    );
    // Generated ids are compared in f32, all of them equal.
    let exact = checks.iter().filter(|c| c.tolerance == Tolerance::Exact);
    assert_eq!(exact.clone().count(), 3);
    for check in exact {
        assert!(matches!(check.measured, Measured::Ids { total, .. } if total > 0));
    }
}

#[test]
fn every_check_passes_in_bf16_teacher_forced() {
    let checks = run(DType::BF16);
    assert_all_pass(&checks);
    assert!(checks.iter().all(|c| c.dtype == DType::BF16
        && c.tolerance == Tolerance::RelativeToPeak(parity::BF16_RELATIVE)));
    let models: BTreeSet<&str> = checks.iter().map(|c| c.model).collect();
    assert_eq!(models, BTreeSet::from(["blip", "falcon-rw", "musicgen"]));
}

#[test]
fn a_missing_fixture_set_is_named() {
    let empty = tempfile::tempdir().unwrap();
    let err = parity::run(empty.path(), &Device::Cpu, DType::F32).unwrap_err();
    assert!(err.to_string().contains("musicgen-tiny"), "{err}");
    assert!(parity::run(empty.path(), &Device::Cpu, DType::F16).is_err());
}
