//! `ekphrasis eval` as a person or a script runs it: the contract's JSON keys, files found at
//! any depth and paired by relative path, broken files named and counted, a metric whose model
//! is missing left out with a note, THD against a tone whose harmonic is known, and every metric
//! against the Python references on a whole folder pair (`eval_reference_*` tests, expected
//! values made by `models/fixtures/make_eval_cli_fixtures.py`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common;

use common::{BIN, error_line, fixture, json_line, text, write_wav};

/// `ekphrasis eval` with an empty model cache (nothing found unless given).
fn eval(reference: &Path, generated: &Path, extra: &[&str], hf_home: &Path) -> Output {
    Command::new(BIN)
        .arg("eval")
        .args([
            "--reference",
            text(reference),
            "--generated",
            text(generated),
        ])
        .args(["--device", "cpu"])
        .args(extra)
        .env("HF_HOME", hf_home)
        .env("HF_HUB_OFFLINE", "1")
        .env("RUST_LOG", "error")
        .output()
        .expect("the binary runs")
}

/// A tone at `freq` Hz plus its third harmonic at `third` of its amplitude, on exact FFT bins of
/// a one-second clip.
fn tone_with_harmonic(path: &Path, rate: u32, freq: f64, third: f64) {
    let samples: Vec<i16> = (0..rate)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            let x = (2.0 * std::f64::consts::PI * freq * t).sin()
                + third * (2.0 * std::f64::consts::PI * 3.0 * freq * t).sin();
            (x * 12_000.0).round() as i16
        })
        .collect();
    write_wav(path, rate, 1, &samples);
}

fn keys(json: &Value) -> BTreeSet<String> {
    json.as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn thd_of_a_tone_with_a_known_harmonic() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, generated) = (dir.path().join("ref"), dir.path().join("gen"));
    // THD 0.2 and 0.5, at two rates; the paired reference is only counted.
    tone_with_harmonic(&generated.join("sad/a.wav"), 32_000, 440.0, 0.2);
    tone_with_harmonic(&generated.join("happy/deep/b.wav"), 44_100, 441.0, 0.5);
    tone_with_harmonic(&reference.join("sad/a.wav"), 32_000, 440.0, 0.0);
    let out = eval(
        &reference,
        &generated,
        &["--metrics", "thd", "--json"],
        dir.path(),
    );
    let json = json_line(&out);
    assert_eq!(
        keys(&json),
        ["files", "pairs", "skipped", "thd"]
            .map(String::from)
            .into()
    );
    // 16-bit rounding moves the figure by about 1e-5.
    let thd = json["thd"].as_f64().unwrap();
    assert!((thd - 0.35).abs() < 1e-4, "{json}");
    assert_eq!(json["files"], 2);
    assert_eq!(json["pairs"], 1);
    assert_eq!(json["skipped"], 0);
}

#[test]
fn a_broken_file_is_named_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, generated) = (dir.path().join("ref"), dir.path().join("gen"));
    tone_with_harmonic(&generated.join("sad/a.wav"), 16_000, 400.0, 0.1);
    tone_with_harmonic(&reference.join("sad/a.wav"), 16_000, 400.0, 0.1);
    std::fs::write(generated.join("sad/broken.wav"), b"RIFF and nothing else").unwrap();
    std::fs::write(generated.join("sad/notes.txt"), b"not audio, not counted").unwrap();
    let out = eval(
        &reference,
        &generated,
        &["--metrics", "thd", "--json"],
        dir.path(),
    );
    let json = json_line(&out);
    assert_eq!(json["files"], 1, "{json}");
    assert_eq!(json["skipped"], 1, "{json}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.wav"), "{stderr}");
    assert!((json["thd"].as_f64().unwrap() - 0.1).abs() < 1e-4, "{json}");

    // Without --json, the same in words.
    let out = eval(&reference, &generated, &["--metrics", "thd"], dir.path());
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("THD"), "{stdout}");
    assert!(
        stdout.contains("1 generated, 1 pairs, 1 skipped"),
        "{stdout}"
    );
}

