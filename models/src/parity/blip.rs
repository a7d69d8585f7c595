//! BLIP against transformers on `blip-tiny`: the vision encoder's states, the text decoder's
//! logits at every prompt position, and greedy captions with and without a prompt (f32).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device};
use serde::Deserialize;

use super::Check;
use super::compare::{Diff, matching_ids};
use super::fixture::Fixture;
use crate::blip::{Blip, CaptionOptions, Decoding};
use crate::error::Result;

const MODEL: &str = "blip";
/// The reference's greedy cases in `expected.json`'s `generate`.
const GREEDY_CASES: &[&str] = &[
    "greedy_prompt",
    "greedy_prompt_short",
    "greedy_unconditional",
];

/// One generation case of the fixture.
#[derive(Deserialize)]
struct Case {
    prompt: Option<String>,
    new_ids: Vec<u32>,
    settings: Settings,
}

#[derive(Deserialize)]
struct Settings {
    max_new_tokens: Option<usize>,
}

pub(super) fn checks(dir: &Path, device: &Device, dtype: DType) -> Result<Vec<Check>> {
    let fixture = Fixture::load(dir)?;
    let mut blip = Blip::load(dir, device, dtype)?;
    let pixels = fixture.tensor("pixel_values")?.to_device(device)?;
    let embeds = blip.image_embeds(&pixels)?;
    let vision = Diff::between(&embeds, fixture.tensor("vision_last_hidden_state")?)?;
    let ids: Vec<u32> = fixture
        .tensor("logits_input_ids")?
        .flatten_all()?
        .to_dtype(DType::U32)?
        .to_vec1()?;
    let logits = blip.logits(&embeds, &ids)?;
    let text = Diff::between(&logits, &fixture.tensor("logits")?.squeeze(0)?)?;
    let mut checks = vec![
        Check::floats(MODEL, "vision states", dtype, vision),
        Check::floats(MODEL, "text logits", dtype, text),
    ];

    if dtype == DType::F32 {
        let (mut equal, mut total) = (0, 0);
        for case in GREEDY_CASES {
            let case: Case = fixture.value(&format!("/generate/{case}"))?;
            let options = CaptionOptions {
                decoding: Decoding::Greedy,
                max_new_tokens: case.settings.max_new_tokens,
            };
            let caption = blip.caption_pixels(
                &pixels,
                case.prompt.as_deref(),
                &options,
                &AtomicBool::new(false),
            )?;
            let (e, t) = matching_ids(&caption.token_ids, &case.new_ids);
            equal += e;
            total += t;
        }
        checks.push(Check::ids(
            MODEL,
            "greedy caption ids",
            dtype,
            (equal, total),
        ));
    }
    Ok(checks)
}
