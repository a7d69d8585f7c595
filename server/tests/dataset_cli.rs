//! `ekphrasis dataset build` and `dataset texts` as a user runs them: clips cut at 32 kHz, every
//! painting paired with a clip of its emotion, a seeded split by emotion, bad and unusable files
//! named; then each row's text written by the chain's stages (the tiny model set), resumably.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common;

use common::{BIN, error_line, text, write_tone};

const EMOTIONS: [&str; 5] = ["happy", "angry", "sad", "fun", "neutral"];

/// Paintings (four per emotion) and music (two files per emotion but neutral, which has none;
/// sad also has a broken file and one too short to cut).
fn sources(dir: &Path) -> (PathBuf, PathBuf) {
    let paintings = dir.join("paintings");
    let music = dir.join("music");
    for (e, emotion) in EMOTIONS.iter().enumerate() {
        std::fs::create_dir_all(paintings.join(emotion)).unwrap();
        for i in 0..4u8 {
            let image = image::RgbImage::from_fn(16, 12, |x, y| {
                image::Rgb([(x * 9) as u8, (y * 13) as u8, e as u8 * 40 + i])
            });
            image
                .save(paintings.join(emotion).join(format!("p{i}.png")))
                .unwrap();
        }
        if *emotion == "neutral" {
            continue;
        }
        std::fs::create_dir_all(music.join(emotion)).unwrap();
        for (i, seconds) in [2.5f32, 1.2].iter().enumerate() {
            let path = music.join(emotion).join(format!("m{i}.wav"));
            write_tone(&path, 200.0 + 100.0 * e as f32, *seconds);
        }
    }
    std::fs::write(music.join("sad/broken.wav"), b"RIFF but nothing more").unwrap();
    write_tone(&music.join("sad/short.wav"), 300.0, 0.3);
    std::fs::write(music.join("sad/notes.txt"), "not music").unwrap();
    (paintings, music)
}

fn build(paintings: &Path, music: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args([
            "dataset",
            "build",
            "--paintings",
            text(paintings),
            "--music",
            text(music),
        ])
        .args(["--out", text(out), "--clip-seconds", "1"])
        .args(extra)
        .output()
        .expect("the binary runs")
}

