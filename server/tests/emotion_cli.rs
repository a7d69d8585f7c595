//! `ekphrasis emotion` as scripts run it: the JSON contract against the reference's
//! probabilities (the tiny emotion model made by `models/fixtures/make_emotion_head_fixtures.py`),
//! the human line, the choice of labeller, and one readable error line for hostile images and
//! missing or foreign models.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;

use common::{BIN, error_line, expected_json, json_line, text as path};

fn fixture() -> PathBuf {
    common::fixture("emotion-head-tiny")
}

/// Runs the binary with no model settings from the environment.
fn ekphrasis(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("EKPHRASIS_MODELS")
        .env_remove("EKPHRASIS_CONFIG")
        .env_remove("EKPHRASIS_EMOTION_MODEL")
        .env("EKPHRASIS_DEVICE", "cpu")
        .env("RUST_LOG", "error");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

/// The error line of a failed run, alone on stderr.
fn failure(output: &Output) -> String {
    let line = error_line(output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    line
}

#[test]
fn json_output_matches_the_reference_model() {
    let model = fixture().join("model");
    let image = fixture().join("painting.png");
    let output = ekphrasis(
        &[
            "emotion",
            path(&image),
            "--emotion-model",
            path(&model),
            "--json",
        ],
        &[],
    );
    let reading = json_line(&output);
    let keys: Vec<&String> = reading.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{reading}");
    assert_eq!(reading["labeller"], "resnet-bigru");
    let info = expected_json(&fixture());
    assert_eq!(reading["label"], info["model_label"]);
    let want: Vec<f64> = serde_json::from_value(info["model_probabilities"].clone()).unwrap();
    let probabilities = reading["probabilities"].as_object().unwrap();
    assert_eq!(probabilities.len(), 5);
    for (name, want) in ["happy", "angry", "sad", "fun", "neutral"].iter().zip(want) {
        let got = probabilities[*name].as_f64().unwrap();
        assert!((got - want).abs() < 1e-4, "{name}: {got} vs {want}");
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let order = ["\"label\"", "\"probabilities\"", "\"labeller\""].map(|k| text.find(k).unwrap());
    assert!(order[0] < order[1] && order[1] < order[2], "{text}");

    let human = ekphrasis(
        &["emotion", path(&image), "--emotion-model", path(&model)],
        &[],
    );
    let line = String::from_utf8_lossy(&human.stdout);
    assert!(
        line.starts_with(info["model_label"].as_str().unwrap()) && line.contains("resnet-bigru"),
        "{line}"
    );
}

#[test]
fn every_colour_mode_is_labelled() {
    let model = fixture().join("model");
    for name in [
        "painting-gray.png",
        "painting-gray16.png",
        "painting-rgba.png",
        "painting-cmyk.jpg",
    ] {
        let image = fixture().join(name);
        let reading = json_line(&ekphrasis(
            &[
                "emotion",
                path(&image),
                "--emotion-model",
                path(&model),
                "--json",
            ],
            &[],
        ));
        let sum: f64 = reading["probabilities"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-4, "{name}: {reading}");
    }
}

/// A PNG whose header claims `width` × `height` pixels, followed by a few bytes of pixel data.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    let idat = b"IDAT\x78\x9c\x63\x00\x00\x00\x01\x00\x01";
    png.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    png.extend_from_slice(idat);
    png.extend_from_slice(&crc32(idat).to_be_bytes());
    png
}

#[test]
fn hostile_images_get_one_clear_line() {
    let model = fixture().join("model");
    let dir = tempfile::tempdir().unwrap();
    let painting = std::fs::read(fixture().join("painting.png")).unwrap();
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "text.png",
            b"hello, world".to_vec(),
            "only JPEG, PNG and WebP",
        ),
        (
            "anim.gif",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
            "gif",
        ),
        (
            "half.png",
            painting[..painting.len() / 2].to_vec(),
            "could not be decoded",
        ),
        ("huge.png", png_header(100_000, 100_000), "100000×100000"),
        ("empty.jpg", Vec::new(), "only JPEG, PNG and WebP"),
    ];
    for (name, bytes, reason) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let output = ekphrasis(
            &[
                "emotion",
                path(&file),
                "--emotion-model",
                path(&model),
                "--json",
            ],
            &[],
        );
        let line = failure(&output);
        assert!(
            line.contains(name) && line.contains(reason),
            "{name}: {line}"
        );
        assert!(output.stdout.is_empty());
    }
    let image = fixture().join("painting.png");
    let small = ekphrasis(
        &[
            "emotion",
            path(&image),
            "--emotion-model",
            path(&model),
            "--max-pixels",
            "1000",
        ],
        &[],
    );
    assert!(failure(&small).contains("the most this server accepts is 1000 pixels"));
    let big = ekphrasis(
        &[
            "emotion",
            path(&image),
            "--emotion-model",
            path(&model),
            "--max-bytes",
            "100",
        ],
        &[],
    );
    assert!(failure(&big).contains("--max-bytes"));
    let missing = dir.path().join("no-such.png");
    let line = failure(&ekphrasis(
        &["emotion", path(&missing), "--emotion-model", path(&model)],
        &[],
    ));
    assert!(line.contains("no-such.png"), "{line}");
}

