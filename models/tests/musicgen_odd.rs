//! A MusicGen of other sizes than the published one composes as transformers does (expected
//! outputs made by `models/fixtures/make_musicgen_odd_fixtures.py`): an EnCodec whose
//! `num_filters` (3) is not a multiple of `compress` (2), and a decoder of 24 positions, far
//! fewer than the 1500-frame continuation window, which then shrinks to the model.

use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, Tensor};
use ekphrasis_models::musicgen::{GenerateOptions, MusicGen, Sampling, Window};

use crate::common;

use common::{Fixture, data_dir, max_abs, max_abs_diff};

fn model() -> MusicGen {
    MusicGen::load(data_dir("musicgen-odd"), &Device::Cpu, DType::F32).expect("the odd model")
}

/// transformers' codes, `[codebook][frame]`.
fn expected_codes(fixture: &Fixture) -> Vec<Vec<u32>> {
    fixture
        .tensor("codes")
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec2()
        .unwrap()
}

fn greedy(frames: usize) -> GenerateOptions {
    GenerateOptions {
        frames,
        guidance: 3.0,
        sampling: Sampling::Greedy,
        seed: 0,
        window: Window::default(),
    }
}

#[test]
fn codes_and_audio_match_transformers() {
    let fixture = Fixture::load(&data_dir("musicgen-odd"));
    let mut musicgen = model();
    assert_eq!(musicgen.max_frames(), 20);
    let prompt = fixture.json["prompt"].as_str().unwrap();
    let frames = fixture.json["frames"].as_u64().unwrap() as usize;
    let codes = musicgen
        .generate(prompt, &greedy(frames), &AtomicBool::new(false), |_, _| {})
        .unwrap();
    let want = expected_codes(&fixture);
    assert_eq!(codes, want);
    let audio = musicgen.decode(&codes).unwrap();
    let audio = Tensor::new(audio, &Device::Cpu).unwrap();
    let want = fixture.tensor("audio");
    let diff = max_abs_diff(&audio, want);
    assert!(diff <= 1e-4 * max_abs(want), "audio differs by {diff}");
}

#[test]
fn music_longer_than_the_model_continues_in_shorter_windows() {
    let fixture = Fixture::load(&data_dir("musicgen-odd"));
    let mut musicgen = model();
    let prompt = fixture.json["prompt"].as_str().unwrap();
    let mut streamed = 0;
    let long = musicgen
        .generate(prompt, &greedy(45), &AtomicBool::new(false), |f, _| {
            assert_eq!(f, streamed, "frames arrive in order, each once");
            streamed += 1;
        })
        .unwrap();
    assert_eq!(streamed, 45);
    assert!(long.iter().all(|row| row.len() == 45));
    let want = expected_codes(&fixture);
    for (k, row) in want.iter().enumerate() {
        assert_eq!(
            long[k][..row.len()],
            row[..],
            "the first window, codebook {k}"
        );
    }
}
