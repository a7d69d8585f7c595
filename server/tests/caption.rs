//! `ekphrasis caption` as scripts run it: on the tiny BLIP fixture (made by transformers,
//! `models/fixtures/make_blip_fixtures.py`) it prints exactly one JSON object whose ids and text
//! are transformers'; bad images, checkpoints and flags fail with one readable line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common;

use common::{BIN, error_line, expected_json, json_line};

fn blip() -> PathBuf {
    common::fixture("blip-tiny")
}

fn caption(image: &Path, extra: &[&str]) -> Output {
    caption_with(&blip(), image, extra)
}

fn caption_with(blip: &Path, image: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("caption")
        .arg(image)
        .arg("--blip")
        .arg(blip)
        .args(["--device", "cpu"])
        .args(extra)
        .env_remove("EKPHRASIS_BLIP")
        .output()
        .expect("the binary runs")
}

/// The one JSON object a successful `--json` run prints.
fn json_of(out: &Output) -> Value {
    let value = json_line(out);
    let object = value.as_object().expect("an object");
    assert_eq!(object.len(), 2, "{value}");
    value
}

#[test]
fn prints_transformers_captions_as_one_json_object() {
    let want = expected_json(&blip());
    let image = blip().join("test_image.png");
    let cases: [(&str, &[&str]); 5] = [
        (
            "greedy_prompt",
            &["--prompt", "a happy painting of", "--greedy"],
        ),
        ("greedy_prompt", &["--emotion", "happy"]),
        ("greedy_unconditional", &[]),
        (
            "greedy_prompt_short",
            &["--prompt", "a happy painting of", "--max-new-tokens", "4"],
        ),
        (
            "beam_prompt",
            &["--prompt", "a happy painting of", "--num-beams", "3"],
        ),
    ];
    for (name, flags) in cases {
        let mut args = flags.to_vec();
        args.push("--json");
        let got = json_of(&caption(&image, &args));
        let case = &want["generate"][name];
        assert_eq!(got["token_ids"], case["new_ids"], "{name} {flags:?}");
        assert_eq!(got["text"], case["text"], "{name} {flags:?}");
    }
    // Without --json: the text alone.
    let out = caption(&image, &["--prompt", "a happy painting of"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        want["generate"]["greedy_prompt"]["text"].as_str().unwrap()
    );
}

#[test]
fn bad_images_checkpoints_and_flags_fail_with_one_readable_line() {
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("painting.gif");
    std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    let truncated = dir.path().join("cut.png");
    let png = std::fs::read(blip().join("test_image.png")).unwrap();
    std::fs::write(&truncated, &png[..png.len() / 2]).unwrap();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let image = blip().join("test_image.png");
    let missing = dir.path().join("no-such.png");

    let cases: Vec<(&Path, Vec<&str>, &str)> = vec![
        (&missing, vec![], "no-such.png"),
        (&gif, vec![], "only JPEG, PNG and WebP"),
        (&truncated, vec![], "could not be decoded"),
        (&empty, vec![], "empty.jpg"),
        (&image, vec!["--max-pixels", "100"], "pixels"),
        (&image, vec!["--max-new-tokens", "0"], "--max-new-tokens"),
        (&image, vec!["--max-new-tokens", "100000"], "too many"),
        (&image, vec!["--num-beams", "1"], "--num-beams"),
        (&image, vec!["--num-beams", "99"], "--num-beams"),
        (&image, vec!["--prompt", " "], "--prompt is empty"),
        (&image, vec!["--emotion", "joy"], "unknown emotion"),
    ];
    for (path, flags, words) in cases {
        let mut args = flags.clone();
        args.push("--json");
        let out = caption(path, &args);
        let last = error_line(&out);
        assert!(out.stdout.is_empty(), "{flags:?}");
        assert!(last.contains(words), "{flags:?}: {last}");
    }
    // A directory that is not a BLIP checkpoint.
    let out = caption_with(dir.path(), &image, &["--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("config.json"), "{stderr}");
    // A prompt longer than the decoder's 40 positions.
    let long = "word ".repeat(50);
    let out = caption(&image, &["--prompt", &long, "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tokens long"), "{stderr}");
}
