//! CLIP zero-shot against the reference: a tiny random `CLIPModel` with the real
//! `openai/clip-vit-base-patch32` tokenizer, with embeddings and probabilities computed by
//! transformers (`models/fixtures/make_vision_fixtures.py`, `tests/data/clip-tiny/`).

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use ekphrasis_models::Error;
use ekphrasis_models::emotion::clip_zero_shot::{ClipConfig, ClipZeroShot, prompt};
use ekphrasis_models::image_prep::{pixel_values, to_rgb};
use ekphrasis_shared::domain::Emotion;
use serde_json::Value;

use crate::common;

use common::{Fixture, copy_fixture, data_dir, expected_json, max_abs_diff};

const TOLERANCE: f32 = 1e-4;

fn dir() -> PathBuf {
    data_dir("clip-tiny")
}

#[test]
fn the_real_tokenizer_gives_transformers_ids() {
    let json = expected_json(&dir());
    let clip = ClipZeroShot::load(&dir(), &Device::Cpu).unwrap();
    for case in json["tokenizer_cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(clip.tokenize(text).unwrap(), want, "{text:?}");
    }
    let want: Vec<Vec<u32>> = serde_json::from_value(json["prompt_ids"].clone()).unwrap();
    for (emotion, want) in Emotion::ALL.iter().zip(want) {
        assert_eq!(clip.tokenize(&prompt(*emotion)).unwrap(), want);
    }
    let emotions: Vec<String> = serde_json::from_value(json["emotions"].clone()).unwrap();
    let words: Vec<&str> = Emotion::ALL.iter().map(|e| e.as_str()).collect();
    assert_eq!(emotions, words);
}

