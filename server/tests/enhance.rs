//! `ekphrasis enhance` as scripts run it, on the tiny Falcon-RW fixture whose expected outputs
//! transformers made (`models/fixtures/make_falcon_fixtures.py`): exactly one JSON object on
//! stdout with the reference ids, the paper's prompt path, seeded sampling, and one readable
//! error line for bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common;

use common::{BIN, expected_json, json_line};

fn falcon() -> PathBuf {
    common::fixture("falcon-rw-tiny")
}

fn enhance(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("enhance")
        .arg("--falcon")
        .arg(falcon())
        .args(["--device", "cpu"])
        .args(args)
        .env_remove("EKPHRASIS_FALCON")
        .output()
        .expect("the binary runs")
}

/// The single JSON object a successful run prints.
fn json_of(out: &Output) -> Value {
    let value = json_line(out);
    assert!(value.is_object());
    value
}

fn ids(value: &Value) -> Vec<u64> {
    serde_json::from_value(value.clone()).unwrap()
}

#[test]
fn raw_prompt_greedy_prints_the_reference_ids_and_text() {
    let want = expected_json(&falcon());
    let prompt = want["paper"]["prompt"].as_str().unwrap();
    let out = enhance(&[
        "--raw-prompt",
        prompt,
        "--greedy",
        "--max-new-tokens",
        "20",
        "--json",
    ]);
    let got = json_of(&out);
    assert_eq!(ids(&got["token_ids"]), ids(&want["greedy"]["new_ids"]));
    assert_eq!(got["text"], want["greedy"]["text"]);
    assert_eq!(
        got.as_object().unwrap().len(),
        2,
        "only text and token_ids: {got}"
    );
}

#[test]
fn raw_prompt_stops_at_the_checkpoint_eos_budget() {
    // Five new tokens: the first five of the reference run.
    let want = expected_json(&falcon());
    let prompt = want["paper"]["prompt"].as_str().unwrap();
    let got = json_of(&enhance(&[
        "--raw-prompt",
        prompt,
        "--greedy",
        "--max-new-tokens",
        "5",
        "--json",
    ]));
    assert_eq!(
        ids(&got["token_ids"]),
        ids(&want["greedy"]["new_ids"])[..5].to_vec()
    );
}

#[test]
fn the_papers_prompt_path_builds_table_one_and_says_whether_it_fell_back() {
    let want = expected_json(&falcon());
    let caption = want["paper"]["caption"].as_str().unwrap();
    let got = json_of(&enhance(&[
        "--caption",
        caption,
        "--emotion",
        "sad",
        "--greedy",
        "--max-new-tokens",
        "20",
        "--json",
    ]));
    // The paper's prompt for this caption is the fixture's prompt, so the ids are the reference's.
    assert_eq!(ids(&got["token_ids"]), ids(&want["greedy"]["new_ids"]));
    let text = got["text"].as_str().unwrap();
    assert!(
        !text.trim().is_empty() && text.lines().count() <= 2,
        "{text}"
    );
    assert!(got["fallback"].is_boolean(), "{got}");
}

#[test]
fn sampling_repeats_with_a_seed_and_prints_a_random_one_otherwise() {
    let want = expected_json(&falcon());
    let prompt = want["paper"]["prompt"].as_str().unwrap();
    let args = [
        "--raw-prompt",
        prompt,
        "--seed",
        "7",
        "--max-new-tokens",
        "12",
        "--json",
    ];
    let a = json_of(&enhance(&args));
    let b = json_of(&enhance(&args));
    assert_eq!(a, b);
    let out = enhance(&["--raw-prompt", prompt, "--max-new-tokens", "3"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("seed "));
}

#[test]
fn bad_input_fails_with_one_readable_line() {
    let musicgen = common::fixture("musicgen-tiny");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--raw-prompt".into(),
                "x".into(),
                "--max-new-tokens".into(),
                "0".into(),
            ],
            "max-new-tokens",
        ),
        (
            vec![
                "--raw-prompt".into(),
                "x".into(),
                "--max-new-tokens".into(),
                "999999".into(),
            ],
            "max-new-tokens",
        ),
        (vec!["--raw-prompt".into(), "  ".into()], "empty"),
        (
            vec![
                "--caption".into(),
                "a boat".into(),
                "--emotion".into(),
                "gloomy".into(),
            ],
            "gloomy",
        ),
        (
            vec![
                "--raw-prompt".into(),
                "x".into(),
                "--temperature".into(),
                "0".into(),
            ],
            "temperature",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = enhance(&args);
        check_failure(&out, needle, &args);
    }
    for (dir, needle) in [
        (PathBuf::from("/no/such/falcon/dir"), "/no/such/falcon/dir"),
        (musicgen, "model_type"),
    ] {
        let out = Command::new(BIN)
            .arg("enhance")
            .arg("--falcon")
            .arg(&dir)
            .args(["--raw-prompt", "hello", "--device", "cpu"])
            .output()
            .unwrap();
        check_failure(&out, needle, &[]);
    }
}

/// A refused run (clap's usage errors included): no panic, the reason on stderr, nothing on
/// stdout.
fn check_failure(out: &Output, needle: &str, args: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
}
