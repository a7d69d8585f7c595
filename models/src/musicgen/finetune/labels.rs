//! What a clip's codes become for training, as transformers' MusicGen loss reads them: labels in
//! the delay pattern (codebook `q` shifted right by `q` frames, the pad id where it has no code),
//! and the decoder's inputs, those labels shifted right by one step behind the start id.

use candle_core::{Device, Result, Tensor, bail};

/// Labels `(batch, frames + codebooks − 1, codebooks)` from codes `codes[b][q][t]`:
/// `labels[b, s, q] = codes[b][q][s − q]` when `0 ≤ s − q < frames`, else `pad`.
pub fn delay_labels(codes: &[Vec<Vec<u32>>], pad: u32, device: &Device) -> Result<Tensor> {
    let batch = codes.len();
    let Some(first) = codes.first() else {
        bail!("no clips to make labels from")
    };
    let codebooks = first.len();
    let frames = first.first().map_or(0, Vec::len);
    if codebooks == 0 || frames == 0 {
        bail!("a clip has no codes")
    }
    if codes
        .iter()
        .any(|clip| clip.len() != codebooks || clip.iter().any(|row| row.len() != frames))
    {
        bail!("the clips of a batch must all have {codebooks} codebooks of {frames} frames")
    }
    let steps = frames + codebooks - 1;
    let mut labels = vec![pad; batch * steps * codebooks];
    for (b, clip) in codes.iter().enumerate() {
        for (q, row) in clip.iter().enumerate() {
            for (t, &code) in row.iter().enumerate() {
                labels[(b * steps + t + q) * codebooks + q] = code;
            }
        }
    }
    Tensor::from_vec(labels, (batch, steps, codebooks), device)
}

/// The decoder's inputs `(batch, codebooks, steps)` for `labels` `(batch, steps, codebooks)`:
/// transformers' `shift_tokens_right`, every codebook starting with `start`.
pub fn decoder_inputs(labels: &Tensor, start: u32) -> Result<Tensor> {
    let (batch, steps, codebooks) = labels.dims3()?;
    let shifted = labels.transpose(1, 2)?.narrow(2, 0, steps - 1)?;
    let starts = Tensor::full(start, (batch, codebooks, 1), labels.device())?;
    Tensor::cat(&[&starts, &shifted], 2)?.contiguous()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codebooks_are_delayed_by_their_index_and_inputs_shifted_by_one() {
        // One clip, two codebooks, three frames.
        let codes = vec![vec![vec![1, 2, 3], vec![4, 5, 6]]];
        let labels = delay_labels(&codes, 9, &Device::Cpu).unwrap();
        assert_eq!(
            labels.to_vec3::<u32>().unwrap(),
            [[[1, 9], [2, 4], [3, 5], [9, 6]]]
        );
        let inputs = decoder_inputs(&labels, 9).unwrap();
        assert_eq!(
            inputs.to_vec3::<u32>().unwrap(),
            [[[9, 1, 2, 3], [9, 9, 4, 5]]]
        );
    }

    #[test]
    fn ragged_batches_are_refused() {
        let codes = vec![vec![vec![1, 2]], vec![vec![1]]];
        assert!(delay_labels(&codes, 9, &Device::Cpu).is_err());
        assert!(delay_labels(&[], 9, &Device::Cpu).is_err());
    }
}