#[test]
fn text_embeddings_match_transformers() {
    let Fixture { tensors, json } = Fixture::load(&dir());
    let clip = ClipZeroShot::load(&dir(), &Device::Cpu).unwrap();
    let ids: Vec<Vec<u32>> = serde_json::from_value(json["prompt_ids"].clone()).unwrap();
    let rows: Vec<Tensor> = ids
        .iter()
        .map(|ids| {
            let ids = Tensor::new(ids.as_slice(), &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            clip.text_embeds(&ids).unwrap()
        })
        .collect();
    let got = Tensor::cat(&rows, 0).unwrap();
    let diff = max_abs_diff(&got, &tensors["text_embeds"]);
    eprintln!("text embeds: {diff:e}");
    assert!(diff <= TOLERANCE, "{diff}");
    // the prompts are embedded in this order at load, normalised
    let want = &tensors["text_embeds"];
    let norm = want.sqr().unwrap().sum_keepdim(1).unwrap().sqrt().unwrap();
    let want = want.broadcast_div(&norm).unwrap();
    assert!(max_abs_diff(clip.prompt_embeds(), &want) <= TOLERANCE);
}

#[test]
fn images_embed_and_classify_as_transformers() {
    let Fixture { tensors, json } = Fixture::load(&dir());
    let clip = ClipZeroShot::load(&dir(), &Device::Cpu).unwrap();
    for name in json["images"].as_object().unwrap().keys() {
        let rgb = to_rgb(&image::open(dir().join(format!("{name}.png"))).unwrap());
        let pixels = pixel_values(&rgb, clip.processor(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let want_pixels = &tensors[&format!("{name}.pixel_values")];
        assert!(max_abs_diff(&pixels, want_pixels) <= 1e-5, "{name} pixels");

        let embeds = clip.image_embeds(&pixels).unwrap();
        let diff = max_abs_diff(&embeds, &tensors[&format!("{name}.image_embeds")]);
        eprintln!("{name} image embeds: {diff:e}");
        assert!(diff <= TOLERANCE, "{name}: {diff}");

        let logits = clip.logits(&pixels).unwrap();
        let diff = max_abs_diff(&logits, &tensors[&format!("{name}.logits_per_image")]);
        eprintln!("{name} logits: {diff:e}");
        assert!(diff <= TOLERANCE, "{name}: {diff}");

        let probs = clip.classify(&rgb).unwrap();
        let got: Vec<f32> = probs.iter().map(|(_, p)| p).collect();
        let got = Tensor::new(got.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let diff = max_abs_diff(&got, &tensors[&format!("{name}.probs")]);
        eprintln!("{name} probabilities: {diff:e}");
        assert!(diff <= TOLERANCE, "{name}: {diff}");
    }
}

#[test]
fn random_weights_build_from_a_config() {
    // the published config with fewer, narrower layers (the full size takes a minute unoptimised)
    let mut cfg = ClipConfig::vit_base_patch32();
    cfg.text_config.num_hidden_layers = 1;
    cfg.text_config.hidden_size = 64;
    cfg.text_config.intermediate_size = 128;
    cfg.vision_config.num_hidden_layers = 1;
    cfg.projection_dim = 32;
    let clip = ClipZeroShot::random(&cfg, 3, &Device::Cpu).unwrap();
    assert_eq!(clip.prompt_embeds().dims(), [5, 32]);
    let image = image::RgbImage::from_fn(300, 200, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let probs = clip.classify(&image).unwrap();
    let total: f32 = probs.iter().map(|(_, p)| p).sum();
    assert!((total - 1.0).abs() < 1e-4, "{total}");
    assert!(clip.tokenize("a painting").is_err());
}

#[test]
fn missing_files_and_foreign_checkpoints_are_named() {
    for (file, fragment) in [
        ("config.json", "config.json"),
        ("tokenizer.json", "tokenizer.json"),
        ("preprocessor_config.json", "preprocessor_config.json"),
        ("model.safetensors", "model.safetensors"),
    ] {
        let tmp = copy_fixture(&dir());
        std::fs::remove_file(tmp.path().join(file)).unwrap();
        let err = ClipZeroShot::load(tmp.path(), &Device::Cpu).unwrap_err();
        assert!(err.to_string().contains(fragment), "{file}: {err}");
    }
    // a MusicGen checkpoint given as CLIP
    let musicgen = data_dir("musicgen-tiny");
    let err = ClipZeroShot::load(&musicgen, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
    // a ResNet's weights under a CLIP config
    let tmp = copy_fixture(&dir());
    std::fs::copy(
        data_dir("resnet-tiny").join("basic/model.safetensors"),
        tmp.path().join("model.safetensors"),
    )
    .unwrap();
    let err = ClipZeroShot::load(tmp.path(), &Device::Cpu).unwrap_err();
    assert!(matches!(err, Error::Weights { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn unsupported_configs_name_the_field() {
    for (pointer, value, field) in [
        (
            "/vision_config/hidden_act",
            "gelu",
            "vision_config.hidden_act",
        ),
        ("/model_type", "blip", "model_type"),
    ] {
        let tmp = copy_fixture(&dir());
        let path = tmp.path().join("config.json");
        let mut cfg: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        *cfg.pointer_mut(pointer).unwrap() = Value::from(value);
        std::fs::write(&path, cfg.to_string()).unwrap();
        match ClipZeroShot::load(tmp.path(), &Device::Cpu).unwrap_err() {
            Error::Unsupported { field: f, .. } => assert_eq!(f, field),
            other => panic!("{pointer}: {other}"),
        }
    }
    // a processor whose crop does not fit the vision model
    let tmp = copy_fixture(&dir());
    let path = tmp.path().join("preprocessor_config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["crop_size"] = serde_json::json!({"height": 224, "width": 224});
    std::fs::write(&path, cfg.to_string()).unwrap();
    match ClipZeroShot::load(tmp.path(), &Device::Cpu).unwrap_err() {
        Error::Unsupported { field, .. } => assert_eq!(field, "crop_size"),
        other => panic!("{other}"),
    }
}

#[test]
fn wrong_input_shapes_are_errors() {
    let clip = ClipZeroShot::load(&dir(), &Device::Cpu).unwrap();
    for shape in [vec![3, 32, 32], vec![1, 3, 224, 224], vec![1, 1, 32, 32]] {
        let pixels = Tensor::zeros(shape.as_slice(), DType::F32, &Device::Cpu).unwrap();
        assert!(
            matches!(clip.image_embeds(&pixels), Err(Error::Input(_))),
            "{shape:?}"
        );
    }
    let too_long = Tensor::zeros((1, 78), DType::U32, &Device::Cpu).unwrap();
    assert!(matches!(clip.text_embeds(&too_long), Err(Error::Input(_))));
    let outside = Tensor::new(&[[49406u32, 60000, 49407]], &Device::Cpu).unwrap();
    assert!(matches!(clip.text_embeds(&outside), Err(Error::Input(_))));
    let long_text = "happy ".repeat(100);
    assert!(matches!(clip.tokenize(&long_text), Err(Error::Input(_))));
}