#[test]
fn a_metric_without_its_model_is_left_out_with_a_way_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, generated) = (dir.path().join("ref"), dir.path().join("gen"));
    tone_with_harmonic(&generated.join("sad/a.wav"), 16_000, 400.0, 0.1);
    tone_with_harmonic(&reference.join("sad/a.wav"), 16_000, 400.0, 0.1);
    // Every metric asked for; only THD needs no model, and the cache is empty.
    let out = eval(&reference, &generated, &["--json"], dir.path());
    let json = json_line(&out);
    assert_eq!(
        keys(&json),
        ["files", "pairs", "skipped", "thd"]
            .map(String::from)
            .into()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for role in ["vggish", "panns", "clap"] {
        assert!(
            stderr.contains(&format!("models fetch --only {role}")),
            "{stderr}"
        );
    }
}

#[test]
fn bad_folders_and_flags_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let some = dir.path().join("some");
    tone_with_harmonic(&some.join("sad/a.wav"), 16_000, 400.0, 0.1);

    let line = error_line(&eval(&dir.path().join("none"), &some, &[], dir.path()));
    assert!(line.contains("none: no such folder"), "{line}");
    let line = error_line(&eval(&some, &empty, &[], dir.path()));
    assert!(line.contains("no audio files"), "{line}");
    let out = eval(&some, &some, &["--metrics", "loudness"], dir.path());
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown metric");
    let line = error_line(&eval(
        &some,
        &some,
        &["--vggish", text(&dir.path().join("missing.pth"))],
        dir.path(),
    ));
    assert!(line.contains("missing.pth"), "{line}");
}

#[test]
fn a_clap_text_is_needed_for_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, generated) = (dir.path().join("ref"), dir.path().join("gen"));
    tone_with_harmonic(&generated.join("loose.wav"), 48_000, 480.0, 0.1);
    tone_with_harmonic(&reference.join("loose.wav"), 48_000, 480.0, 0.1);
    let clap = fixture("clap-tiny");
    let line = error_line(&eval(
        &reference,
        &generated,
        &["--metrics", "clap", "--clap", text(&clap)],
        dir.path(),
    ));
    assert!(line.contains("loose.wav: no CLAP text"), "{line}");
    // A prompt without {emotion} fits every file.
    let out = eval(
        &reference,
        &generated,
        &[
            "--metrics",
            "clap",
            "--clap",
            text(&clap),
            "--prompt",
            "calm piano",
            "--json",
        ],
        dir.path(),
    );
    let json = json_line(&out);
    let clap = json["clap"].as_f64().expect("a CLAP score");
    assert!((-1.0..=1.0).contains(&clap), "{json}");
}

// ------------------------------------------------------------------------------------------------
// Every metric against the Python references on one folder pair: `models/tests/data/eval-cli`,
// made by `models/fixtures/make_eval_cli_fixtures.py` (README-eval.md, "The eval command end to
// end"). Eleven readable generated files (48 kHz mono) and a broken one, seven reference files
// (16, 32 and 44.1 kHz, one stereo), six pairs; the expected objects come from torchvggish +
// calc_fad.py / calc_kl.py, audioldm_eval + panns-inference, transformers' ClapModel and numpy, on
// the committed tiny checkpoints.

/// Each metric's tolerance, relative to the expected value: about ten times the difference
/// measured (debug build, x86-64 CPU). The metric code is exact on equal inputs (the references'
/// functions on Ekphrasis's own embeddings and logits give its metrics to ≤ 1.6e-14, 1.2e-11 for
/// the histogram KL, 3.2e-7 for FAD's matrix square root of singular covariances); what is left
/// is the models' float32 arithmetic, amplified differently by each metric: per file, embeddings
/// and logits differ from torch's by 2e-7 … 3.5e-6 relative.
const REFERENCE_TOLERANCES: [(&str, f64); 9] = [
    // Singular covariances (8 and 12 examples of 128 values): measured 7.8e-7. On the same rows,
    // scipy's sqrtm, an eigendecomposition and ours spread by 7e-7.
    ("fad", 1e-5),
    // No VGGish value lies within 4.2e-4 bin widths of a histogram edge (the fixture asserts
    // 3e-4); ours sit within 2.4e-5 bin widths of torch's, so no count changes. Measured 3.3e-7
    // (a KL of −5.2e-5) and 5.7e-6.
    ("kl_vggish_softmax", 5e-6),
    ("kl_vggish_sigmoid", 5e-5),
    // Six pairs of logits resampled from 16, 32, 44.1 and 48 kHz: 5.0e-7 and 5.5e-7.
    ("kl_softmax", 5e-6),
    ("kl_sigmoid", 5e-6),
    // Ten splits, one of two rows: mean 2.4e-9, std (0.012) 6.0e-7.
    ("isc_mean", 5e-8),
    ("isc_std", 1e-5),
    // 48 kHz files, so no resampler on either side: 3.2e-7.
    ("clap", 5e-6),
    // The same 16-bit samples and an f64 FFT on both sides: 1.9e-16.
    ("thd", 1e-12),
];

