//! PANNs CNN14, audioldm_eval's paired KL and Inception Score, and numpy's legacy RandomState
//! against the fixtures `models/fixtures/make_panns_fixtures.py` made with panns-inference,
//! torchlibrosa, audioldm_eval and numpy (`models/tests/data/panns`).

use crate::common;

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use ekphrasis_models::error::Error;
use ekphrasis_models::eval::metrics::isc::{inception_score, inception_score_with};
use ekphrasis_models::eval::metrics::numpy_random::RandomState;
use ekphrasis_models::eval::metrics::paired_kl;
use ekphrasis_models::eval::panns::resample::resample;
use ekphrasis_models::eval::panns::weights::read_state_dict;
use ekphrasis_models::eval::panns::{
    Cnn14, MIN_SAMPLES, SAMPLE_RATE, normalise_clip, normalise_clip_at,
};
use serde_json::Value;

/// The front end's output (dB) against torchlibrosa's: |Δ| ≤ 1e-5 · max(1, |expected|).
const LOG_MEL_TOLERANCE: f32 = 1e-5;
/// Logits against panns-inference's: |Δ| ≤ 1e-4 · max(1, |expected|).
const LOGITS_TOLERANCE: f32 = 1e-4;
/// Metrics against audioldm_eval's (run in f64): relative.
const METRIC_TOLERANCE: f64 = 1e-6;

fn data() -> PathBuf {
    common::data_dir("panns")
}

fn fixture() -> common::Fixture {
    common::Fixture::load(&data())
}

fn clip_count(json: &Value) -> usize {
    json["config"]["clip_lengths"].as_array().unwrap().len()
}

/// A clip as the fixture holds it: 16-bit values, as a decoded WAV gives them.
fn clip(fixture: &common::Fixture, i: usize) -> Vec<f32> {
    let pcm = fixture.tensor(&format!("clip{i}.pcm16"));
    let pcm: Vec<f32> = pcm.to_dtype(DType::F32).unwrap().to_vec1::<f32>().unwrap();
    pcm.into_iter().map(|s| s / 32768.0).collect()
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2::<f32>().unwrap()
}

/// max over elements of |a − b| / max(1, |b|).
fn max_scaled_error(actual: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(actual.len(), expected.len());
    actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs() / e.abs().max(1.0))
        .fold(0.0, f32::max)
}

fn relative(actual: f64, expected: f64) -> f64 {
    (actual - expected).abs() / expected.abs().max(f64::MIN_POSITIVE)
}

fn model(file: &str) -> Cnn14 {
    Cnn14::load(&data().join(file), &Device::Cpu).unwrap()
}

#[test]
fn normalisation_removes_the_mean_and_pads_to_one_second() {
    let fixture = fixture();
    let lengths = fixture.json["normalised_lengths"].as_array().unwrap();
    assert_eq!(lengths.len(), clip_count(&fixture.json));
    for (i, length) in lengths.iter().enumerate() {
        let normalised = normalise_clip(&clip(&fixture, i));
        assert_eq!(normalised.len() as u64, length.as_u64().unwrap());
        assert!(normalised.len() >= MIN_SAMPLES);
        let head = fixture.tensor(&format!("clip{i}.normalised_head"));
        let tail = fixture.tensor(&format!("clip{i}.normalised_tail"));
        let head: Vec<f32> = head.to_vec1().unwrap();
        let tail: Vec<f32> = tail.to_vec1().unwrap();
        let error = max_scaled_error(&normalised[..head.len()], &head).max(max_scaled_error(
            &normalised[normalised.len() - tail.len()..],
            &tail,
        ));
        println!("clip {i}: normalised samples max |Δ| {error:e}");
        assert!(error <= 1e-7, "clip {i}: {error}");
    }
    assert_eq!(normalise_clip(&[]), vec![0.0; MIN_SAMPLES]);
}

