//! `ekphrasis bench compose|chain|train` on a model folder (`--model`, `--models`), as the GPU
//! bundle's quick check runs them: on the tiny set `ekphrasis models tiny` writes, with tiny
//! settings, each prints the rows a person reads; a missing or broken folder is one error line
//! naming it.

use std::process::{Command, Output};

use crate::common;

use common::{BIN, error_line, text};

fn ekphrasis(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("EKPHRASIS_DEVICE")
        .output()
        .expect("run ekphrasis")
}

/// The tiny model set in a temporary folder.
fn tiny_models() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = ekphrasis(&["models", "tiny", "--out", text(dir.path())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The standard output of a run that succeeded, after checking it holds every row of `rows`.
fn printed(out: &Output, rows: &[&str]) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in rows {
        assert!(stdout.contains(row), "no `{row}` in:\n{stdout}");
    }
    stdout
}

#[test]
fn bench_compose_times_a_musicgen_folder() {
    let models = tiny_models();
    let musicgen = models.path().join("musicgen");
    let out = ekphrasis(&[
        "bench",
        "compose",
        "--device",
        "cpu",
        "--model",
        text(&musicgen),
        "--seconds",
        "0.2",
        "--text-tokens",
        "3",
        "--quantize",
        "q8_0",
    ]);
    let stdout = printed(
        &out,
        &[
            &format!("MusicGen from {}, CPU, decoder Q8_0", musicgen.display()),
            "loading weights",
            "decoder steps/s (guidance 3)",
            "time to first audio chunk",
            "real-time factor (time / audio)",
            "peak memory (RSS)",
            // The reference is a second load of the same folder, in f32.
            "top-1 agreement with f32",
        ],
    );
    assert!(!stdout.contains("random weights"), "{stdout}");
}

#[test]
fn bench_chain_times_a_model_folder() {
    let models = tiny_models();
    let out = ekphrasis(&[
        "bench",
        "chain",
        "--device",
        "cpu",
        "--models",
        text(models.path()),
        "--seconds",
        "0.2",
        "--description-tokens",
        "2",
    ]);
    let stdout = printed(
        &out,
        &[
            &format!("The chain from {}, CPU", models.path().display()),
            "loading weights",
            "time to first audio",
            "whole chain",
            "Summary (0.2 s of music):",
        ],
    );
    // Every variant, the optimized one with a second copy of the folder's MusicGen.
    for variant in ["emotive", "narrative", "lyrical", "optimized"] {
        let summary = stdout.split("Summary").nth(1).unwrap();
        assert!(
            summary.lines().any(|l| l.trim_start().starts_with(variant)),
            "{variant} missing from the summary:\n{stdout}"
        );
    }
}

#[test]
fn bench_train_steps_a_musicgen_folder() {
    let models = tiny_models();
    let musicgen = models.path().join("musicgen");
    let out = ekphrasis(&[
        "bench",
        "train",
        "--device",
        "cpu",
        "--model",
        text(&musicgen),
        "--seconds",
        "0.2",
        "--steps",
        "1",
    ]);
    printed(
        &out,
        &[
            &format!("MusicGen fine-tuning from {}, CPU, f32", musicgen.display()),
            "loading weights",
            "trained weights",
            "optimizer steps/s",
            "seconds a step",
            "TFLOP/s reached",
            "one step of MusicGen-small as the paper ran it",
        ],
    );
}

#[test]
fn a_missing_or_broken_folder_is_one_error_naming_it() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("no-such-folder");
    let missing = text(&missing);
    let runs: [&[&str]; 3] = [
        &["bench", "compose", "--model", missing],
        &["bench", "chain", "--models", missing],
        &["bench", "train", "--model", missing],
    ];
    for args in runs {
        let line = error_line(&ekphrasis(&with_cpu(args)));
        assert!(line.contains(missing), "{args:?}: {line}");
        assert!(line.contains("does not exist"), "{args:?}: {line}");
    }

    // A folder that is not a checkpoint: the error names it and what it lacks.
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let empty = text(&empty);
    let runs: [&[&str]; 3] = [
        &["bench", "compose", "--model", empty],
        &["bench", "chain", "--models", empty],
        &["bench", "train", "--model", empty],
    ];
    for args in runs {
        let line = error_line(&ekphrasis(&with_cpu(args)));
        assert!(line.contains(empty), "{args:?}: {line}");
    }
}

#[test]
fn the_transformers_reference_is_refused_with_a_model_folder() {
    let work = tempfile::tempdir().unwrap();
    let line = error_line(&ekphrasis(&[
        "bench",
        "compose",
        "--device",
        "cpu",
        "--model",
        text(work.path()),
        "--reference-python",
        "python3",
    ]));
    assert!(line.contains("--reference-python"), "{line}");
    assert!(line.contains(text(work.path())), "{line}");
}

/// `args` on the CPU.
fn with_cpu<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut args = args.to_vec();
    args.extend(["--device", "cpu"]);
    args
}
