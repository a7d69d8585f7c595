//! What the command-line tests share: the binary, the model fixtures made by the scripts in
//! `models/fixtures/` (with their `expected.json`), and reading a run's JSON line or error line.

// Each test file uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// The `ekphrasis` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ekphrasis");

/// `models/tests/data/<name>`: one fixture set of the models crate.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/data")
        .join(name)
}

/// A fixture directory's `expected.json`.
pub fn expected_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

/// A path as a command-line argument.
pub fn text(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// The one JSON line a successful run prints on stdout.
pub fn json_line(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().count(),
        1,
        "exactly one line on stdout: {stdout:?}"
    );
    serde_json::from_str(stdout.trim()).expect("a JSON line")
}

/// The error line of a failed run: exit status 1, no panic, and a last line on stderr that
/// starts with `ekphrasis: `.
pub fn error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(last.starts_with("ekphrasis: "), "{stderr}");
    last.to_string()
}

/// A 16-bit mono WAV file at 32 kHz of a sine tone.
pub fn write_tone(path: &Path, freq: f32, seconds: f32) {
    let rate = 32_000u32;
    let samples: Vec<i16> = (0..(seconds * rate as f32) as usize)
        .map(|i| {
            let phase = 2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32;
            (phase.sin() * 12_000.0) as i16
        })
        .collect();
    write_wav(path, rate, 1, &samples);
}

/// A 16-bit PCM WAV file of interleaved `samples`.
pub fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
    let data_len = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + data_len as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&channels.to_le_bytes());
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
    bytes.extend_from_slice(&(2 * channels).to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("the WAV file's folder");
    }
    std::fs::write(path, bytes).expect("a written WAV file");
}
