//! VGGish, its input pipeline, FAD and the histogram KL against the references: torchvggish's
//! `waveform_to_examples` and `VGG`, resampy, numpy, scipy and torch's `F.kl_div`, run by
//! `models/fixtures/make_vggish_fixtures.py` on the narrow random-weight VGGish and the clips in
//! `tests/data/vggish` (see `models/fixtures/README-eval.md`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use ekphrasis_models::error::Error;
use ekphrasis_models::eval::metrics::fad::{self, Statistics};
use ekphrasis_models::eval::metrics::histogram_kl;
use ekphrasis_models::eval::vggish::frontend::{self, Examples};
use ekphrasis_models::eval::vggish::{Vggish, resampy};
use serde_json::Value;

use crate::common;

use common::{data_dir, expected_json, expected_tensors};

fn fixture_dir() -> PathBuf {
    data_dir("vggish")
}

struct Fixture {
    tensors: HashMap<String, Tensor>,
    json: Value,
    raw: Vec<u8>,
}

impl Fixture {
    fn load() -> Self {
        let dir = fixture_dir();
        Self {
            tensors: expected_tensors(&dir),
            json: expected_json(&dir),
            raw: std::fs::read(dir.join("expected.safetensors")).expect("expected.safetensors"),
        }
    }

    fn f32s(&self, name: &str) -> Vec<f32> {
        let t = &self.tensors[name];
        t.flatten_all()
            .and_then(|t| t.to_dtype(DType::F32))
            .and_then(|t| t.to_vec1())
            .expect(name)
    }

    fn f64s(&self, name: &str) -> Vec<f64> {
        let t = &self.tensors[name];
        t.flatten_all()
            .and_then(|t| t.to_dtype(DType::F64))
            .and_then(|t| t.to_vec1())
            .expect(name)
    }

    fn rows(&self, name: &str) -> Vec<Vec<f32>> {
        self.tensors[name].to_vec2::<f32>().expect(name)
    }

    /// A clip as mono samples (16-bit values / 32768, channels averaged) and its rate.
    fn clip(&self, name: &str) -> (Vec<f32>, u32) {
        let file = safetensors::SafeTensors::deserialize(&self.raw).expect("safetensors");
        let view = file.tensor(&format!("clip.{name}.pcm")).expect("a clip");
        assert_eq!(view.dtype(), safetensors::Dtype::I16);
        let samples: Vec<f32> = view
            .data()
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect();
        let channels = view.shape().get(1).copied().unwrap_or(1);
        let info = &self.json["clips"][name];
        assert_eq!(info["channels"].as_u64(), Some(channels as u64));
        let rate = info["rate"].as_u64().expect("rate") as u32;
        (frontend::mix_to_mono(&samples, channels), rate)
    }