#[test]
fn front_end_matches_torchlibrosa() {
    let fixture = fixture();
    let cnn = model("cnn14-tiny.safetensors");
    assert_eq!(
        cnn.dims().hop,
        fixture.json["config"]["hop"].as_u64().unwrap() as usize
    );
    for i in 0..clip_count(&fixture.json) {
        let log_mel = cnn.log_mel(&normalise_clip(&clip(&fixture, i))).unwrap();
        let expected = fixture.tensor(&format!("clip{i}.logmel"));
        assert_eq!(log_mel.dims(), expected.dims(), "clip {i}");
        let error = max_scaled_error(
            &log_mel.flatten_all().unwrap().to_vec1().unwrap(),
            &expected.flatten_all().unwrap().to_vec1().unwrap(),
        );
        println!("clip {i}: log-mel max scaled |Δ| {error:e}");
        assert!(error <= LOG_MEL_TOLERANCE, "clip {i}: {error}");
    }
}

#[test]
fn logits_match_panns_from_both_checkpoint_forms() {
    let fixture = fixture();
    for file in ["cnn14-tiny.pth", "cnn14-tiny.safetensors"] {
        let cnn = model(file);
        assert_eq!(cnn.dims().widths, [4, 8, 8, 16, 16, 32]);
        for i in 0..clip_count(&fixture.json) {
            let logits = cnn.logits(&clip(&fixture, i)).unwrap();
            let expected: Vec<f32> = fixture
                .tensor(&format!("clip{i}.logits"))
                .to_vec1()
                .unwrap();
            let error = max_scaled_error(&logits, &expected);
            println!("{file} clip {i}: logits max scaled |Δ| {error:e}");
            assert!(error <= LOGITS_TOLERANCE, "{file} clip {i}: {error}");
        }
    }
}

fn assert_kl(name: &str, actual: paired_kl::PairedKl, expected: &Value, tolerance: f64) {
    for (form, value) in [("softmax", actual.softmax), ("sigmoid", actual.sigmoid)] {
        let reference = expected["f64"][form].as_f64().unwrap();
        let error = relative(value, reference);
        println!("{name} {form}: {value} vs {reference}, relative {error:e}");
        assert!(error <= tolerance, "{name} {form}: {error}");
        // audioldm_eval itself runs in float32: the same to float32 rounding.
        let float32 = expected["f32"][form].as_f64().unwrap();
        assert!(relative(value, float32) <= 1e-5, "{name} {form} vs float32");
    }
}

#[test]
fn paired_kl_matches_audioldm_eval_on_synthetic_logits() {
    let fixture = fixture();
    let generated = rows(fixture.tensor("kl.gen"));
    let reference = rows(fixture.tensor("kl.ref"));
    let pairs: Vec<_> = generated.into_iter().zip(reference).collect();
    assert_kl(
        "synthetic",
        paired_kl::kl(&pairs).unwrap(),
        &fixture.json["kl_synthetic"],
        METRIC_TOLERANCE,
    );
}

/// Generated clip i pairs with reference clip i + 1 (cyclic), as the fixture script pairs them.
fn cyclic_pairs(logits: &[Vec<f32>]) -> Vec<(Vec<f32>, Vec<f32>)> {
    let count = logits.len();
    (0..count)
        .map(|i| (logits[i].clone(), logits[(i + 1) % count].clone()))
        .collect()
}

#[test]
fn paired_kl_matches_audioldm_eval_over_the_model_logits() {
    let fixture = fixture();
    let logits: Vec<Vec<f32>> = (0..clip_count(&fixture.json))
        .map(|i| {
            fixture
                .tensor(&format!("clip{i}.logits"))
                .to_vec1()
                .unwrap()
        })
        .collect();
    assert_kl(
        "model logits",
        paired_kl::kl(&cyclic_pairs(&logits)).unwrap(),
        &fixture.json["kl_model"],
        METRIC_TOLERANCE,
    );
}

#[test]
fn paired_kl_end_to_end_from_audio() {
    // Our logits differ from PyTorch's by float32 rounding (about 1e-6 relative), which carries
    // into the divergence: the chain is checked to 1e-5.
    let fixture = fixture();
    let cnn = model("cnn14-tiny.pth");
    let logits: Vec<Vec<f32>> = (0..clip_count(&fixture.json))
        .map(|i| cnn.logits(&clip(&fixture, i)).unwrap())
        .collect();
    assert_kl(
        "from audio",
        paired_kl::kl(&cyclic_pairs(&logits)).unwrap(),
        &fixture.json["kl_model"],
        1e-5,
    );
}

