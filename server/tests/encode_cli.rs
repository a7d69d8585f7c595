//! `ekphrasis encode` as scripts run it: music files to EnCodec codes with the tiny MusicGen's
//! codec, equal to transformers' `audio_encoder.encode` on the same samples (expected outputs
//! made by `models/fixtures/make_encodec_encoder_fixtures.py`); other containers and rates read;
//! bad files and flags fail with one readable line naming the thing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common;

use common::{BIN, error_line, expected_json, text};

fn data() -> PathBuf {
    common::fixture("encodec-encoder")
}

fn encode(audio: &Path, codes_out: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("encode")
        .arg(audio)
        .arg("--musicgen")
        .arg(common::fixture("musicgen-tiny"))
        .arg("--codes-out")
        .arg(codes_out)
        .args(["--device", "cpu"])
        .args(extra)
        .env_remove("EKPHRASIS_MUSICGEN")
        .output()
        .expect("the binary runs")
}

/// The codes a successful run wrote.
fn codes_of(out: &Output, codes_out: &Path) -> Vec<Vec<u32>> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(codes_out).expect("the codes file"))
            .expect("JSON");
    assert_eq!(json.as_object().expect("an object").len(), 1, "{json}");
    serde_json::from_value(json["codes"].clone()).expect("lists of codes")
}

fn expected_codes(case: &str) -> Vec<Vec<u32>> {
    serde_json::from_value(expected_json(&data())["cases"][case]["codes"].clone())
        .expect("expected codes")
}

#[test]
fn wav_files_encode_to_transformers_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("codes.json");
    for case in ["tone", "odd_length", "short", "stereo"] {
        let out = encode(&data().join(format!("{case}.wav")), &out_file, &[]);
        assert_eq!(codes_of(&out, &out_file), expected_codes(case), "{case}");
    }
}

#[test]
fn seconds_cut_or_pad_the_music() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("codes.json");
    let tone = data().join("tone.wav");
    for (case, seconds) in [("tone_cut", "0.25"), ("tone_padded", "1")] {
        let out = encode(&tone, &out_file, &["--seconds", seconds]);
        assert_eq!(codes_of(&out, &out_file), expected_codes(case), "{case}");
    }
}

#[test]
fn flac_is_lossless_and_lossy_formats_and_other_rates_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("codes.json");
    let out = encode(&data().join("tone.flac"), &out_file, &[]);
    assert_eq!(codes_of(&out, &out_file), expected_codes("tone"));
    // Lossy copies of the 0.5 s tone: the same length give or take the codec's padding.
    for file in ["tone.ogg", "tone.mp3"] {
        let out = encode(&data().join(file), &out_file, &[]);
        let codes = codes_of(&out, &out_file);
        assert_eq!(codes.len(), 4, "{file}");
        assert!(
            (25..=30).contains(&codes[0].len()),
            "{file}: {} frames",
            codes[0].len()
        );
    }
    // 0.4 s of stereo at 44.1 kHz: 12800 samples at 32 kHz, 20 frames.
    let out = encode(&data().join("stereo_44k.wav"), &out_file, &[]);
    let codes = codes_of(&out, &out_file);
    assert_eq!((codes.len(), codes[0].len()), (4, 20));
}

#[test]
fn bad_files_and_flags_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("codes.json");
    let noise = dir.path().join("noise.wav");
    std::fs::write(&noise, b"RIFF this is not a wave file at all").unwrap();
    let line = error_line(&encode(&noise, &out_file, &[]));
    assert!(line.contains(text(&noise)), "{line}");
    let missing = dir.path().join("missing.flac");
    let line = error_line(&encode(&missing, &out_file, &[]));
    assert!(line.contains(text(&missing)), "{line}");
    let line = error_line(&encode(
        &data().join("tone.wav"),
        &out_file,
        &["--seconds=-1"],
    ));
    assert!(line.contains("--seconds"), "{line}");
    let not_a_model = dir.path().join("no-model");
    std::fs::create_dir(&not_a_model).unwrap();
    let out = Command::new(BIN)
        .arg("encode")
        .arg(data().join("tone.wav"))
        .arg("--musicgen")
        .arg(&not_a_model)
        .arg("--codes-out")
        .arg(&out_file)
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert!(line.contains("config.json"), "{line}");
    assert!(!out_file.exists(), "nothing is written on failure");
}