    fn clip_names(&self, set: &str) -> Vec<String> {
        let mut names: Vec<String> = self.json["clips"]
            .as_object()
            .expect("clips")
            .iter()
            .filter(|(_, info)| info["set"] == set)
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    fn number(&self, path: &[&str]) -> f64 {
        let mut v = &self.json;
        for key in path {
            v = &v[*key];
        }
        v.as_f64().unwrap_or_else(|| panic!("{path:?}"))
    }
}

fn relative(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs().max(1e-300)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn max_abs(a: &[f32]) -> f32 {
    a.iter().map(|x| x.abs()).fold(0.0, f32::max)
}

fn model(file: &str) -> Vggish {
    Vggish::load(&fixture_dir().join(file), &Device::Cpu).expect(file)
}

#[test]
fn kaiser_best_table_is_resampys() {
    let fixture = Fixture::load();
    let table = resampy::kaiser_best_table();
    assert_eq!(
        table.len() as f64,
        fixture.number(&["kaiser_best", "length"])
    );
    let sampled: Vec<f64> = table.iter().step_by(1024).copied().collect();
    let mut worst = 0.0f64;
    for (got, want) in sampled.iter().zip(fixture.f64s("kaiser_best.every_1024")) {
        worst = worst.max((got - want).abs());
    }
    for (got, want) in table[table.len() - 8..]
        .iter()
        .zip(fixture.f64s("kaiser_best.last_8"))
    {
        worst = worst.max((got - want).abs());
    }
    println!("kaiser_best table: max abs error {worst:e}");
    assert!(worst < 1e-13, "table differs by {worst:e}");
}

#[test]
fn resampler_matches_resampy() {
    let fixture = Fixture::load();
    for rate in fixture.json["resample_rates"].as_array().expect("rates") {
        let rate = rate.as_u64().expect("a rate") as u32;
        let input: Vec<f64> = fixture
            .f32s(&format!("resample.{rate}.input"))
            .into_iter()
            .map(f64::from)
            .collect();
        let want = fixture.f64s(&format!("resample.{rate}.output"));
        let got = resampy::resample(&input, rate, 16_000).expect("resampled");
        assert_eq!(got.len(), want.len(), "{rate} Hz: length");
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!("resample {rate} -> 16000: max abs error {worst:e}");
        assert!(worst < 1e-6, "{rate} Hz: {worst:e}");
    }
}

#[test]
fn front_end_matches_waveform_to_examples() {
    let fixture = Fixture::load();
    let mut worst = 0.0f32;
    for name in fixture
        .clip_names("reference")
        .into_iter()
        .chain(fixture.clip_names("generated"))
    {
        let (samples, rate) = fixture.clip(&name);
        let got = frontend::examples(&samples, rate).expect("examples");
        let want = fixture.f32s(&format!("clip.{name}.examples"));
        let count = fixture.number(&["clips", &name, "examples"]) as usize;
        assert_eq!(got.count, count, "{name}: example count");
        let diff = max_abs_diff(&got.values, &want);
        println!("{name} ({rate} Hz): {count} examples, max abs error {diff:e}");
        worst = worst.max(diff);
    }
    assert!(worst < 1e-5, "front end differs by {worst:e}");
}

#[test]
fn a_clip_shorter_than_one_example_gives_none() {
    let fixture = Fixture::load();
    let samples = fixture.number(&["short_clip", "samples"]) as usize;
    let rate = fixture.number(&["short_clip", "rate"]) as u32;
    let examples = frontend::examples(&vec![0.0; samples], rate).expect("examples");
    assert_eq!(
        examples.count as f64,
        fixture.number(&["short_clip", "examples"])
    );
    assert!(
        model("vggish-narrow.safetensors")
            .embed(&examples)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn embeddings_match_torchvggish() {
    let fixture = Fixture::load();
    let vggish = model("vggish-narrow.pth");
    assert_eq!(vggish.shape().conv_channels, [4, 8, 8, 8, 16, 16]);
    assert_eq!(vggish.shape().linear_features, [32, 32, 128]);
    let mut worst_model = 0.0f32;
    let mut worst_chain = 0.0f32;
    for name in fixture
        .clip_names("reference")
        .into_iter()
        .chain(fixture.clip_names("generated"))
    {
        let want = fixture.f32s(&format!("clip.{name}.embeddings"));
        let scale = max_abs(&want);
        // The model alone, on the reference's examples.
        let values = fixture.f32s(&format!("clip.{name}.examples"));
        let examples = Examples {
            count: values.len() / (96 * 64),
            values,
        };
        let got: Vec<f32> = vggish.embed(&examples).unwrap().concat();
        worst_model = worst_model.max(max_abs_diff(&got, &want) / scale);
        // The whole chain, from the samples.
        let (samples, rate) = fixture.clip(&name);
        let got: Vec<f32> = vggish.embed_audio(&samples, rate).unwrap().concat();
        worst_chain = worst_chain.max(max_abs_diff(&got, &want) / scale);
    }
    println!(
        "embeddings: max relative error {worst_model:e} (model), {worst_chain:e} (from audio)"
    );
    assert!(worst_model < 1e-4, "{worst_model:e}");
    assert!(worst_chain < 1e-4, "{worst_chain:e}");
}

#[test]
fn pth_legacy_pth_and_safetensors_load_the_same_model() {
    let fixture = Fixture::load();
    let examples = fixture.f32s("clip.ref_a.examples");
    let input = Tensor::from_vec(examples, (2, 96, 64), &Device::Cpu).unwrap();
    let outputs: Vec<Vec<f32>> = [
        "vggish-narrow.pth",
        "vggish-narrow-legacy.pth",
        "vggish-narrow.safetensors",
    ]
    .iter()
    .map(|file| {
        model(file)
            .forward(&input)
            .and_then(|t| Ok(t.flatten_all()?.to_vec1::<f32>()?))
            .expect(file)
    })
    .collect();
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

#[test]
fn statistics_match_numpy() {
    let fixture = Fixture::load();
    let stats = Statistics::from_rows(&fixture.rows("rows.reference")).unwrap();
    assert_eq!(stats.count, 200);
    let mean = fixture.f64s("rows.reference.mean");
    let scale = mean.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mean_error = stats
        .mean
        .iter()
        .zip(&mean)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale;
    let cov = fixture.f64s("rows.reference.cov");
    let scale = cov.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    // nalgebra is column-major; the covariance is symmetric either way.
    let cov_error = stats
        .covariance
        .iter()
        .zip(&cov)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale;
    println!("statistics: mean {mean_error:e}, covariance {cov_error:e} (relative to the largest)");
    // The reference mean is numpy's float32 mean; the covariance was stored as float32.
    assert!(mean_error < 1e-6, "{mean_error:e}");
    assert!(cov_error < 1e-6, "{cov_error:e}");
}

/// FAD and both KLs of two pooled sets against the fixture's `key` entry: the FAD within
/// `paper_tolerance` (relative) of calc_fad.py's and within `f64_tolerance` of the same with the
/// means taken in f64; the KLs within 1e-6 of calc_kl.py's.
fn check_metrics(
    fixture: &Fixture,
    key: &str,
    reference: &[Vec<f32>],
    generated: &[Vec<f32>],
    paper_tolerance: f64,
    f64_tolerance: f64,
) {
    let got = fad::fad(reference, generated).unwrap();
    let paper = fixture.number(&[key, "fad"]);
    let f64_means = fixture.number(&[key, "fad_with_f64_means"]);
    let (vs_paper, vs_f64) = (relative(got, paper), relative(got, f64_means));
    println!(
        "{key}: FAD {got} vs calc_fad {paper} ({vs_paper:e}), with f64 means {f64_means} ({vs_f64:e})"
    );
    assert!(vs_paper < paper_tolerance, "{key}: FAD {vs_paper:e}");
    assert!(vs_f64 < f64_tolerance, "{key}: FAD {vs_f64:e}");
    let kl = histogram_kl::kl_of_rows(reference, generated).unwrap();
    let softmax = relative(kl.softmax, fixture.number(&[key, "kl_softmax"]));
    let sigmoid = relative(kl.sigmoid, fixture.number(&[key, "kl_sigmoid"]));
    println!(
        "{key}: KL softmax {} ({softmax:e}), sigmoid {} ({sigmoid:e})",
        kl.softmax, kl.sigmoid
    );
    assert!(
        softmax < 1e-6 && sigmoid < 1e-6,
        "{key}: KL {softmax:e} {sigmoid:e}"
    );
}

#[test]
fn metrics_of_well_conditioned_sets_match_calc_fad_and_calc_kl() {
    let fixture = Fixture::load();
    let reference = fixture.rows("rows.reference");
    let generated = fixture.rows("rows.generated");
    // calc_fad.py's float32 means cost it up to 1e-6 relative; with f64 means scipy and this agree
    // to rounding.
    check_metrics(&fixture, "rows_metrics", &reference, &generated, 1e-6, 1e-9);
}

#[test]
fn metrics_of_singular_sets_match_calc_fad_and_calc_kl() {
    // Four examples per set, 128 dimensions: both covariances are singular.
    let fixture = Fixture::load();
    let pooled = |set: &str| -> Vec<Vec<f32>> {
        fixture
            .clip_names(set)
            .iter()
            .flat_map(|name| fixture.rows(&format!("clip.{name}.embeddings")))
            .collect()
    };
    check_metrics(
        &fixture,
        "clips_metrics",
        &pooled("reference"),
        &pooled("generated"),
        1e-5,
        1e-5,
    );
}

#[test]
fn metrics_from_audio_through_the_whole_chain() {
    // The eval command's path: front end, embeddings per file, pooled. Our embeddings differ
    // from torch's by float32 rounding, so this is looser than the metric tests above.
    let fixture = Fixture::load();
    let vggish = model("vggish-narrow.safetensors");
    let pooled = |set: &str| -> Vec<Vec<f32>> {
        fixture
            .clip_names(set)
            .iter()
            .flat_map(|name| {
                let (samples, rate) = fixture.clip(name);
                vggish.embed_audio(&samples, rate).unwrap()
            })
            .collect()
    };
    let (reference, generated) = (pooled("reference"), pooled("generated"));
    let got = fad::fad(&reference, &generated).unwrap();
    let want = fixture.number(&["clips_metrics", "fad"]);
    println!(
        "FAD from audio: {got} vs {want} ({:e})",
        relative(got, want)
    );
    assert!(relative(got, want) < 1e-4);
    // A value that rounding moves across a bin edge changes a count, so the KLs from our own
    // embeddings are only reported; `metrics_of_singular_sets_…` checks them on torch's.
    let kl = histogram_kl::kl_of_rows(&reference, &generated).unwrap();
    let softmax = relative(kl.softmax, fixture.number(&["clips_metrics", "kl_softmax"]));
    let sigmoid = relative(kl.sigmoid, fixture.number(&["clips_metrics", "kl_sigmoid"]));
    println!("KLs from audio: softmax {softmax:e}, sigmoid {sigmoid:e} (relative)");
}

#[test]
fn histogram_corner_cases_match_numpy() {
    let fixture = Fixture::load();
    for case in fixture.json["kl_cases"].as_array().expect("cases") {
        let values = |key: &str| -> Vec<f32> {
            case[key]
                .as_array()
                .expect(key)
                .iter()
                .map(|v| v.as_f64().expect("a number") as f32)
                .collect()
        };
        let kl = histogram_kl::kl(&values("reference"), &values("generated")).unwrap();
        let softmax = relative(kl.softmax, case["softmax"].as_f64().unwrap());
        let sigmoid = relative(kl.sigmoid, case["sigmoid"].as_f64().unwrap());
        println!("{}: softmax {softmax:e}, sigmoid {sigmoid:e}", case["name"]);
        assert!(softmax < 1e-6 && sigmoid < 1e-6, "{}", case["name"]);
    }
}

#[test]
fn too_few_examples_for_fad_is_a_clear_error() {
    let one = vec![vec![0.0f32; 128]];
    let err = fad::fad(&one, &one).unwrap_err();
    assert!(err.to_string().contains("at least 2"), "{err}");
}

fn load_error(path: &Path) -> Error {
    Vggish::load(path, &Device::Cpu).expect_err("a bad checkpoint was accepted")
}

#[test]
fn missing_or_malformed_checkpoints_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("vggish-10086976.pth");
    let err = load_error(&missing);
    assert!(matches!(err, Error::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("vggish-10086976.pth"), "{err}");

    let garbage = dir.path().join("garbage.pth");
    std::fs::write(&garbage, b"not a checkpoint at all").unwrap();
    let err = load_error(&garbage);
    assert!(matches!(err, Error::Weights { .. }), "{err}");
    assert!(err.to_string().contains("garbage.pth"), "{err}");

    let bytes = std::fs::read(fixture_dir().join("vggish-narrow-legacy.pth")).unwrap();
    let truncated = dir.path().join("truncated.pth");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_error(&truncated);
    assert!(err.to_string().contains("truncated.pth"), "{err:#}");

    let bytes = std::fs::read(fixture_dir().join("vggish-narrow.pth")).unwrap();
    let truncated = dir.path().join("truncated-zip.pth");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_error(&truncated);
    assert!(err.to_string().contains("truncated-zip.pth"), "{err:#}");

    // A real safetensors file that is not VGGish.
    let foreign = dir.path().join("foreign.safetensors");
    let tensor = Tensor::zeros((3, 3), DType::F32, &Device::Cpu).unwrap();
    candle_core::safetensors::save(&HashMap::from([("weight".to_owned(), tensor)]), &foreign)
        .unwrap();
    let err = load_error(&foreign);
    assert!(matches!(err, Error::Weights { .. }), "{err}");
    let message = format!("{err:#}");
    assert!(message.contains("foreign.safetensors"), "{message}");
    let source = std::error::Error::source(&err)
        .map(|s| s.to_string())
        .unwrap_or_default();
    assert!(source.contains("features.0.weight"), "{source}");
}
