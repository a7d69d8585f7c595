//! Training examples into batches: each example a clip's codes and its text's T5 states; a
//! batch's texts padded to the longest (zero states, mask 0); a row's condition dropped to the
//! empty one (zero states, mask 0) with the classifier-free-guidance dropout probability; rows
//! in their order or shuffled per epoch by a seed.

use candle_core::{DType, Device, Result, Tensor, bail};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::labels::{decoder_inputs, delay_labels};

/// One micro-batch, ready for the decoder.
#[derive(Debug, Clone)]
pub struct Batch {
    /// T5 states `(batch, text, d_text)`.
    pub states: Tensor,
    /// Text mask `(batch, text)`: 1 for a token, 0 for padding or a dropped condition.
    pub mask: Tensor,
    /// Decoder inputs `(batch, codebooks, steps)`.
    pub inputs: Tensor,
    /// Labels `(batch, steps, codebooks)`.
    pub labels: Tensor,
}

/// One clip and its text.
#[derive(Debug, Clone)]
pub struct Example {
    /// `codes[q][t]`: the clip's EnCodec codes.
    pub codes: Vec<Vec<u32>>,
    /// The text's T5 states `(tokens, d_text)`, f32.
    pub states: Tensor,
}

/// How an epoch's batches are made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchPlan {
    /// Rows per batch (the last batch may be smaller).
    pub batch_size: usize,
    /// Shuffle the rows every epoch with this seed (in file order without one).
    pub shuffle_seed: Option<u64>,
    /// Probability of replacing a row's text by the empty condition.
    pub cfg_dropout: f64,
    /// Seed of the condition dropout.
    pub dropout_seed: u64,
    /// The pad id (labels without a code).
    pub pad: u32,
    /// The decoder's start id.
    pub start: u32,
}

/// The batches of epoch `epoch` (0-based).
pub fn epoch_batches(
    examples: &[Example],
    plan: &BatchPlan,
    epoch: usize,
    device: &Device,
) -> Result<Vec<Batch>> {
    if plan.batch_size == 0 {
        bail!("the batch size must be at least 1")
    }
    let mut order: Vec<usize> = (0..examples.len()).collect();
    if let Some(seed) = plan.shuffle_seed {
        order.shuffle(&mut StdRng::seed_from_u64(seed.wrapping_add(epoch as u64)));
    }
    let mut dropout = StdRng::seed_from_u64(plan.dropout_seed.wrapping_add(epoch as u64));
    order
        .chunks(plan.batch_size)
        .map(|rows| {
            let rows: Vec<&Example> = rows.iter().map(|&i| &examples[i]).collect();
            let dropped: Vec<bool> = rows
                .iter()
                .map(|_| plan.cfg_dropout > 0.0 && dropout.random_bool(plan.cfg_dropout.min(1.0)))
                .collect();
            make_batch(&rows, &dropped, plan.pad, plan.start, device)
        })
        .collect()
}