fn rows(path: &Path) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn music_is_cut_paired_by_emotion_and_split() {
    let dir = tempfile::tempdir().unwrap();
    let (paintings, music) = sources(dir.path());
    let out = dir.path().join("set");
    let run = build(
        &paintings,
        &music,
        &out,
        &["--seed", "4", "--split", "0.5,0.25,0.25"],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // 2.5 s: two whole clips and a half one; 1.2 s: one clip (0.2 s left is under half a clip).
    let happy_clips: BTreeSet<String> = std::fs::read_dir(out.join("clips/happy"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        happy_clips,
        ["m0-000.wav", "m0-001.wav", "m0-002.wav", "m1-000.wav"]
            .map(String::from)
            .into()
    );
    let clip = std::fs::read(out.join("clips/happy/m0-000.wav")).unwrap();
    assert_eq!(
        clip.len(),
        44 + 32_000 * 2,
        "one second at 32 kHz, 16-bit mono"
    );
    let half = std::fs::read(out.join("clips/happy/m0-002.wav")).unwrap();
    assert_eq!(half.len(), 44 + 16_000 * 2);

    let (train, val, test) = (
        rows(&out.join("train.json")),
        rows(&out.join("val.json")),
        rows(&out.join("test.json")),
    );
    // Four emotions with music, four paintings each: 2 + 1 + 1 per emotion.
    assert_eq!((train.len(), val.len(), test.len()), (8, 4, 4));
    let mut paintings_seen = BTreeSet::new();
    for row in train.iter().chain(&val).chain(&test) {
        let emotion = row["emotion"].as_str().unwrap();
        let audio = row["audio"].as_str().unwrap();
        assert!(audio.starts_with(&format!("clips/{emotion}/")), "{row}");
        assert!(out.join(audio).is_file(), "{audio}");
        let painting = row["painting"].as_str().unwrap();
        assert!(
            painting.contains(&format!("/paintings/{emotion}/")),
            "{row}"
        );
        assert!(
            paintings_seen.insert(painting.to_string()),
            "each painting once"
        );
    }
    for emotion in ["happy", "angry", "sad", "fun"] {
        assert_eq!(
            train.iter().filter(|r| r["emotion"] == emotion).count(),
            2,
            "{emotion}"
        );
    }
    let stderr = String::from_utf8_lossy(&run.stderr);
    for named in ["broken.wav", "short.wav", "notes.txt", "neutral/p0.png"] {
        assert!(stderr.contains(named), "{named} is not named: {stderr}");
    }

    // The same seed, the same data set; another seed, another pairing.
    let again = dir.path().join("again");
    assert!(
        build(
            &paintings,
            &music,
            &again,
            &["--seed", "4", "--split", "0.5,0.25,0.25"]
        )
        .status
        .success()
    );
    assert_eq!(rows(&again.join("train.json")).len(), train.len());
    let same: Vec<Value> = rows(&again.join("train.json"))
        .into_iter()
        .map(|mut r| {
            r["painting"] = Value::Null;
            r
        })
        .collect();
    let first: Vec<Value> = train
        .iter()
        .cloned()
        .map(|mut r| {
            r["painting"] = Value::Null;
            r
        })
        .collect();
    assert_eq!(same, first);
    let other = dir.path().join("other");
    assert!(
        build(
            &paintings,
            &music,
            &other,
            &["--seed", "5", "--split", "0.5,0.25,0.25"]
        )
        .status
        .success()
    );
    assert_ne!(rows(&other.join("train.json")), train);
}

#[test]
fn bad_sources_and_flags_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (paintings, music) = sources(dir.path());
    let out = dir.path().join("set");
    let line = error_line(&build(&paintings, &dir.path().join("nowhere"), &out, &[]));
    assert!(line.contains("nowhere"), "{line}");
    let line = error_line(&build(
        &paintings,
        &music,
        &out,
        &["--split", "0.5,0.6,0.1"],
    ));
    assert!(line.contains("add up to 1"), "{line}");
    std::fs::create_dir_all(paintings.join("melancholy")).unwrap();
    let line = error_line(&build(&paintings, &music, &out, &[]));
    assert!(line.contains("melancholy"), "{line}");
    assert!(!out.join("train.json").exists());
}

#[test]
fn texts_come_from_the_chain_and_a_second_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (paintings, music) = sources(dir.path());
    let out = dir.path().join("set");
    assert!(
        build(&paintings, &music, &out, &["--split", "0.5,0.25,0.25"])
            .status
            .success()
    );
    let models = dir.path().join("models");
    let made = Command::new(BIN)
        .args(["models", "tiny", "--out", text(&models)])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let texts = |variant: &str| {
        Command::new(BIN)
            .args(["dataset", "texts", text(&out), "--variant", variant])
            .args(["--models", text(&models), "--device", "cpu"])
            .env_remove("EKPHRASIS_EMOTION_MODEL")
            .output()
            .unwrap()
    };
    let run = texts("emotive");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for name in ["train.json", "val.json", "test.json"] {
        for row in rows(&out.join(name)) {
            let word = row["text"].as_str().unwrap();
            assert!(EMOTIONS.contains(&word), "{row}");
            assert_eq!(row["text_variant"], "emotive");
        }
    }
    let again = texts("emotive");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already"),
        "a second run resumes"
    );
    let narrative = texts("narrative");
    assert!(
        narrative.status.success(),
        "{}",
        String::from_utf8_lossy(&narrative.stderr)
    );
    let row = &rows(&out.join("train.json"))[0];
    assert_eq!(row["text_variant"], "narrative");
    assert!(!row["text"].as_str().unwrap().is_empty());

    // The manifests train MusicGen as they are.
    let tuned = dir.path().join("tuned");
    let trained = Command::new(BIN)
        .args([
            "train",
            "musicgen",
            "--musicgen",
            text(&models.join("musicgen")),
        ])
        .args([
            "--data",
            text(&out.join("train.json")),
            "--val",
            text(&out.join("val.json")),
        ])
        .args(["--out", text(&tuned), "--epochs", "1", "--batch-size", "4"])
        .args(["--clip-seconds", "1", "--device", "cpu", "--json"])
        .output()
        .unwrap();
    let report = common::json_line(&trained);
    assert_eq!(report["steps"], 2, "8 rows in batches of 4");
    assert!(tuned.join("model.safetensors").is_file());
}
