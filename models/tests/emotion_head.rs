//! The emotion head and the complete emotion model against the reference: PyTorch's
//! `nn.GRU`/`nn.MultiheadAttention`/`nn.Linear` and transformers' `ResNetModel`, run by
//! `models/fixtures/make_emotion_head_fixtures.py` on the weights in
//! `tests/data/emotion-head-tiny`.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use ekphrasis_models::emotion::resnet::ResNetConfig;
use ekphrasis_models::emotion::resnet_bigru::{
    EmotionHead, EmotionModel, HeadConfig, probabilities,
};
use ekphrasis_models::image_prep::{ImageProcessorConfig, to_rgb};
use ekphrasis_models::random_weights::RandomWeights;
use ekphrasis_shared::domain::Emotion;
use serde_json::Value;

use crate::common;

use common::{data_dir, expected_json, expected_tensors, max_abs_diff};

fn fixture_dir() -> PathBuf {
    data_dir("emotion-head-tiny")
}

fn assert_close(name: &str, got: &Tensor, want: &Tensor, tolerance: f32) {
    let diff = max_abs_diff(got, want);
    assert!(
        diff <= tolerance,
        "{name}: largest difference {diff} > {tolerance}"
    );
}

fn head_config() -> HeadConfig {
    serde_json::from_value(expected_json(&fixture_dir())["head"].clone()).unwrap()
}

fn head_weights() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture_dir().join("head.safetensors"), &Device::Cpu).unwrap()
}

#[test]
fn head_matches_pytorch_stage_by_stage() {
    let want = expected_tensors(&fixture_dir());
    let vb = VarBuilder::from_tensors(head_weights(), DType::F32, &Device::Cpu);
    let head = EmotionHead::new(&head_config(), vb.pp("head")).unwrap();
    let features = &want["head_features"];
    let trace = head.trace(features).unwrap();
    assert_close("sequence", &trace.sequence, &want["head_sequence"], 0.0);
    let layer0 = head.gru_layers(&trace.sequence, 1).unwrap();
    assert_close(
        "gru layer 0",
        &layer0,
        &want["head_gru_layer0_output"],
        1e-5,
    );
    assert_close("gru", &trace.gru, &want["head_gru_output"], 1e-5);
    assert_close(
        "attention",
        &trace.attention,
        &want["head_attention_output"],
        1e-5,
    );
    assert_close("pooled", &trace.pooled, &want["head_pooled"], 1e-5);
    assert_close("logits", &trace.logits, &want["head_logits"], 1e-5);
    let logits = head.forward(features).unwrap();
    assert_close("forward", &logits, &want["head_logits"], 1e-5);
    let probs = probabilities(&logits).unwrap();
    assert_close("probabilities", &probs, &want["head_probabilities"], 1e-6);
}

#[test]
fn head_gradients_match_pytorch_autograd() {
    let want = expected_tensors(&fixture_dir());
    let vars: HashMap<String, Var> = head_weights()
        .into_iter()
        .map(|(name, tensor)| (name, Var::from_tensor(&tensor).unwrap()))
        .collect();
    let tensors: HashMap<String, Tensor> = vars
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
        .collect();
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    let head = EmotionHead::new(&head_config(), vb.pp("head")).unwrap();
    let targets: Vec<u32> =
        serde_json::from_value(expected_json(&fixture_dir())["targets"].clone()).unwrap();
    let targets = Tensor::new(targets, &Device::Cpu).unwrap();
    let logits = head.forward(&want["head_features"]).unwrap();
    let loss = candle_nn::loss::cross_entropy(&logits, &targets).unwrap();
    assert_close("loss", &loss.reshape(1).unwrap(), &want["head_loss"], 1e-6);
    let grads = loss.backward().unwrap();
    assert_eq!(vars.len(), 22, "every head parameter");
    for (name, var) in &vars {
        let grad = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        assert_close(name, grad, &want[&format!("grad.{name}")], 1e-5);
    }
}

#[test]
fn full_size_head_builds_from_random_weights() {
    let config = HeadConfig::default();
    assert_eq!(
        (config.feature_size, config.gru_hidden, config.gru_layers),
        (2048, 128, 2)
    );
    let vb = RandomWeights::new(3).var_builder(DType::F32, &Device::Cpu);
    let head = EmotionHead::new(&config, vb.pp("head")).unwrap();
    let features = Tensor::rand(0f32, 1.0, (2, 2048, 7, 7), &Device::Cpu).unwrap();
    let probs = probabilities(&head.forward(&features).unwrap()).unwrap();
    assert_eq!(probs.dims(), [2, 5]);
    for row in probs.to_vec2::<f32>().unwrap() {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
    }
    let wrong = Tensor::zeros((1, 1024, 7, 7), DType::F32, &Device::Cpu).unwrap();
    let err = head.forward(&wrong).unwrap_err();
    assert!(err.to_string().contains("feature_size"), "{err}");
}

