//! Falcon-RW against transformers on `falcon-rw-tiny` (ALiBi, a left-padded batch): the final
//! hidden states where the mask is one, the last position's logits, and greedy ids through the
//! KV cache (f32).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device, IndexOp, Tensor};

use super::Check;
use super::compare::{Diff, matching_ids};
use super::fixture::Fixture;
use crate::error::Result;
use crate::falcon_rw::{FalconRw, GenerateOptions, Sampling};

const MODEL: &str = "falcon-rw";

pub(super) fn checks(dir: &Path, device: &Device, dtype: DType) -> Result<Vec<Check>> {
    let fixture = Fixture::load(dir)?;
    let mut falcon = FalconRw::load(dir, device, dtype)?;
    let ids: Vec<Vec<u32>> = fixture.value("/batch/input_ids")?;
    let mask: Vec<Vec<u8>> = fixture.value("/batch/attention_mask")?;
    let real: Vec<Vec<bool>> = mask
        .iter()
        .map(|row| row.iter().map(|m| *m == 1).collect())
        .collect();
    let (b, t) = (ids.len(), ids[0].len());
    let input = Tensor::from_vec(ids.concat(), (b, t), device)?;

    let net = falcon.model_mut();
    let hidden = net.forward(&input, Some(&real))?;
    let want = fixture.tensor("batch_last_hidden_state")?;
    let mut states = Diff::default();
    for (row, real) in real.iter().enumerate() {
        // Left padding: the real positions are the last ones.
        let first = real.iter().position(|r| *r).unwrap_or(t);
        let got = hidden.i((row, first..))?;
        states = states.worst(Diff::between(&got, &want.i((row, first..))?)?);
    }
    let last = net.logits(&hidden.i((.., t - 1))?)?;
    let logits = Diff::between(&last, fixture.tensor("batch_logits_last")?)?;
    let mut checks = vec![
        Check::floats(MODEL, "hidden states, padded batch", dtype, states),
        Check::floats(MODEL, "last-position logits", dtype, logits),
    ];

    if dtype == DType::F32 {
        let prompt: Vec<u32> = fixture.value("/greedy/prompt_ids")?;
        let want: Vec<u32> = fixture.value("/greedy/new_ids")?;
        let options = GenerateOptions {
            max_new_tokens: want.len(),
            sampling: Sampling::Greedy,
            ..GenerateOptions::default()
        };
        let got = falcon.generate(&prompt, &options, &AtomicBool::new(false), |_| false)?;
        checks.push(Check::ids(
            MODEL,
            "greedy ids, KV cache",
            dtype,
            matching_ids(&got, &want),
        ));
    }
    Ok(checks)
}