/// The model flags for the committed tiny checkpoints.
fn tiny_models() -> Vec<String> {
    vec![
        "--vggish".into(),
        text(&fixture("vggish/vggish-narrow.pth")).into(),
        "--panns".into(),
        text(&fixture("panns/cnn14-tiny.pth")).into(),
        "--clap".into(),
        text(&fixture("clap-tiny")).into(),
    ]
}

/// Runs `eval` on the reference folder pair with the tiny models and `extra` flags.
fn eval_reference_folders(extra: &[&str]) -> (Value, String) {
    let data = fixture("eval-cli");
    let hf_home = tempfile::tempdir().unwrap();
    let models = tiny_models();
    let mut flags: Vec<&str> = models.iter().map(String::as_str).collect();
    flags.extend_from_slice(extra);
    flags.push("--json");
    let out = eval(
        &data.join("reference"),
        &data.join("generated"),
        &flags,
        hf_home.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (json_line(&out), stderr)
}

/// `got` has exactly `expected`'s keys, equal counts, and each metric within its tolerance.
fn assert_as_the_references(got: &Value, expected: &Value) {
    assert_eq!(keys(got), keys(expected), "{got}");
    for count in ["files", "pairs", "skipped"] {
        assert_eq!(got[count], expected[count], "{count}: {got}");
    }
    for (key, tolerance) in REFERENCE_TOLERANCES {
        let Some(want) = expected.get(key) else {
            continue;
        };
        let (got, want) = (got[key].as_f64().unwrap(), want.as_f64().unwrap());
        let relative = (got - want).abs() / want.abs();
        eprintln!("{key}: {got} against {want}, {relative:.2e} relative");
        assert!(
            relative <= tolerance,
            "{key}: {got} against the reference's {want}: {relative:.2e} relative > {tolerance:.0e}"
        );
    }
}

#[test]
fn eval_reference_every_metric() {
    let expected = common::expected_json(&fixture("eval-cli"));
    assert_eq!(
        keys(&expected),
        [
            "fad",
            "kl_vggish_softmax",
            "kl_vggish_sigmoid",
            "kl_softmax",
            "kl_sigmoid",
            "isc_mean",
            "isc_std",
            "clap",
            "thd",
            "files",
            "pairs",
            "skipped",
        ]
        .map(String::from)
        .into()
    );
    let (json, stderr) = eval_reference_folders(&[]);
    assert_as_the_references(&json, &expected);
    assert!(
        stderr.contains("skipped") && stderr.contains("broken.wav"),
        "{stderr}"
    );
}

#[test]
fn eval_reference_only_the_metrics_asked_for() {
    let expected = common::expected_json(&fixture("eval-cli"));
    let (json, _) = eval_reference_folders(&["--metrics", "fad,thd"]);
    assert_eq!(
        keys(&json),
        ["fad", "thd", "files", "pairs", "skipped"]
            .map(String::from)
            .into()
    );
    let subset: serde_json::Map<String, Value> = expected
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| keys(&json).contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_as_the_references(&json, &Value::Object(subset));
}

#[test]
fn eval_reference_texts_change_only_the_clap_score() {
    let data = fixture("eval-cli");
    let plain = common::expected_json(&data);
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("expected-texts.json")).unwrap())
            .unwrap();
    // The reference: only happy/a.wav's text differs, so only `clap` moves, by well over its
    // tolerance.
    for key in keys(&plain) {
        assert_eq!(plain[&key] == expected[&key], key != "clap", "{key}");
    }
    let (plain_clap, clap) = (
        plain["clap"].as_f64().unwrap(),
        expected["clap"].as_f64().unwrap(),
    );
    assert!((plain_clap - clap).abs() > 100.0 * 5e-6 * clap.abs());
    let (json, _) = eval_reference_folders(&["--texts", text(&data.join("texts.json"))]);
    assert_as_the_references(&json, &expected);
}