#[test]
fn head_weights_with_a_wrong_shape_are_refused() {
    let mut weights = head_weights();
    weights.insert(
        "head.gru.weight_hh_l1".into(),
        Tensor::zeros((24, 9), DType::F32, &Device::Cpu).unwrap(),
    );
    let vb = VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
    let err = EmotionHead::new(&head_config(), vb.pp("head")).unwrap_err();
    assert!(err.to_string().contains("weight_hh_l1"), "{err}");
}

fn model_dir() -> PathBuf {
    fixture_dir().join("model")
}

#[test]
fn model_from_pixel_values_matches_transformers_and_pytorch() {
    let want = expected_tensors(&fixture_dir());
    let model = EmotionModel::load(model_dir(), &Device::Cpu).unwrap();
    let pixels = &want["model_pixel_values"];
    let features = model.features(pixels).unwrap();
    assert_close(
        "backbone features",
        &features,
        &want["model_features"],
        1e-4,
    );
    let logits = model.head_logits(&features).unwrap();
    assert_close("logits", &logits, &want["model_logits"], 1e-5);
    let probs = model.probabilities_from_pixels(pixels).unwrap();
    assert_close("probabilities", &probs, &want["model_probabilities"], 1e-5);
}

#[test]
fn model_from_the_image_file_matches_transformers() {
    let want = expected_tensors(&fixture_dir());
    let image = image::open(fixture_dir().join("painting.png")).unwrap();
    let model = EmotionModel::load(model_dir(), &Device::Cpu).unwrap();
    let got = model.classify(&to_rgb(&image)).unwrap();
    let got: Vec<f32> = got.iter().map(|(_, p)| p).collect();
    let got = Tensor::new(got, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    // Looser: the pixels go through this crate's resampler instead of transformers'.
    assert_close("probabilities", &got, &want["model_probabilities"], 1e-4);
    let label = expected_json(&fixture_dir())["model_label"]
        .as_str()
        .unwrap()
        .to_string();
    let best = Emotion::ALL[got.argmax(1).unwrap().to_vec1::<u32>().unwrap()[0] as usize];
    assert_eq!(best.as_str(), label);
}

/// A copy of the tiny model directory with `config.json` changed by `edit`.
fn edited_model(edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "model.safetensors",
        "preprocessor_config.json",
        "config.json",
    ] {
        std::fs::copy(model_dir().join(name), dir.path().join(name)).unwrap();
    }
    let path = dir.path().join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&path, config.to_string()).unwrap();
    dir
}

/// The load error with its causes, as the command line prints it.
fn load_error(dir: &std::path::Path) -> String {
    let err = EmotionModel::load(dir, &Device::Cpu).unwrap_err();
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(inner) = cause {
        text = format!("{text}: {inner}");
        cause = inner.source();
    }
    text
}

#[test]
fn foreign_and_broken_model_directories_are_refused_by_name() {
    // A MusicGen checkpoint and a plain ResNet checkpoint are not emotion models.
    let err = load_error(&data_dir("musicgen-tiny"));
    assert!(
        err.contains("config.json") && err.contains("model_type"),
        "{err}"
    );
    assert!(err.contains("musicgen"), "{err}");
    let err = load_error(&data_dir("resnet-tiny").join("bottleneck"));
    assert!(
        err.contains("\"resnet\" is not an Ekphrasis emotion model"),
        "{err}"
    );
    let err = load_error(std::path::Path::new("/no/such/emotion-model"));
    assert!(err.contains("/no/such/emotion-model"), "{err}");

    let dir = edited_model(|c| {
        c["labels"] = serde_json::json!(["joy", "anger", "sadness", "fun", "calm"])
    });
    let err = load_error(dir.path());
    assert!(
        err.contains("labels") && err.contains("config.json"),
        "{err}"
    );
    let dir = edited_model(|c| c["head"]["feature_size"] = 2048.into());
    let err = load_error(dir.path());
    assert!(err.contains("head.feature_size"), "{err}");
    let dir = edited_model(|c| c["head"]["attention_heads"] = 3.into());
    assert!(load_error(dir.path()).contains("head.attention_heads"));
    let dir = edited_model(|c| c["architecture"] = "vit-linear".into());
    assert!(load_error(dir.path()).contains("architecture"));
    let dir = edited_model(|c| {
        c.as_object_mut().unwrap().remove("backbone");
    });
    let err = load_error(dir.path());
    assert!(
        err.contains("config.json") && err.contains("backbone"),
        "{err}"
    );
    let dir = edited_model(|c| c["unknown_field"] = 1.into());
    EmotionModel::load(dir.path(), &Device::Cpu).expect("unknown fields are ignored");

    // Weights: missing, foreign, or without the head.
    let dir = edited_model(|_| {});
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    assert!(load_error(dir.path()).contains("model.safetensors"));
    std::fs::write(dir.path().join("model.safetensors"), b"GIF89a").unwrap();
    assert!(load_error(dir.path()).contains("model.safetensors"));
    let backbone_only = data_dir("resnet-tiny").join("bottleneck/model.safetensors");
    std::fs::copy(backbone_only, dir.path().join("model.safetensors")).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("model.safetensors") && err.contains("head."),
        "{err}"
    );
    let dir = edited_model(|_| {});
    std::fs::remove_file(dir.path().join("preprocessor_config.json")).unwrap();
    assert!(load_error(dir.path()).contains("preprocessor_config.json"));
}

