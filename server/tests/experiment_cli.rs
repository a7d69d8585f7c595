//! `ekphrasis experiment` end to end on the tiny models: a data set from `dataset build`, each
//! variant's music for its test split laid out beside the reference clips, Table II and Fig. 3
//! written, figures equal to `ekphrasis eval` on the same folders, a second run keeping every
//! finished file, and the optimized variant refused before any work without its MusicGen.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common;

use common::{BIN, error_line, fixture, json_line, text, write_tone};

/// Three paintings and two music files for each of two emotions, built into a data set whose
/// test split holds two paintings of each.
fn data_set(dir: &Path) -> PathBuf {
    let (paintings, music) = (dir.join("paintings"), dir.join("music"));
    for (e, emotion) in ["happy", "sad"].iter().enumerate() {
        std::fs::create_dir_all(paintings.join(emotion)).unwrap();
        for i in 0..3u8 {
            image::RgbImage::from_fn(16, 12, |x, y| {
                image::Rgb([(x * 9) as u8, (y * 13) as u8, e as u8 * 80 + i * 20])
            })
            .save(paintings.join(emotion).join(format!("p{i}.png")))
            .unwrap();
        }
        for i in 0..2 {
            write_tone(
                &music.join(emotion).join(format!("m{i}.wav")),
                220.0 * (e + i + 1) as f32,
                2.0,
            );
        }
    }
    let out = dir.join("set");
    let run = Command::new(BIN)
        .args(["dataset", "build", "--paintings", text(&paintings)])
        .args(["--music", text(&music), "--out", text(&out)])
        .args([
            "--clip-seconds",
            "1",
            "--split",
            "0.34,0,0.66",
            "--seed",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

fn tiny_models(dir: &Path) -> PathBuf {
    let models = dir.join("models");
    let run = Command::new(BIN)
        .args(["models", "tiny", "--out", text(&models)])
        .output()
        .unwrap();
    assert!(run.status.success());
    models
}

fn judges() -> Vec<String> {
    vec![
        "--vggish".into(),
        text(&fixture("vggish").join("vggish-narrow.pth")).into(),
        "--panns".into(),
        text(&fixture("panns").join("cnn14-tiny.pth")).into(),
        "--clap".into(),
        text(&fixture("clap-tiny")).into(),
    ]
}

/// The experiment, judged by the fixture models when `judged` (else by THD alone: the model cache
/// is an empty folder).
fn experiment(data: &Path, out: &Path, models: &Path, judged: bool, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args(["experiment", "--data", text(data), "--out", text(out)])
        .args(["--models", text(models), "--device", "cpu"])
        .args(["--seconds", "1", "--seed", "3"])
        .args(if judged { judges() } else { Vec::new() })
        .args(extra)
        .env("HF_HOME", models.join("no-cache"))
        .env("HF_HUB_OFFLINE", "1")
        .env("RUST_LOG", "error")
        .output()
        .expect("the binary runs")
}

fn wavs_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for emotion in std::fs::read_dir(dir).unwrap() {
        let emotion = emotion.unwrap().path();
        for file in std::fs::read_dir(&emotion).unwrap() {
            let file = file.unwrap().path();
            found.push(
                file.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
    found.sort();
    found
}

#[test]
fn the_papers_experiment_runs_end_to_end_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_set(dir.path());
    let models = tiny_models(dir.path());
    let out = dir.path().join("experiment");

    let run = experiment(
        &data,
        &out,
        &models,
        true,
        &["--variants", "emotive,lyrical"],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("on the CPU"), "a note about time: {stderr}");

    // Every test painting has its music in each variant, at the reference clip's path.
    let test: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(data.join("test.json")).unwrap()).unwrap();
    assert_eq!(test.len(), 4);
    let references = wavs_under(&out.join("reference"));
    assert_eq!(references.len(), 4, "{references:?}");
    for variant in ["emotive", "lyrical"] {
        assert_eq!(
            wavs_under(&out.join("generated").join(variant)),
            references,
            "{variant}"
        );
    }
    assert!(!out.join("generated/narrative").exists());

    // Table II: the paper's row, then ours, for each variant asked for.
    let md = std::fs::read_to_string(out.join("table2.md")).unwrap();
    for row in [
        "| MG-S Emotive (paper) | 7.02 | 0.075 | 0.054 | 1.79 | 1.044 |",
        "| MG-S Lyrical (paper) | 5.06 | 0.11 | 0.046 | 1.92 | 1.031 |",
        "| MG-S Emotive (Ekphrasis) |",
        "| MG-S Lyrical (Ekphrasis) |",
    ] {
        assert!(md.contains(row), "{row} in\n{md}");
    }
    assert!(String::from_utf8_lossy(&run.stdout).contains("MG-S Lyrical (Ekphrasis)"));
    let table: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("table2.json")).unwrap()).unwrap();
    let by_emotion = &table["clap_per_emotion"]["lyrical"];
    assert!(
        by_emotion["happy"].is_f64() && by_emotion["sad"].is_f64(),
        "{table}"
    );
    assert!(
        std::fs::metadata(out.join("clap_per_emotion.png"))
            .unwrap()
            .len()
            > 1000
    );
    let svg = std::fs::read_to_string(out.join("clap_per_emotion.svg")).unwrap();
    assert!(svg.contains("MG-S Emotive"), "{svg}");

    // The experiment's figures are `eval`'s on the same folders.
    let eval = Command::new(BIN)
        .args(["eval", "--reference", text(&out.join("reference"))])
        .args(["--generated", text(&out.join("generated/lyrical"))])
        .args(["--device", "cpu", "--json"])
        .args(judges())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let eval = json_line(&eval);
    let ours = &table["ours"]["lyrical"];
    for key in [
        "fad",
        "kl_vggish_softmax",
        "kl_softmax",
        "clap",
        "thd",
        "files",
        "pairs",
    ] {
        assert_eq!(ours[key], eval[key], "{key}: {ours} vs {eval}");
    }
    assert_eq!(eval["files"], 4);

    // A second run keeps every finished file (judged by THD alone, to be quick).
    let before = std::fs::metadata(out.join("generated/lyrical").join(&references[0]))
        .unwrap()
        .modified()
        .unwrap();
    let again = experiment(
        &data,
        &out,
        &models,
        false,
        &["--variants", "emotive,lyrical"],
    );
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(
        stderr.contains("lyrical: 0 clips composed now, 4 kept from before"),
        "{stderr}"
    );
    let after = std::fs::metadata(out.join("generated/lyrical").join(&references[0]))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
    let table: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("table2.json")).unwrap()).unwrap();
    assert_eq!(
        table["ours"]["lyrical"]["thd"], ours["thd"],
        "the same music"
    );
    assert!(table["ours"]["lyrical"].get("fad").is_none(), "{table}");
    assert!(
        !out.join("clap_per_emotion.png").exists(),
        "no stale figure"
    );
}

#[test]
fn the_optimized_variant_needs_its_musicgen_and_the_data_set_its_split() {
    let dir = tempfile::tempdir().unwrap();
    let models = tiny_models(dir.path());
    let out = dir.path().join("experiment");
    let line = error_line(&experiment(
        dir.path(),
        &out,
        &models,
        false,
        &["--variants", "optimized"],
    ));
    assert!(line.contains("--optimized-musicgen"), "{line}");
    assert!(!out.exists(), "refused before any work");

    let line = error_line(&experiment(dir.path(), &out, &models, false, &[]));
    assert!(line.contains("test.json: cannot read"), "{line}");
}
