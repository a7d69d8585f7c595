//! The tiny model sets written by `ekphrasis_models::tiny` load through the real loaders and run.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device};
use ekphrasis_models::blip::{Blip, CaptionOptions};
use ekphrasis_models::emotion::clip_zero_shot::ClipZeroShot;
use ekphrasis_models::emotion::resnet_bigru::EmotionModel;
use ekphrasis_models::falcon_rw::{self, FalconRw, prompt};
use ekphrasis_models::musicgen::{GenerateOptions, MusicGen, Sampling};
use ekphrasis_models::tiny;
use ekphrasis_shared::domain::{Emotion, EmotionProbabilities};
use image::{DynamicImage, RgbImage};

/// A painting-sized image with something in it (a gradient and a bright square).
fn picture() -> RgbImage {
    RgbImage::from_fn(80, 60, |x, y| {
        let inside = (20..40).contains(&x) && (10..30).contains(&y);
        if inside {
            image::Rgb([250, 240, 30])
        } else {
            image::Rgb([(x * 3) as u8, (y * 4) as u8, 120])
        }
    })
}

fn assert_distribution(p: &EmotionProbabilities) {
    let values: Vec<f32> = Emotion::ALL.iter().map(|&e| p.get(e)).collect();
    assert!(
        values
            .iter()
            .all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
        "{values:?}"
    );
    let sum: f32 = values.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5, "sum {sum}: {values:?}");
}

#[test]
fn tiny_emotion_model_loads_as_a_trained_model_directory_and_labels_an_image() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_emotion(dir.path(), 7).unwrap();
    let model = EmotionModel::load(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(model.config().labels.len(), 5);
    assert_distribution(&model.classify(&picture()).unwrap());
    let other = EmotionModel::load(dir.path(), &Device::Cpu).unwrap();
    let dark = RgbImage::from_pixel(64, 64, image::Rgb([5, 5, 5]));
    assert_ne!(
        model.classify(&picture()).unwrap(),
        other.classify(&dark).unwrap(),
        "the image matters"
    );
}

#[test]
fn tiny_clip_loads_embeds_the_prompts_and_labels_an_image() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_clip(dir.path(), 7).unwrap();
    let clip = ClipZeroShot::load(dir.path(), &Device::Cpu).unwrap();
    let ids = clip.tokenize("a painting that feels sad").unwrap();
    assert_eq!(ids.len(), 7, "five words between the start and end tokens");
    assert_eq!(
        *ids.last().unwrap() as usize,
        clip.config().text_config.vocab_size - 1
    );
    assert_eq!(clip.prompt_embeds().dims(), [5, 16]);
    assert_distribution(&clip.classify(&picture()).unwrap());
}

#[test]
fn tiny_blip_captions_an_image_after_the_emotion_prompt() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_blip(dir.path(), 7).unwrap();
    let mut blip = Blip::load(dir.path(), &Device::Cpu, DType::F32).unwrap();
    let vocab = blip.config().text_config.vocab_size as u32;
    let prompt_ids = blip.prompt_ids(Some("a sad painting of")).unwrap();
    assert_eq!(prompt_ids.len(), 5, "[DEC] and four words: {prompt_ids:?}");
    assert_eq!(prompt_ids[0], blip.config().bos_token_id());
    assert_eq!(
        prompt_ids[0],
        vocab - 2,
        "[DEC] follows the tokenizer's ids"
    );
    let options = CaptionOptions {
        max_new_tokens: Some(8),
        ..CaptionOptions::default()
    };
    let caption = blip
        .caption(
            &DynamicImage::ImageRgb8(picture()),
            Some("a sad painting of"),
            &options,
            &AtomicBool::new(false),
        )
        .unwrap();
    assert!(!caption.token_ids.is_empty() && caption.token_ids.len() <= 8);
    assert!(caption.token_ids.iter().all(|&id| id < vocab));
    assert!(
        caption.text.starts_with("a sad painting of"),
        "{:?}",
        caption.text
    );
}

