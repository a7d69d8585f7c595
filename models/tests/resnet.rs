//! ResNet against the reference: tiny random-weight ResNets in transformers' layout, with every
//! stage output of `ResNetModel` computed by transformers
//! (`models/fixtures/make_vision_fixtures.py`, `tests/data/resnet-tiny/`).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use ekphrasis_models::Error;
use ekphrasis_models::checkpoint::CheckpointDir;
use ekphrasis_models::emotion::resnet::{ResNet, ResNetConfig, resnet_prefix};
use ekphrasis_models::image_prep::ProcessorKind;

use crate::common;

use common::{copy_fixture, data_dir, expected_tensors, max_abs};

/// Largest difference relative to the largest expected value.
const RELATIVE_TOLERANCE: f32 = 1e-4;

fn case_dir(case: &str) -> PathBuf {
    data_dir("resnet-tiny").join(case)
}

fn relative_diff(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.dims(), want.dims(), "shapes differ");
    max_abs(&(got - want).unwrap()) / max_abs(want).max(1e-6)
}

#[test]
fn every_stage_matches_transformers() {
    for case in ["bottleneck", "basic", "bottleneck-dib"] {
        let (model, processor) = ResNet::load(&case_dir(case), &Device::Cpu).unwrap();
        assert_eq!(processor.kind().unwrap(), ProcessorKind::ConvNext);
        let tensors = expected_tensors(&case_dir(case));
        for input in ["square", "odd"] {
            let pixels = &tensors[&format!("{input}.pixel_values")];
            let stages = model.forward_stages(pixels).unwrap();
            let depth = model.config().depths.len();
            assert_eq!(stages.len(), depth + 1, "{case}");
            for (i, got) in stages.iter().enumerate() {
                let want = &tensors[&format!("{input}.hidden_states.{i}")];
                let diff = relative_diff(got, want);
                eprintln!("{case} {input} stage {i}: relative difference {diff:.2e}");
                assert!(
                    diff <= RELATIVE_TOLERANCE,
                    "{case} {input} stage {i}: {diff}"
                );
            }
            let last = model.forward(pixels).unwrap();
            let want = &tensors[&format!("{input}.last_hidden_state")];
            assert!(relative_diff(&last, want) <= RELATIVE_TOLERANCE, "{case}");
        }
    }
}

#[test]
fn the_prefix_follows_the_checkpoint_class() {
    let classifier = CheckpointDir::open(case_dir("bottleneck")).unwrap();
    assert_eq!(resnet_prefix(&classifier).unwrap(), "resnet.");
    let bare = CheckpointDir::open(case_dir("basic")).unwrap();
    assert_eq!(resnet_prefix(&bare).unwrap(), "");
    let musicgen = data_dir("musicgen-tiny");
    let err = resnet_prefix(&CheckpointDir::open(musicgen).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Weights { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn full_size_resnet50_from_random_weights() {
    let cfg = ResNetConfig::resnet50();
    let model = ResNet::random(&cfg, 7, &Device::Cpu).unwrap();
    let pixels = Tensor::randn(0f32, 1f32, (1, 3, 224, 224), &Device::Cpu).unwrap();
    let features = model.forward(&pixels).unwrap();
    assert_eq!(features.dims(), [1, 2048, 7, 7]);
    let values = features.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(values.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(values.iter().any(|v| *v > 0.0));
}

#[test]
fn missing_files_are_named() {
    let dir = copy_fixture(&case_dir("basic"));
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = ResNet::load(dir.path(), &Device::Cpu).unwrap_err();
    assert!(matches!(err, Error::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    let dir = copy_fixture(&case_dir("basic"));
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let err = ResNet::load(dir.path(), &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");

    let dir = copy_fixture(&case_dir("basic"));
    std::fs::remove_file(dir.path().join("preprocessor_config.json")).unwrap();
    let err = ResNet::load(dir.path(), &Device::Cpu).unwrap_err();
    assert!(
        err.to_string().contains("preprocessor_config.json"),
        "{err}"
    );

    let err = ResNet::load(Path::new("/no/such/resnet"), &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("/no/such/resnet"), "{err}");
}

#[test]
fn foreign_and_unsupported_configs_are_refused() {
    // a MusicGen checkpoint given as a ResNet
    let musicgen = data_dir("musicgen-tiny");
    let err = ResNet::load(&musicgen, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");

    for (field, value) in [
        ("hidden_act", serde_json::json!("gelu")),
        ("layer_type", serde_json::json!("preactivation")),
        ("model_type", serde_json::json!("vit")),
    ] {
        let dir = copy_fixture(&case_dir("basic"));
        let path = dir.path().join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        cfg[field] = value;
        std::fs::write(&path, cfg.to_string()).unwrap();
        match ResNet::load(dir.path(), &Device::Cpu).unwrap_err() {
            Error::Unsupported {
                field: f, path: p, ..
            } => {
                assert_eq!(f, field);
                assert!(p.ends_with("config.json"));
            }
            other => panic!("{field}: {other}"),
        }
    }

    // weights that do not fit the config name the weights file
    let dir = copy_fixture(&case_dir("basic"));
    let path = dir.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["hidden_sizes"] = serde_json::json!([8, 16]);
    std::fs::write(&path, cfg.to_string()).unwrap();
    let err = ResNet::load(dir.path(), &Device::Cpu).unwrap_err();
    assert!(matches!(err, Error::Weights { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn wrong_input_shapes_are_errors() {
    let (model, _) = ResNet::load(&case_dir("basic"), &Device::Cpu).unwrap();
    for shape in [vec![3, 32, 32], vec![1, 1, 32, 32], vec![1, 3, 1, 32]] {
        let pixels = Tensor::zeros(shape.as_slice(), DType::F32, &Device::Cpu).unwrap();
        let err = model.forward(&pixels).unwrap_err();
        assert!(matches!(err, Error::Input(_)), "{shape:?}: {err}");
        assert!(model.forward_stages(&pixels).is_err());
    }
}
