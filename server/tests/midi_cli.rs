//! MIDI music, rendered with a SoundFont, as `dataset build` and `encode` read it: a one-second
//! A4 in a MIDI file, through a tiny SoundFont made here (one looped sine sample), becomes a clip
//! that sounds at 440 Hz; MIDI without `--soundfont` is named and skipped.

use std::path::Path;
use std::process::Command;

use crate::common;

use common::{BIN, error_line, text};

/// A RIFF chunk: id, little-endian length, data, a pad byte when the length is odd.
fn chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn list(kind: &[u8; 4], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut data = kind.to_vec();
    for c in chunks {
        data.extend_from_slice(c);
    }
    chunk(b"LIST", &data)
}

fn name20(name: &str) -> Vec<u8> {
    let mut out = name.as_bytes().to_vec();
    out.resize(20, 0);
    out
}

fn u16s(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A SoundFont 2 with one preset playing one looped sine cycle recorded at A4 (440 Hz).
fn write_soundfont(path: &Path) {
    let rate = 44_000u32; // 100 samples a cycle at 440 Hz
    let mut samples: Vec<i16> = (0..2000)
        .map(|i| ((2.0 * std::f64::consts::PI * i as f64 / 100.0).sin() * 16_000.0) as i16)
        .collect();
    samples.extend(std::iter::repeat_n(0, 46));
    let smpl: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut phdr = Vec::new();
    for (name, bag) in [("Sine", 0u16), ("EOP", 1)] {
        phdr.extend(name20(name));
        phdr.extend(u16s(&[0, 0, bag]));
        phdr.extend([0u8; 12]);
    }
    let mut inst = Vec::new();
    for (name, bag) in [("Sine", 0u16), ("EOI", 1)] {
        inst.extend(name20(name));
        inst.extend(u16s(&[bag]));
    }
    let mut shdr = name20("sine");
    for v in [0u32, 2000, 100, 1100, rate] {
        shdr.extend(v.to_le_bytes());
    }
    shdr.extend([69u8, 0]); // original pitch A4, no correction
    shdr.extend(u16s(&[0, 1])); // no link, mono
    shdr.extend(name20("EOS"));
    shdr.extend([0u8; 26]);
    let body = [
        b"sfbk".to_vec(),
        list(
            b"INFO",
            &[
                chunk(b"ifil", &u16s(&[2, 1])),
                chunk(b"isng", b"EMU8000\0"),
                chunk(b"INAM", b"Test\0\0"),
            ],
        ),
        list(b"sdta", &[chunk(b"smpl", &smpl)]),
        list(
            b"pdta",
            &[
                chunk(b"phdr", &phdr),
                chunk(b"pbag", &u16s(&[0, 0, 1, 0])),
                chunk(b"pmod", &[0u8; 10]),
                chunk(b"pgen", &u16s(&[41, 0, 0, 0])), // instrument 0; terminal
                chunk(b"inst", &inst),
                chunk(b"ibag", &u16s(&[0, 0, 2, 0])),
                chunk(b"imod", &[0u8; 10]),
                chunk(b"igen", &u16s(&[54, 1, 53, 0, 0, 0])), // looped; sample 0; terminal
                chunk(b"shdr", &shdr),
            ],
        ),
    ]
    .concat();
    std::fs::write(path, chunk(b"RIFF", &body)).unwrap();
}

/// A MIDI file of one A4 held for one second (120 beats a minute, 480 ticks a beat).
fn write_midi(path: &Path) {
    let track = [
        0x00, 0xC0, 0x00, // program 0
        0x00, 0x90, 69, 100, // note on
        0x87, 0x40, 0x80, 69, 0, // 960 ticks later, note off
        0x00, 0xFF, 0x2F, 0x00, // end of track
    ];
    let mut bytes = b"MThd".to_vec();
    bytes.extend(6u32.to_be_bytes());
    bytes.extend([0, 0, 0, 1, 0x01, 0xE0]); // format 0, one track, 480 ticks a beat
    bytes.extend(b"MTrk");
    bytes.extend((track.len() as u32).to_be_bytes());
    bytes.extend(track);
    std::fs::write(path, bytes).unwrap();
}

fn samples_of(wav: &[u8]) -> Vec<f32> {
    wav[44..]
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}

#[test]
fn midi_is_rendered_with_the_soundfont() {
    let dir = tempfile::tempdir().unwrap();
    let font = dir.path().join("sine.sf2");
    write_soundfont(&font);
    let music = dir.path().join("music/happy");
    std::fs::create_dir_all(&music).unwrap();
    write_midi(&music.join("a4.mid"));
    let paintings = dir.path().join("paintings/happy");
    std::fs::create_dir_all(&paintings).unwrap();
    image::RgbImage::from_pixel(8, 8, image::Rgb([200, 120, 40]))
        .save(paintings.join("p.png"))
        .unwrap();
    let out = dir.path().join("set");
    let run = Command::new(BIN)
        .args([
            "dataset",
            "build",
            "--paintings",
            text(&dir.path().join("paintings")),
        ])
        .args([
            "--music",
            text(&dir.path().join("music")),
            "--out",
            text(&out),
        ])
        .args(["--clip-seconds", "1", "--soundfont", text(&font)])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // One second of note and one of fading tail: two clips.
    let first = samples_of(&std::fs::read(out.join("clips/happy/a4-000.wav")).unwrap());
    assert_eq!(first.len(), 32_000);
    let rms = (first.iter().map(|s| s * s).sum::<f32>() / first.len() as f32).sqrt();
    assert!(rms > 0.01, "the note sounds (rms {rms})");
    // Steady middle of the note: 440 cycles a second, two sign changes each.
    let middle = &first[8_000..24_000];
    let crossings = middle
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    assert!(
        (430..=450).contains(&crossings),
        "{crossings} sign changes in half a second"
    );
    assert!(out.join("clips/happy/a4-001.wav").is_file());

    // Encoding reads MIDI the same way; without a SoundFont it is refused by name.
    let codes = dir.path().join("codes.json");
    let encode = |extra: &[&str]| {
        Command::new(BIN)
            .args(["encode", text(&music.join("a4.mid"))])
            .args(["--musicgen", text(&common::fixture("musicgen-tiny"))])
            .args(["--codes-out", text(&codes), "--device", "cpu"])
            .args(extra)
            .output()
            .unwrap()
    };
    let run = encode(&["--soundfont", text(&font)]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&codes).unwrap()).unwrap();
    assert_eq!(
        json["codes"][0].as_array().unwrap().len(),
        100,
        "2 s at 50 frames a second"
    );
    let line = error_line(&encode(&[]));
    assert!(
        line.contains("a4.mid") && line.contains("--soundfont"),
        "{line}"
    );
}