#[test]
fn inception_score_matches_audioldm_eval() {
    let fixture = fixture();
    for name in ["isc_37", "isc_20", "isc_10"] {
        let isc = inception_score(&rows(fixture.tensor(name))).unwrap();
        let expected = &fixture.json["isc"][name];
        let (mean, std) = (
            expected["mean"].as_f64().unwrap(),
            expected["std"].as_f64().unwrap(),
        );
        let mean_error = relative(isc.mean, mean);
        println!(
            "{name}: mean {} vs {mean} (relative {mean_error:e}), std {} vs {std}",
            isc.mean, isc.std
        );
        assert!(mean_error <= METRIC_TOLERANCE, "{name} mean: {mean_error}");
        if std > 1e-9 {
            let std_error = relative(isc.std, std);
            println!("{name}: std relative {std_error:e}");
            assert!(std_error <= METRIC_TOLERANCE, "{name} std: {std_error}");
        } else {
            // One row per split: every score is exp(0) = 1 and the spread is rounding alone.
            assert!(isc.std <= 1e-12, "{name} std: {}", isc.std);
        }
    }
}

#[test]
fn inception_score_refuses_fewer_files_than_splits() {
    let rows = vec![vec![0.5f32; 8]; 9];
    let error = inception_score(&rows).unwrap_err();
    assert!(matches!(error, Error::Input(_)));
    assert!(inception_score_with(&rows, 9, 2020).is_ok());
}

fn u64s(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[test]
fn random_state_matches_numpy() {
    let fixture = fixture();
    let numpy = &fixture.json["numpy_random"];
    for (case, expected) in numpy["permutation"].as_object().unwrap() {
        let (seed, n) = case.split_once('_').unwrap();
        let (seed, n): (u32, usize) = (seed.parse().unwrap(), n.parse().unwrap());
        let permutation: Vec<u64> = RandomState::new(seed)
            .permutation(n)
            .into_iter()
            .map(|i| i as u64)
            .collect();
        assert_eq!(permutation, u64s(expected), "seed {seed}, n {n}");
    }
    for (seed, expected) in numpy["raw_uint32"].as_object().unwrap() {
        let mut state = RandomState::new(seed.parse().unwrap());
        let expected = u64s(expected);
        let draws: Vec<u64> = (0..expected.len())
            .map(|_| u64::from(state.next_u32()))
            .collect();
        assert_eq!(draws, expected, "seed {seed}");
    }
    for case in numpy["array_seeds"].as_array().unwrap() {
        let words: Vec<u32> = u64s(&case["seed"]).into_iter().map(|w| w as u32).collect();
        let mut state = RandomState::from_words(&words);
        let draws: Vec<u64> = (0..8).map(|_| u64::from(state.next_u32())).collect();
        assert_eq!(draws, u64s(&case["raw"]), "seed {words:?}");
        let permutation: Vec<u64> = RandomState::from_words(&words)
            .permutation(50)
            .into_iter()
            .map(|i| i as u64)
            .collect();
        assert_eq!(permutation, u64s(&case["permutation_50"]), "seed {words:?}");
    }
}

#[test]
fn a_missing_checkpoint_is_named() {
    let path = data().join("no-such-cnn14.pth");
    let error = Cnn14::load(&path, &Device::Cpu).err().unwrap();
    assert!(matches!(error, Error::MissingFile { .. }));
    assert!(error.to_string().contains("no-such-cnn14.pth"), "{error}");
}

#[test]
fn a_malformed_checkpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // Not a checkpoint at all.
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a checkpoint").unwrap();
    let error = Cnn14::load(&garbage, &Device::Cpu).err().unwrap();
    assert!(
        format!("{error:#}").contains("garbage.safetensors"),
        "{error:#}"
    );
    // A valid safetensors file without the CNN14 keys.
    let foreign = dir.path().join("foreign.safetensors");
    let tensors = [(
        "something.else".to_string(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    )];
    candle_core::safetensors::save(&tensors.into_iter().collect(), &foreign).unwrap();
    let error = Cnn14::load(&foreign, &Device::Cpu).err().unwrap();
    let message = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(message.contains("foreign.safetensors"), "{message}");
    assert!(message.contains("spectrogram_extractor"), "{message}");
    // A truncated torch zip.
    let bytes = std::fs::read(data().join("cnn14-tiny.pth")).unwrap();
    let truncated = dir.path().join("truncated.pth");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let error = Cnn14::load(&truncated, &Device::Cpu).err().unwrap();
    assert!(error.to_string().contains("truncated.pth"), "{error}");
    // A checkpoint whose widths disagree (conv_block2 takes 4 channels, block 1 gives 8).
    let mut tensors =
        candle_core::safetensors::load(data().join("cnn14-tiny.safetensors"), &Device::Cpu)
            .unwrap();
    tensors.insert(
        "conv_block1.conv1.weight".to_string(),
        Tensor::zeros((8, 1, 3, 3), DType::F32, &Device::Cpu).unwrap(),
    );
    let mismatched = dir.path().join("mismatched.safetensors");
    candle_core::safetensors::save(&tensors, &mismatched).unwrap();
    let error = Cnn14::load(&mismatched, &Device::Cpu).err().unwrap();
    assert!(matches!(error, Error::Weights { .. }), "{error}");
    assert!(
        error.to_string().contains("mismatched.safetensors"),
        "{error}"
    );
}

#[test]
fn a_legacy_format_checkpoint_reads_as_torch_reads_it() {
    let device = Device::Cpu;
    let legacy = read_state_dict(&data().join("legacy-format.pth"), &device).unwrap();
    let expected =
        candle_core::safetensors::load(data().join("legacy-format.safetensors"), &device).unwrap();
    let mut names: Vec<_> = legacy.keys().cloned().collect();
    names.sort();
    let mut expected_names: Vec<_> = expected.keys().cloned().collect();
    expected_names.sort();
    assert_eq!(names, expected_names);
    for (name, tensor) in &legacy {
        let want = &expected[name];
        assert_eq!(tensor.dtype(), want.dtype(), "{name}");
        assert_eq!(tensor.dims(), want.dims(), "{name}");
        let (a, b) = (
            tensor.to_dtype(DType::F64).unwrap().flatten_all().unwrap(),
            want.to_dtype(DType::F64).unwrap().flatten_all().unwrap(),
        );
        assert_eq!(
            a.to_vec1::<f64>().unwrap(),
            b.to_vec1::<f64>().unwrap(),
            "{name}"
        );
    }
    // Cut short, it fails naming the file.
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data().join("legacy-format.pth")).unwrap();
    let truncated = dir.path().join("legacy-truncated.pth");
    std::fs::write(&truncated, &bytes[..bytes.len() - 40]).unwrap();
    let error = read_state_dict(&truncated, &device).unwrap_err();
    assert!(
        error.to_string().contains("legacy-truncated.pth"),
        "{error}"
    );
}

