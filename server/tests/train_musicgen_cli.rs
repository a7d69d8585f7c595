//! `ekphrasis train musicgen` as a user runs it, on the tiny MusicGen fixture and a tiny
//! synthetic data set: the validation loss goes down, the tuned checkpoint is complete and
//! composes through `ekphrasis compose`, a second run reads its codes and texts from the cache,
//! and bad manifests, files and flags are named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common;

use common::{BIN, error_line, json_line, text, write_tone};

fn tiny() -> PathBuf {
    common::fixture("musicgen-tiny")
}

/// A data set of four clips: two tones, each with its own text.
fn dataset(dir: &Path) -> (PathBuf, PathBuf) {
    let rows: Vec<Value> = [(220.0, "happy piano"), (660.0, "slow dark music")]
        .iter()
        .enumerate()
        .flat_map(|(i, (freq, words))| {
            (0..2).map(move |j| {
                let name = format!("clip{i}{j}.wav");
                (name, *freq, *words)
            })
        })
        .map(|(name, freq, words)| {
            write_tone(&dir.join(&name), freq, 0.2);
            serde_json::json!({ "audio": name, "text": words })
        })
        .collect();
    let train = dir.join("train.json");
    let val = dir.join("val.json");
    std::fs::write(&train, serde_json::to_string(&rows).unwrap()).unwrap();
    std::fs::write(&val, serde_json::to_string(&rows[..2]).unwrap()).unwrap();
    (train, val)
}

fn train(train: &Path, val: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args(["train", "musicgen", "--musicgen", text(&tiny())])
        .args([
            "--data",
            text(train),
            "--val",
            text(val),
            "--out",
            text(out),
        ])
        .args(["--epochs", "3", "--batch-size", "2", "--lr", "1e-3"])
        .args([
            "--warmup-steps",
            "0",
            "--clip-seconds",
            "0.2",
            "--cfg-dropout",
            "0",
        ])
        .args(["--seed", "1", "--device", "cpu", "--json"])
        .args(extra)
        .output()
        .expect("the binary runs")
}

#[test]
fn training_lowers_the_validation_loss_and_the_tuned_model_composes() {
    let dir = tempfile::tempdir().unwrap();
    let (train_json, val_json) = dataset(dir.path());
    let out = dir.path().join("tuned");
    let run = train(&train_json, &val_json, &out, &[]);
    let report = json_line(&run);
    assert_eq!(report["steps"], 6, "{report}");
    assert_eq!(report["train_loss"].as_array().unwrap().len(), 6);
    assert_eq!(
        report["lr"][0], 1e-3,
        "no warm-up: the first step at the full rate"
    );
    let val: Vec<f64> = serde_json::from_value(report["val_loss"].clone()).unwrap();
    assert_eq!(val.len(), 3);
    assert!(val[2] < val[0], "validation loss {val:?}");
    assert_eq!(report["best_epoch"], 3);
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "generation_config.json",
    ] {
        assert!(out.join(file).is_file(), "{file} is missing");
    }
    let training: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("training.json")).unwrap()).unwrap();
    assert_eq!(training["flags"]["batch_size"], 2);
    assert_eq!(training["result"], report);

    let codes = dir.path().join("codes.json");
    let composed = Command::new(BIN)
        .args(["compose", "--musicgen", text(&out), "--text", "happy piano"])
        .args(["--frames", "8", "--greedy", "--device", "cpu"])
        .args(["--codes-out", text(&codes)])
        .output()
        .unwrap();
    assert!(
        composed.status.success(),
        "{}",
        String::from_utf8_lossy(&composed.stderr)
    );
    let codes: Value = serde_json::from_str(&std::fs::read_to_string(&codes).unwrap()).unwrap();
    assert_eq!(codes["codes"].as_array().unwrap().len(), 4);

    // The same data again: every clip and text comes from the cache, the run is the same.
    let again = json_line(&train(
        &train_json,
        &val_json,
        &dir.path().join("again"),
        &[],
    ));
    assert_eq!(again["train_loss"], report["train_loss"]);
    let cached = std::fs::read_dir(out.join("cache/codes")).unwrap().count();
    assert_eq!(cached, 2, "two distinct clips");
}

#[test]
fn max_steps_stops_early_and_unreadable_clips_are_named_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (train_json, val_json) = dataset(dir.path());
    std::fs::write(dir.path().join("broken.wav"), b"RIFF not really").unwrap();
    let mut rows: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&train_json).unwrap()).unwrap();
    rows.push(serde_json::json!({"audio": "broken.wav", "text": "noise"}));
    std::fs::write(&train_json, serde_json::to_string(&rows).unwrap()).unwrap();
    let run = train(
        &train_json,
        &val_json,
        &dir.path().join("out"),
        &["--max-steps", "2"],
    );
    let report = json_line(&run);
    assert_eq!(report["steps"], 2);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("broken.wav"), "{stderr}");
    assert!(stderr.contains("1 of 5 skipped"), "{stderr}");
}

#[test]
fn bad_manifests_and_flags_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (train_json, val_json) = dataset(dir.path());
    let out = dir.path().join("out");
    let line = error_line(&train(&train_json, &val_json, &out, &["--max-steps", "0"]));
    assert!(line.contains("--max-steps"), "{line}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{"audio": "clip00.wav"}]"#).unwrap();
    let line = error_line(&train(&bad, &val_json, &out, &[]));
    assert!(line.contains("bad.json row 0"), "{line}");
    let nothing = dir.path().join("never-ran");
    let line = error_line(&train(
        &train_json,
        &val_json,
        &out,
        &["--resume", text(&nothing)],
    ));
    assert!(line.contains("never-ran"), "{line}");
    let missing = dir.path().join("missing.json");
    let line = error_line(&train(&missing, &val_json, &out, &[]));
    assert!(line.contains("missing.json"), "{line}");
    assert!(!out.join("model.safetensors").exists());
}
