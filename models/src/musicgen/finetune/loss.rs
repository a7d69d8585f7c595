//! transformers' MusicGen training loss: for each codebook, the mean token cross-entropy of its
//! logits against its labels over the positions whose label is not the pad id; then the mean of
//! those over the codebooks. Written with operations candle can differentiate.

use candle_core::{D, DType, IndexOp, Result, Tensor, bail};

/// `log softmax` over the last dimension, the maximum taken out of the graph (its gradient is
/// zero in exact arithmetic).
fn log_softmax(xs: &Tensor) -> Result<Tensor> {
    let max = xs.max_keepdim(D::Minus1)?.detach();
    let diff = xs.broadcast_sub(&max)?;
    let log_sum = diff.exp()?.sum_keepdim(D::Minus1)?.log()?;
    diff.broadcast_sub(&log_sum)
}

/// The loss of `logits` `(batch, codebooks, steps, vocab)` against `labels`
/// `(batch, steps, codebooks)` (u32), positions labelled `ignore` left out; a scalar.
pub fn codebook_cross_entropy(logits: &Tensor, labels: &Tensor, ignore: u32) -> Result<Tensor> {
    let (batch, codebooks, steps, vocab) = logits.dims4()?;
    if labels.dims3()? != (batch, steps, codebooks) {
        bail!(
            "labels {:?} do not fit logits {:?}",
            labels.dims(),
            logits.dims()
        )
    }
    let mut total: Option<Tensor> = None;
    for q in 0..codebooks {
        let lg = logits.i((.., q))?.reshape((batch * steps, vocab))?;
        let lbl = labels.i((.., .., q))?.flatten_all()?;
        let values = lbl.to_vec1::<u32>()?;
        let kept: Vec<f32> = values
            .iter()
            .map(|&v| f32::from(u8::from(v != ignore)))
            .collect();
        let count: f32 = kept.iter().sum();
        if count == 0.0 {
            bail!("codebook {q} has no label to learn from")
        }
        if let Some(bad) = values.iter().find(|&&v| v != ignore && v as usize >= vocab) {
            bail!("label {bad} is outside the vocabulary of {vocab}")
        }
        let safe: Vec<u32> = values
            .iter()
            .map(|&v| if v == ignore { 0 } else { v })
            .collect();
        let safe = Tensor::from_vec(safe, (batch * steps, 1), lg.device())?;
        let kept = Tensor::from_vec(kept, batch * steps, lg.device())?.to_dtype(lg.dtype())?;
        let picked = log_softmax(&lg)?.gather(&safe, 1)?.squeeze(1)?;
        let nll = ((picked * kept)?.sum_all()?.neg()? / f64::from(count))?;
        total = Some(match total {
            Some(t) => (t + nll)?,
            None => nll,
        });
    }
    let Some(total) = total else {
        bail!("logits have no codebook")
    };
    (total / codebooks as f64)?.to_dtype(DType::F32)
}
