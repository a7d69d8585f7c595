//! EnCodec encoder tests: the latent and the codes of the tiny MusicGen's codec equal to
//! transformers' `audio_encoder.encode` (expected outputs made by
//! `models/fixtures/make_encodec_encoder_fixtures.py`), loading only the encoder, and refusals of
//! bad input.

use candle_core::{DType, Device, Tensor};
use ekphrasis_models::musicgen::MusicGen;

use crate::common;

use common::{Fixture, data_dir, fixture_dir, max_abs, max_abs_diff};

const CASES: [&str; 4] = ["tone", "odd_length", "short", "stereo"];

fn encoder() -> ekphrasis_models::encodec::Encoder {
    MusicGen::load_audio_encoder(fixture_dir(), &Device::Cpu, DType::F32).expect("the encoder")
}

#[test]
fn latent_and_codes_match_transformers() {
    let fixture = Fixture::load(&data_dir("encodec-encoder"));
    let encoder = encoder();
    assert_eq!(encoder.codebooks(), 4);
    for case in CASES {
        let audio = fixture.tensor(&format!("{case}.audio"));
        let audio = audio.reshape((1, 1, audio.dim(0).unwrap())).unwrap();
        let latent = encoder.latent(&audio).unwrap().squeeze(0).unwrap();
        let want = fixture.tensor(&format!("{case}.latent"));
        let diff = max_abs_diff(&latent, want);
        assert!(
            diff <= 1e-4 * max_abs(want).max(1.0),
            "{case}: latent differs by {diff}"
        );
        let codes = encoder.encode(&audio).unwrap().squeeze(0).unwrap();
        let want = fixture
            .tensor(&format!("{case}.codes"))
            .to_dtype(DType::U32)
            .unwrap();
        assert_eq!(
            codes.to_vec2::<u32>().unwrap(),
            want.to_vec2::<u32>().unwrap(),
            "{case}: codes"
        );
        let frames = fixture.json["cases"][case]["frames"].as_u64().unwrap() as usize;
        assert_eq!(
            codes.dims(),
            &[4, frames],
            "{case}: ceil(samples / 640) frames"
        );
    }
}

#[test]
fn a_batch_encodes_each_clip_as_alone() {
    let fixture = Fixture::load(&data_dir("encodec-encoder"));
    let encoder = encoder();
    let tone = fixture.tensor("tone.audio");
    let other = (tone.ones_like().unwrap() * 0.1).unwrap();
    let batch = Tensor::stack(&[tone, &(tone - &other).unwrap()], 0)
        .unwrap()
        .unsqueeze(1)
        .unwrap();
    let codes = encoder.encode(&batch).unwrap();
    let first = codes.get(0).unwrap().to_vec2::<u32>().unwrap();
    let want = fixture
        .tensor("tone.codes")
        .to_dtype(DType::U32)
        .unwrap()
        .to_vec2::<u32>()
        .unwrap();
    assert_eq!(first, want);
}

#[test]
fn bad_audio_is_refused_by_name() {
    let encoder = encoder();
    let cpu = Device::Cpu;
    let empty = Tensor::zeros((1, 1, 0), DType::F32, &cpu).unwrap();
    let err = encoder.encode(&empty).unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    let stereo = Tensor::zeros((1, 2, 100), DType::F32, &cpu).unwrap();
    let err = encoder.encode(&stereo).unwrap_err().to_string();
    assert!(err.contains("2 channels"), "{err}");
    let flat = Tensor::zeros(100, DType::F32, &cpu).unwrap();
    let err = encoder.encode(&flat).unwrap_err().to_string();
    assert!(err.contains("(batch, channels, samples)"), "{err}");
}