#[test]
fn missing_and_foreign_models_get_one_clear_line() {
    let image = fixture().join("painting.png");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/data");
    let cases = [
        (
            PathBuf::from("/no/such/emotion-model"),
            "/no/such/emotion-model",
        ),
        (data.join("musicgen-tiny"), "model_type"),
        (
            data.join("resnet-tiny/bottleneck"),
            "is not an Ekphrasis emotion model",
        ),
    ];
    for (dir, reason) in cases {
        let line = failure(&ekphrasis(
            &[
                "emotion",
                path(&image),
                "--emotion-model",
                path(&dir),
                "--json",
            ],
            &[],
        ));
        assert!(line.contains(reason), "{line}");
    }
    let both = ekphrasis(
        &[
            "emotion",
            path(&image),
            "--emotion-model",
            "a",
            "--clip",
            "b",
        ],
        &[],
    );
    assert_eq!(both.status.code(), Some(2), "clap refuses both flags");
}

#[test]
fn the_configured_model_is_used_and_clip_is_the_fallback() {
    let image = fixture().join("painting.png");
    let models = tempfile::tempdir().unwrap();
    let emotion = models.path().join("emotion");
    std::fs::create_dir(&emotion).unwrap();
    for name in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        std::fs::copy(fixture().join("model").join(name), emotion.join(name)).unwrap();
    }
    let by_folder = ekphrasis(
        &["emotion", path(&image), "--json"],
        &[("EKPHRASIS_MODELS", models.path())],
    );
    assert_eq!(json_line(&by_folder)["labeller"], "resnet-bigru");
    let by_env = ekphrasis(
        &["emotion", path(&image), "--json"],
        &[("EKPHRASIS_EMOTION_MODEL", &emotion)],
    );
    assert_eq!(json_line(&by_env)["labeller"], "resnet-bigru");

    // Nothing configured and no CLIP in an empty Hugging Face cache, offline: a clear line.
    let hf_home = tempfile::tempdir().unwrap();
    let output = ekphrasis(
        &["emotion", path(&image), "--json"],
        &[
            ("HF_HOME", hf_home.path()),
            ("HF_HUB_OFFLINE", Path::new("1")),
        ],
    );
    let line = failure(&output);
    assert!(line.contains("openai/clip-vit-base-patch32"), "{line}");
}

#[test]
fn clip_labels_with_its_name_and_the_reference_probabilities() {
    let clip = common::fixture("clip-tiny");
    let expected = expected_json(&clip);
    let image = clip.join("clip-a-40x30.png");
    let reading = json_line(&ekphrasis(
        &["emotion", path(&image), "--clip", path(&clip), "--json"],
        &[],
    ));
    assert_eq!(reading["labeller"], "clip-zero-shot");
    let want: Vec<f64> =
        serde_json::from_value(expected["images"]["clip-a-40x30"]["probs"].clone()).unwrap();
    for (name, want) in ["happy", "angry", "sad", "fun", "neutral"]
        .iter()
        .zip(&want)
    {
        let got = reading["probabilities"][*name].as_f64().unwrap();
        assert!((got - want).abs() < 1e-4, "{name}: {got} vs {want}");
    }
    let best = want
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(
        reading["label"],
        ["happy", "angry", "sad", "fun", "neutral"][best]
    );

    // A CLIP folder under the configured model folder is used when there is no emotion model.
    let models = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&clip, models.path().join("clip")).unwrap();
    let reading = json_line(&ekphrasis(
        &["emotion", path(&image), "--json"],
        &[("EKPHRASIS_MODELS", models.path())],
    ));
    assert_eq!(reading["labeller"], "clip-zero-shot");

    // A foreign directory given as CLIP is refused with the file named.
    let foreign = fixture().join("model");
    let line = failure(&ekphrasis(
        &["emotion", path(&image), "--clip", path(&foreign)],
        &[],
    ));
    assert!(
        line.contains("config.json") || line.contains("model.safetensors"),
        "{line}"
    );
}
