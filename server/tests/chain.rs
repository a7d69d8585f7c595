//! `ekphrasis describe` and `ekphrasis generate`: the whole chain end to end on the tiny
//! reference models (CLIP, BLIP, Falcon-RW and MusicGen fixtures), laid out as `--models DIR`.

use std::process::{Command, Output};

use crate::common;

use common::{BIN, fixture, json_line};

/// A models folder whose role folders point at the tiny fixtures.
fn tiny_models() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (role, name) in [
        ("clip", "clip-tiny"),
        ("blip", "blip-tiny"),
        ("falcon", "falcon-rw-tiny"),
        ("musicgen", "musicgen-tiny"),
    ] {
        std::os::unix::fs::symlink(fixture(name), dir.path().join(role)).unwrap();
    }
    dir
}

fn ekphrasis(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("EKPHRASIS_EMOTION_MODEL")
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("run ekphrasis")
}

fn painting() -> String {
    fixture("blip-tiny/test_image.png").display().to_string()
}

#[test]
fn generate_runs_the_lyrical_chain_and_writes_the_music_it_streamed() {
    let models = tiny_models();
    let work = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = work.path().join(name);
        let value = json_line(&ekphrasis(&[
            "generate",
            &painting(),
            "--models",
            models.path().to_str().unwrap(),
            "--variant",
            "lyrical",
            "--seconds",
            "1",
            "--seed",
            "11",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]));
        (value, std::fs::read(out).unwrap())
    };
    let (value, wav) = run("a.wav");
    let label = value["emotion"]["label"].as_str().unwrap();
    assert_eq!(value["emotion"]["labeller"], "clip-zero-shot");
    let caption = value["caption"].as_str().unwrap();
    assert!(
        caption.starts_with(&format!("a {label} painting of")),
        "{caption}"
    );
    let description = value["description"].as_str().unwrap();
    assert!(!description.trim().is_empty() && description.lines().count() <= 2);
    assert_eq!(value["music_text"], value["description"]);
    assert_eq!(value["samples"], 32000);
    assert_eq!(
        wav.len(),
        44 + 2 * 32000,
        "16-bit mono WAV of what was streamed"
    );
    let (again, wav_again) = run("b.wav");
    assert_eq!(again, {
        let mut v = value.clone();
        v["out"] = again["out"].clone();
        v["first_audio_seconds"] = again["first_audio_seconds"].clone();
        v
    });
    assert_eq!(wav, wav_again, "the same seed makes the same music");
}

#[test]
fn emotive_composes_from_the_emotion_alone_and_optimized_needs_its_checkpoint() {
    let models = tiny_models();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("e.wav");
    let value = json_line(&ekphrasis(&[
        "generate",
        &painting(),
        "--models",
        models.path().to_str().unwrap(),
        "--variant",
        "emotive",
        "--seconds",
        "1",
        "--seed",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(value["music_text"], value["emotion"]["label"]);
    assert!(value["caption"].is_null() && value["description"].is_null());

    let refused = ekphrasis(&[
        "generate",
        &painting(),
        "--models",
        models.path().to_str().unwrap(),
        "--variant",
        "optimized",
        "--out",
        work.path().join("o.wav").to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("fine-tuned MusicGen"), "{stderr}");
    assert!(
        !work.path().join("o.wav").exists(),
        "nothing written on refusal"
    );
}

#[test]
fn describe_prints_the_three_texts_and_bad_input_gets_one_line() {
    let models = tiny_models();
    let m = models.path().to_str().unwrap();
    let value = json_line(&ekphrasis(&[
        "describe",
        &painting(),
        "--models",
        m,
        "--json",
        "--seed",
        "4",
    ]));
    let probabilities = value["emotion"]["probabilities"].as_object().unwrap();
    let total: f64 = probabilities.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4 && probabilities.len() == 5);
    assert!(value["caption"].is_string() && value["description"].is_string());

    let work = tempfile::tempdir().unwrap();
    let broken = work.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    for args in [
        vec!["describe", broken.to_str().unwrap(), "--models", m],
        vec![
            "generate",
            &painting(),
            "--models",
            m,
            "--variant",
            "baroque",
            "--out",
            "x.wav",
        ],
        vec![
            "generate",
            &painting(),
            "--models",
            m,
            "--seconds",
            "500",
            "--out",
            "x.wav",
        ],
    ] {
        // clap refuses a bad flag with its own usage text and status 2.
        let out = ekphrasis(&args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn the_tiny_set_made_by_models_tiny_runs_the_whole_chain() {
    let work = tempfile::tempdir().unwrap();
    let models = work.path().join("models");
    let out = ekphrasis(&["models", "tiny", "--out", models.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wav = work.path().join("song.wav");
    let value = json_line(&ekphrasis(&[
        "generate",
        &painting(),
        "--models",
        models.to_str().unwrap(),
        "--variant",
        "lyrical",
        "--seconds",
        "1",
        "--seed",
        "3",
        "--out",
        wav.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(
        value["emotion"]["labeller"], "resnet-bigru",
        "emotion/ wins over CLIP"
    );
    assert!(value["caption"].as_str().unwrap().starts_with("a "));
    assert!(value["description"].is_string());
    assert_eq!(value["samples"], 32000);
    assert_eq!(std::fs::metadata(wav).unwrap().len(), 44 + 2 * 32000);

    // Every single-stage command finds its model in the same folder.
    let m = models.to_str().unwrap();
    let short = work.path().join("short.wav");
    for args in [
        vec!["emotion", &painting(), "--models", m, "--json"],
        vec![
            "caption",
            &painting(),
            "--models",
            m,
            "--prompt",
            "a sad painting of",
            "--json",
        ],
        vec![
            "enhance",
            "--models",
            m,
            "--caption",
            "a sad painting of the sea",
            "--emotion",
            "sad",
            "--greedy",
            "--json",
        ],
        vec![
            "compose",
            "--models",
            m,
            "--text",
            "sad piano",
            "--frames",
            "10",
            "--out",
            short.to_str().unwrap(),
        ],
    ] {
        let out = ekphrasis(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(std::fs::metadata(short).unwrap().len(), 44 + 2 * 10 * 640);

    // Quantized Falcon-RW and MusicGen decoder; q4k's 256-weight blocks do not fit tiny rows.
    let quantized = work.path().join("q.wav");
    let out = ekphrasis(&[
        "generate",
        &painting(),
        "--models",
        m,
        "--quantize",
        "q8_0",
        "--seconds",
        "1",
        "--out",
        quantized.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::metadata(quantized).unwrap().len(), 44 + 2 * 32000);
    let out = ekphrasis(&[
        "enhance",
        "--models",
        m,
        "--caption",
        "a sad sea",
        "--emotion",
        "sad",
        "--quantize",
        "q4k",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("blocks of 256"));
}
