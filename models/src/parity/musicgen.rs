//! MusicGen against transformers on `musicgen-tiny`: the T5 states, the decoder's logits for
//! both guidance branches, greedy codes with guidance 3 (f32), and EnCodec's decode of the
//! reference codes.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, IndexOp, Tensor};

use super::Check;
use super::compare::{Diff, matching_ids};
use super::fixture::Fixture;
use crate::error::Result;
use crate::musicgen::{GenerateOptions, MusicGen, Sampling};

const MODEL: &str = "musicgen";

pub(super) fn checks(dir: &Path, device: &Device, dtype: DType) -> Result<Vec<Check>> {
    let fixture = Fixture::load(dir)?;
    let mut musicgen = MusicGen::load(dir, device, dtype)?;
    let prompts: Vec<String> = fixture.value("/prompts")?;
    let masks: Vec<Vec<i64>> = fixture.value("/attention_mask")?;
    let decoder_ids = fixture.ids_tensor("logits_decoder_input_ids", device)?;
    let codebooks = musicgen.config().decoder.num_codebooks;

    let (mut states, mut conditional, mut unconditional) = Default::default();
    for (b, prompt) in prompts.iter().enumerate() {
        let len = masks[b].iter().filter(|m| **m == 1).count();
        let got = musicgen.text_states(prompt)?.squeeze(0)?;
        let want = fixture
            .tensor("text_encoder_last_hidden_state")?
            .i((b, ..len))?;
        states = Diff::worst(states, Diff::between(&got, &want)?);

        let rows = decoder_ids
            .narrow(0, b * codebooks, codebooks)?
            .unsqueeze(0)?;
        let memory = musicgen.memory(prompt)?;
        let branches = [
            (&mut conditional, memory.clone(), "logits_conditional"),
            (
                &mut unconditional,
                memory.zeros_like()?,
                "logits_unconditional",
            ),
        ];
        for (worst, memory, name) in branches {
            let got = musicgen.logits_for_memory(&memory, &rows)?.squeeze(0)?;
            let want = fixture.tensor(name)?.narrow(0, b * codebooks, codebooks)?;
            *worst = Diff::worst(*worst, Diff::between(&got, &want)?);
        }
    }
    let mut checks = vec![
        Check::floats(MODEL, "T5 text states", dtype, states),
        Check::floats(MODEL, "decoder logits, conditional", dtype, conditional),
        Check::floats(MODEL, "decoder logits, unconditional", dtype, unconditional),
    ];
    if dtype == DType::F32 {
        checks.push(greedy_codes(&mut musicgen, &fixture, &prompts)?);
    }

    let codes = fixture.ids_tensor("encodec_codes", device)?;
    let audio = musicgen.audio_decoder().decode(&codes)?;
    let diff = Diff::between(&audio, fixture.tensor("encodec_audio_values")?)?;
    checks.push(Check::floats(
        MODEL,
        "EnCodec decode of the codes",
        dtype,
        diff,
    ));
    Ok(checks)
}

/// Greedy generation with guidance 3 for every prompt: the codes of every frame and codebook.
fn greedy_codes(musicgen: &mut MusicGen, fixture: &Fixture, prompts: &[String]) -> Result<Check> {
    let expected = fixture.tensor("generate_g3_codes")?;
    let options = GenerateOptions {
        frames: expected.dim(2)?,
        guidance: 3.0,
        sampling: Sampling::Greedy,
        seed: 0,
        ..GenerateOptions::default()
    };
    let (mut equal, mut total) = (0, 0);
    for (b, prompt) in prompts.iter().enumerate() {
        let got = musicgen.generate(prompt, &options, &AtomicBool::new(false), |_, _| {})?;
        let want = codes_of(&expected.i(b)?)?;
        for (got, want) in got.iter().zip(&want) {
            let (e, t) = matching_ids(got, want);
            equal += e;
            total += t;
        }
    }
    Ok(Check::ids(
        MODEL,
        "greedy codes, guidance 3",
        DType::F32,
        (equal, total),
    ))
}

fn codes_of(tensor: &Tensor) -> Result<Vec<Vec<u32>>> {
    Ok(tensor.to_dtype(DType::U32)?.to_vec2::<u32>()?)
}