#[test]
fn resampling_matches_torchaudio() {
    let fixture = fixture();
    for case in fixture.json["resample"].as_array().unwrap() {
        let rate = case["rate"].as_u64().unwrap() as u32;
        let name = format!("resample_{rate}");
        let pcm: Vec<f32> = fixture
            .tensor(&format!("{name}.pcm16"))
            .to_dtype(DType::F32)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .into_iter()
            .map(|s| s / 32768.0)
            .collect();
        let expected: Vec<f32> = fixture
            .tensor(&format!("{name}.resampled"))
            .to_vec1()
            .unwrap();
        let resampled = resample(&pcm, rate, SAMPLE_RATE);
        assert_eq!(resampled.len(), expected.len(), "{rate} Hz");
        let error = max_scaled_error(&resampled, &expected);
        println!("{rate} Hz → 32 kHz: max |Δ| {error:e}");
        assert!(error <= 1e-6, "{rate} Hz: {error}");
        // audioldm_eval's whole normalisation: mean removed, resampled, padded.
        let normalised = normalise_clip_at(&pcm, rate);
        assert_eq!(
            normalised.len() as u64,
            case["normalised_length"].as_u64().unwrap()
        );
        let head: Vec<f32> = fixture
            .tensor(&format!("{name}.normalised_head"))
            .to_vec1()
            .unwrap();
        let error = max_scaled_error(&normalised[..head.len()], &head);
        println!("{rate} Hz normalised: max |Δ| {error:e}");
        assert!(error <= 1e-6, "{rate} Hz normalised: {error}");
    }
}
