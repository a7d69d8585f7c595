//! `ekphrasis train emotion` as users run it: per-epoch lines, the held-out accuracy and the
//! confusion matrix, a model directory that `ekphrasis emotion` loads, a rerun served from the
//! feature cache, and one readable error line for a bad dataset or backbone. (How well training
//! learns is tested in the models crate.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};

use crate::common;

use common::{BIN, error_line, text};

const EMOTIONS: [&str; 5] = ["happy", "angry", "sad", "fun", "neutral"];

/// The tiny ResNet fixture with 64 × 64 preprocessing (quick in debug builds).
fn backbone(work: &Path) -> PathBuf {
    let fixture = common::fixture("resnet-tiny/bottleneck");
    let dir = work.join("backbone");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture.join(name), dir.join(name)).unwrap();
    }
    let text = std::fs::read_to_string(fixture.join("preprocessor_config.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["size"] = serde_json::json!({"shortest_edge": 64});
    std::fs::write(dir.join("preprocessor_config.json"), value.to_string()).unwrap();
    dir
}

/// Five small pictures per emotion, one colour per emotion with a little variation.
fn dataset(work: &Path) -> PathBuf {
    let root = work.join("data");
    let colours = [
        [230, 200, 40],
        [200, 30, 30],
        [30, 50, 160],
        [40, 190, 90],
        [128, 128, 128],
    ];
    for (emotion, colour) in EMOTIONS.iter().zip(colours) {
        let folder = root.join(emotion);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..5u8 {
            let image = RgbImage::from_fn(40 + u32::from(i), 36, |x, y| {
                let wobble = ((x * 7 + y * 3 + u32::from(i) * 11) % 21) as u8;
                Rgb(colour.map(|c: u8| c.saturating_add(wobble)))
            });
            image.save(folder.join(format!("{i}.png"))).unwrap();
        }
    }
    root
}

fn ekphrasis(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("EKPHRASIS_DEVICE", "cpu")
        .env("RUST_LOG", "error")
        .output()
        .expect("the binary runs")
}

fn train(data: &Path, out: &Path, backbone: &Path) -> Output {
    ekphrasis(&[
        "train",
        "emotion",
        "--data",
        text(data),
        "--out",
        text(out),
        "--backbone",
        text(backbone),
        "--epochs",
        "3",
        "--gru-hidden",
        "8",
        "--attention-heads",
        "2",
        "--batch-size",
        "5",
        "--seed",
        "2",
    ])
}

#[test]
fn trains_reports_and_writes_a_model_that_labels() {
    let work = tempfile::tempdir().unwrap();
    let (data, backbone) = (dataset(work.path()), backbone(work.path()));
    let out = work.path().join("model");
    let output = train(&data, &out, &backbone);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for needle in [
        "epoch   1: train loss",
        "held-out accuracy",
        "features: 25 computed",
        "trained on 20 images, judged on 5 held out",
        "confusion matrix",
        "true \\ pred",
        "neutral",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
    for name in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        assert!(out.join(name).is_file(), "{name}");
    }
    let image = data.join("sad/0.png");
    let reading = ekphrasis(&[
        "emotion",
        text(&image),
        "--emotion-model",
        text(&out),
        "--json",
    ]);
    assert!(
        reading.status.success(),
        "{}",
        String::from_utf8_lossy(&reading.stderr)
    );
    let reading: serde_json::Value = serde_json::from_slice(&reading.stdout).unwrap();
    assert_eq!(reading["labeller"], "resnet-bigru");

    let rerun = train(&data, &out, &backbone);
    let stdout = String::from_utf8_lossy(&rerun.stdout);
    assert!(
        stdout.contains("features: 0 computed") && stdout.contains("25 from the cache"),
        "{stdout}"
    );
}

#[test]
fn bad_datasets_and_backbones_get_one_clear_line() {
    let work = tempfile::tempdir().unwrap();
    let (data, backbone) = (dataset(work.path()), backbone(work.path()));
    let out = work.path().join("model");
    std::fs::write(data.join("angry/bad.png"), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let err = error_line(&train(&data, &out, &backbone));
    assert!(
        err.contains("angry/bad.png") && err.contains("could not be decoded"),
        "{err}"
    );
    std::fs::remove_file(data.join("angry/bad.png")).unwrap();

    std::fs::create_dir(data.join("surprise")).unwrap();
    assert!(error_line(&train(&data, &out, &backbone)).contains("surprise"));
    std::fs::remove_dir(data.join("surprise")).unwrap();

    std::fs::remove_file(data.join("fun/0.png")).unwrap();
    std::fs::remove_file(data.join("fun/1.png")).unwrap();
    let err = error_line(&train(&data, &out, &backbone));
    assert!(err.contains("fun") && err.contains("at least 4"), "{err}");

    let foreign = common::fixture("musicgen-tiny");
    let err = error_line(&train(&data, &out, &foreign));
    assert!(
        err.contains("musicgen-tiny") && err.contains("must be a ResNet"),
        "{err}"
    );
    let err = error_line(&train(&data, &out, Path::new("/no/such/backbone")));
    assert!(err.contains("/no/such/backbone"), "{err}");
}