#[test]
fn tiny_falcon_tokenises_the_paper_prompt_and_generates() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_falcon(dir.path(), 7).unwrap();
    let mut falcon = FalconRw::load(dir.path(), &Device::Cpu, DType::F32).unwrap();
    let vocab = falcon.config().vocab_size;
    assert_eq!(vocab % 64, 0, "padded as falcon-rw-1b's");
    let end_of_text = falcon.end_of_text_id().unwrap();
    assert!((end_of_text as usize) < vocab);
    assert_eq!(falcon.eos_token_ids(), [2]);

    let text = prompt::paper_prompt("a sad painting of the sea").unwrap();
    let ids = falcon.tokenize(&text).unwrap();
    assert_eq!(falcon.decode(&ids).unwrap(), text);
    let words = text.split_whitespace().count();
    assert!(
        ids.len() < 2 * words,
        "{} tokens for {words} words: the prompt's words are whole",
        ids.len()
    );
    let options = falcon_rw::GenerateOptions {
        max_new_tokens: 6,
        sampling: falcon_rw::Sampling::Greedy,
        eos_token_ids: Some(vec![]),
        ..falcon_rw::GenerateOptions::default()
    };
    let new = falcon
        .generate(&ids, &options, &AtomicBool::new(false), |_| false)
        .unwrap();
    assert_eq!(new.len(), 6);
    assert!(new.iter().all(|&id| (id as usize) < vocab));
    let described = falcon
        .describe(
            "a sad painting of the sea",
            Emotion::Sad,
            &options,
            &AtomicBool::new(false),
        )
        .unwrap();
    assert!(!described.text.trim().is_empty());
}

#[test]
fn tiny_musicgen_loads_through_the_checkpoint_loader_and_makes_audio() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_musicgen(dir.path(), 7).unwrap();
    let mut musicgen = MusicGen::load(dir.path(), &Device::Cpu, DType::F32).unwrap();
    let ids = musicgen.tokenize("A sad painting of the sea").unwrap();
    assert_eq!(ids.len(), 7, "six words and </s>: {ids:?}");
    let options = GenerateOptions {
        frames: 20,
        sampling: Sampling::Greedy,
        ..GenerateOptions::default()
    };
    let codes = musicgen
        .generate(
            "A sad painting of the sea",
            &options,
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap();
    assert_eq!(codes.len(), 4);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 20 && c.iter().all(|&code| code < 64))
    );
    let audio = musicgen.decode(&codes).unwrap();
    assert_eq!(audio.len(), 20 * 640);
    assert!(audio.iter().all(|s| s.is_finite()));
    assert!(audio.iter().any(|&s| s != 0.0));
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for model in std::fs::read_dir(dir).unwrap() {
        let model = model.unwrap().path();
        for file in std::fs::read_dir(&model).unwrap() {
            let path = file.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn the_whole_set_is_small_and_the_same_seed_writes_the_same_files() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let written = tiny::write_all(a.path(), 7).unwrap();
    let names: Vec<&str> = written.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["emotion", "clip", "blip", "falcon", "musicgen"]);
    tiny::write_all(b.path(), 7).unwrap();
    tiny::write_all(c.path(), 8).unwrap();
    let (first, again, other) = (files(a.path()), files(b.path()), files(c.path()));
    let listed: Vec<&str> = first.iter().map(|(name, _)| name.as_str()).collect();
    let [config, weights, processor, tokenizer, generation] = [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "tokenizer.json",
        "generation_config.json",
    ];
    let mut expected: Vec<String> = [
        ("blip", &[config, weights, processor, tokenizer][..]),
        ("clip", &[config, weights, processor, tokenizer]),
        ("emotion", &[config, weights, processor]),
        ("falcon", &[config, generation, weights, tokenizer]),
        ("musicgen", &[config, generation, weights, tokenizer]),
    ]
    .iter()
    .flat_map(|(model, names)| names.iter().map(move |n| format!("{model}/{n}")))
    .collect();
    expected.sort();
    assert_eq!(listed, expected);
    for ((name, bytes), (name2, bytes2)) in first.iter().zip(&again) {
        assert_eq!(name, name2);
        assert!(
            bytes == bytes2,
            "{name} differs between two runs with seed 7"
        );
    }
    for ((name, bytes), (_, bytes3)) in first.iter().zip(&other) {
        if name.ends_with("model.safetensors") {
            assert!(bytes != bytes3, "{name}: another seed, other weights");
        }
    }
    let total: usize = first.iter().map(|(_, bytes)| bytes.len()).sum();
    assert!(total < 10 << 20, "the set is {total} bytes");
}