/// One batch of `rows`, the rows marked in `dropped` given the empty condition.
pub fn make_batch(
    rows: &[&Example],
    dropped: &[bool],
    pad: u32,
    start: u32,
    device: &Device,
) -> Result<Batch> {
    let Some(first) = rows.first() else {
        bail!("an empty batch")
    };
    let width = first.states.dim(1)?;
    let longest = rows
        .iter()
        .map(|r| r.states.dim(0))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .max()
        .unwrap_or(1)
        .max(1);
    let mut states = Vec::with_capacity(rows.len());
    let mut mask = Vec::with_capacity(rows.len() * longest);
    for (row, &drop) in rows.iter().zip(dropped) {
        let (tokens, w) = row.states.dims2()?;
        if w != width {
            bail!("text states of widths {width} and {w} in one batch")
        }
        let padded = row
            .states
            .to_device(device)?
            .to_dtype(DType::F32)?
            .pad_with_zeros(0, 0, longest - tokens)?;
        if drop {
            states.push(padded.zeros_like()?);
            mask.extend(std::iter::repeat_n(0f32, longest));
        } else {
            states.push(padded);
            mask.extend((0..longest).map(|i| if i < tokens { 1f32 } else { 0f32 }));
        }
    }
    let states = Tensor::stack(&states, 0)?;
    let mask = Tensor::from_vec(mask, (rows.len(), longest), device)?;
    let codes: Vec<Vec<Vec<u32>>> = rows.iter().map(|r| r.codes.clone()).collect();
    let labels = delay_labels(&codes, pad, device)?;
    let inputs = decoder_inputs(&labels, start)?;
    Ok(Batch {
        states,
        mask,
        inputs,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(tokens: usize, code: u32) -> Example {
        Example {
            codes: vec![vec![code; 3]; 2],
            states: Tensor::ones((tokens, 4), DType::F32, &Device::Cpu).unwrap(),
        }
    }

    fn plan(batch_size: usize) -> BatchPlan {
        BatchPlan {
            batch_size,
            shuffle_seed: None,
            cfg_dropout: 0.0,
            dropout_seed: 0,
            pad: 9,
            start: 9,
        }
    }

    #[test]
    fn texts_are_padded_and_masked_and_dropped_rows_are_empty() {
        let (a, b) = (example(2, 1), example(4, 2));
        let batch = make_batch(&[&a, &b], &[false, true], 9, 9, &Device::Cpu).unwrap();
        assert_eq!(batch.states.dims(), &[2, 4, 4]);
        assert_eq!(
            batch.mask.to_vec2::<f32>().unwrap(),
            [[1.0, 1.0, 0.0, 0.0], [0.0; 4]]
        );
        let sums: Vec<f32> = batch.states.sum((1, 2)).unwrap().to_vec1().unwrap();
        assert_eq!(sums, [8.0, 0.0]);
        assert_eq!(batch.labels.dims(), &[2, 4, 2]);
        assert_eq!(batch.inputs.dims(), &[2, 2, 4]);
    }

    #[test]
    fn epochs_keep_or_shuffle_the_order_and_the_last_batch_is_smaller() {
        let examples: Vec<Example> = (0..5).map(|i| example(2, i)).collect();
        let first_code = |b: &Batch| b.labels.to_vec3::<u32>().unwrap()[0][0][0];
        let in_order = epoch_batches(&examples, &plan(2), 0, &Device::Cpu).unwrap();
        assert_eq!(in_order.len(), 3);
        assert_eq!(in_order[2].labels.dim(0).unwrap(), 1);
        let firsts: Vec<u32> = in_order.iter().map(first_code).collect();
        assert_eq!(firsts, [0, 2, 4]);
        let shuffled = BatchPlan {
            shuffle_seed: Some(3),
            ..plan(1)
        };
        let orders: Vec<Vec<u32>> = (0..3)
            .map(|epoch| {
                epoch_batches(&examples, &shuffled, epoch, &Device::Cpu)
                    .unwrap()
                    .iter()
                    .map(first_code)
                    .collect()
            })
            .collect();
        assert!(orders.iter().any(|o| *o != [0, 1, 2, 3, 4]), "{orders:?}");
        assert_ne!(orders[0], orders[1], "each epoch its own order");
        let again = epoch_batches(&examples, &shuffled, 1, &Device::Cpu).unwrap();
        assert_eq!(again.iter().map(first_code).collect::<Vec<_>>(), orders[1]);
    }

    #[test]
    fn condition_dropout_follows_its_probability() {
        let examples: Vec<Example> = (0..400).map(|i| example(2, i % 7)).collect();
        let dropping = BatchPlan {
            cfg_dropout: 0.25,
            ..plan(400)
        };
        let batch = &epoch_batches(&examples, &dropping, 0, &Device::Cpu).unwrap()[0];
        let rows: Vec<f32> = batch.mask.sum(1).unwrap().to_vec1().unwrap();
        let dropped = rows.iter().filter(|&&m| m == 0.0).count();
        assert!((70..=130).contains(&dropped), "{dropped} of 400 dropped");
    }
}