#[test]
fn full_size_model_builds_from_random_weights() {
    let processor = ImageProcessorConfig::from_json(
        include_str!("../presets/resnet-50-preprocessor.json"),
        "resnet-50-preprocessor.json",
    )
    .unwrap();
    let model = EmotionModel::random(
        ResNetConfig::resnet50(),
        HeadConfig::default(),
        processor,
        5,
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(model.config().head.feature_size, 2048);
    // A small input keeps the debug build quick: 64 × 64 pixels give a 2 × 2 feature map.
    let pixels = Tensor::rand(-1f32, 1.0, (1, 3, 64, 64), &Device::Cpu).unwrap();
    let features = model.features(&pixels).unwrap();
    assert_eq!(features.dims(), [1, 2048, 2, 2]);
    let probs = probabilities(&model.head_logits(&features).unwrap()).unwrap();
    let sum: f32 = probs.sum_all().unwrap().to_scalar().unwrap();
    assert!((sum - 1.0).abs() < 1e-5);
}

#[test]
fn grayscale_alpha_16_bit_and_cmyk_images_are_labelled() {
    let model = EmotionModel::load(model_dir(), &Device::Cpu).unwrap();
    let info = expected_json(&fixture_dir());
    let classify = |name: &str| -> Vec<f32> {
        let image = image::open(fixture_dir().join(name)).unwrap();
        let probs = model.classify(&to_rgb(&image)).unwrap();
        probs.iter().map(|(_, p)| p).collect()
    };
    // Against transformers' own RGB conversion (RGBA composited over white).
    for name in ["painting-gray.png", "painting-rgba.png"] {
        let want: Vec<f32> =
            serde_json::from_value(info["variant_probabilities"][name].clone()).unwrap();
        let got = classify(name);
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff <= 1e-4, "{name}: {got:?} vs {want:?}");
    }
    // 16-bit gray is scaled to 8 bits, so it reads as the 8-bit gray image does (PIL would clip
    // it instead); a CMYK JPEG decodes to RGB. Both must give a proper distribution.
    let gray = classify("painting-gray.png");
    let gray16 = classify("painting-gray16.png");
    let diff = gray
        .iter()
        .zip(&gray16)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff <= 1e-4, "{gray16:?} vs {gray:?}");
    let cmyk = classify("painting-cmyk.jpg");
    assert!((cmyk.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{cmyk:?}");
    assert!(cmyk.iter().all(|p| p.is_finite() && *p > 0.0));
}

#[test]
fn the_labeller_says_which_model_read_the_image() {
    use ekphrasis_models::emotion::clip_zero_shot::ClipZeroShot;
    use ekphrasis_models::emotion::{Labeller, LabellerKind};

    let painting = to_rgb(&image::open(fixture_dir().join("painting.png")).unwrap());
    let trained = Labeller::ResNetBiGru(Box::new(
        EmotionModel::load(model_dir(), &Device::Cpu).unwrap(),
    ));
    let reading = trained.label(&painting).unwrap();
    assert_eq!(reading.labeller, LabellerKind::ResNetBiGru);
    assert_eq!(reading.labeller_name(), "resnet-bigru");
    assert_eq!(
        reading.label.as_str(),
        expected_json(&fixture_dir())["model_label"]
            .as_str()
            .unwrap()
    );

    let clip_dir = data_dir("clip-tiny");
    let clip_info = expected_json(&clip_dir);
    let clip = Labeller::ClipZeroShot(Box::new(
        ClipZeroShot::load(&clip_dir, &Device::Cpu).unwrap(),
    ));
    let image = to_rgb(&image::open(clip_dir.join("clip-a-40x30.png")).unwrap());
    let reading = clip.label(&image).unwrap();
    assert_eq!(reading.labeller_name(), "clip-zero-shot");
    let want: Vec<f32> =
        serde_json::from_value(clip_info["images"]["clip-a-40x30"]["probs"].clone()).unwrap();
    for ((emotion, got), want) in reading.probabilities.iter().zip(&want) {
        assert!((got - want).abs() < 1e-4, "{emotion}: {got} vs {want}");
    }
    let best = want
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(reading.label, Emotion::ALL[best]);
}
