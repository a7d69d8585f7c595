//! Attention of one new position over the cached keys and values, on the CPU: per (batch, head),
//! the scores, their softmax and the weighted sum of values, read in place from the cache
//! buffers, with an optional additive per-key bias (Falcon-RW's ALiBi and padding mask). A
//! decoder step needs exactly this, and batched matrix products over the growing, strided cache
//! cost several times more.

use candle_core::{DType, Result, Storage, Tensor};
use rayon::prelude::*;

use crate::gemv::dot_for_this_cpu;

/// `softmax(q·Kᵀ + bias)·V` for `q` (b, h, 1, d), over the first `len` positions of the
/// contiguous cache buffers `keys` and `values` (b, h, capacity, d); `q` is expected already
/// scaled. `bias`, when given, is an additive per-key score bias (b, h, len), such as ALiBi plus
/// a padding mask; a key whose bias is −∞ is left out. `None` unless everything is f32 on the
/// CPU and, with a bias, every (batch, head) can see at least one key.
pub fn single_query(
    q: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    len: usize,
    bias: Option<&[f32]>,
) -> Result<Option<Tensor>> {
    let (b, h, one, d) = q.dims4()?;
    let (kb, kh, capacity, kd) = keys.dims4()?;
    let bias_fits = bias.is_none_or(|bias| {
        bias.len() == b * h * len
            && bias
                .chunks(len)
                .all(|row| row.iter().any(|v| v.is_finite()))
    });
    let usable = one == 1
        && (kb, kh, kd) == (b, h, d)
        && keys.dims() == values.dims()
        && len <= capacity
        && len > 0
        && bias_fits
        && [q, keys, values]
            .iter()
            .all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
        && keys.is_contiguous()
        && values.is_contiguous();
    if !usable {
        return Ok(None);
    }
    let q: Vec<f32> = q.flatten_all()?.to_vec1()?;
    let (k_storage, k_layout) = keys.storage_and_layout();
    let (v_storage, v_layout) = values.storage_and_layout();
    let (Storage::Cpu(k_cpu), Storage::Cpu(v_cpu)) = (&*k_storage, &*v_storage) else {
        return Ok(None);
    };
    let k_all = &k_cpu.as_slice::<f32>()?[k_layout.start_offset()..];
    let v_all = &v_cpu.as_slice::<f32>()?[v_layout.start_offset()..];
    let dot = dot_for_this_cpu();
    let mut out = vec![0f32; b * h * d];
    out.par_chunks_mut(d).enumerate().for_each(|(bh, out)| {
        let base = bh * capacity * d;
        let query = &q[bh * d..(bh + 1) * d];
        let bias = bias.map(|bias| &bias[bh * len..(bh + 1) * len]);
        let row = |t: usize| base + t * d..base + (t + 1) * d;
        let score = |t: usize| match bias {
            None => dot(query, &k_all[row(t)]),
            Some(bias) if bias[t].is_finite() => dot(query, &k_all[row(t)]) + bias[t],
            Some(_) => f32::NEG_INFINITY,
        };
        let mut weights: Vec<f32> = (0..len).map(score).collect();
        let max = weights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0f32;
        for w in &mut weights {
            *w = (*w - max).exp();
            total += *w;
        }
        for (t, w) in weights.iter().enumerate() {
            // A left-out key (and one whose weight underflowed) adds nothing.
            if *w == 0.0 {
                continue;
            }
            let p = w / total;
            for (o, v) in out.iter_mut().zip(&v_all[row(t)]) {
                *o += p * v;
            }
        }
    });
    Ok(Some(Tensor::from_vec(out, (b, h, 1, d), keys.device())?))
}

#[cfg(test)]
mod tests {
    use candle_core::{D, Device};

    use super::*;
    use crate::test_util::max_abs_diff;

    #[test]
    fn equals_softmax_attention_over_the_filled_positions() {
        let device = Device::Cpu;
        let (b, h, capacity, d, len) = (2, 3, 10, 8, 7);
        let q = Tensor::randn(0f32, 1., (b, h, 1, d), &device).unwrap();
        let keys = Tensor::randn(0f32, 1., (b, h, capacity, d), &device).unwrap();
        let values = Tensor::randn(0f32, 1., (b, h, capacity, d), &device).unwrap();
        let fast = single_query(&q, &keys, &values, len, None)
            .unwrap()
            .unwrap();
        let k = keys.narrow(2, 0, len).unwrap();
        let v = values.narrow(2, 0, len).unwrap();
        let scores = q.matmul(&k.t().unwrap()).unwrap();
        let probs = candle_nn::ops::softmax(&scores, D::Minus1).unwrap();
        let slow = probs.matmul(&v.contiguous().unwrap()).unwrap();
        let diff = max_abs_diff(&fast, &slow);
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn equals_biased_softmax_attention_and_skips_masked_keys() {
        let device = Device::Cpu;
        let (b, h, capacity, d, len) = (2, 3, 10, 8, 7);
        let q = Tensor::randn(0f32, 1., (b, h, 1, d), &device).unwrap();
        let keys = Tensor::randn(0f32, 1., (b, h, capacity, d), &device).unwrap();
        let values = Tensor::randn(0f32, 1., (b, h, capacity, d), &device).unwrap();
        let mut bias: Vec<f32> = (0..b * h * len).map(|i| (i % 5) as f32 * 0.3).collect();
        // Row 1 cannot see its first two keys (left padding).
        for head in 0..h {
            for t in 0..2 {
                bias[(h + head) * len + t] = f32::NEG_INFINITY;
            }
        }
        let fast = single_query(&q, &keys, &values, len, Some(&bias))
            .unwrap()
            .unwrap();
        let finite: Vec<f32> = bias.iter().map(|v| v.max(-1e30)).collect();
        let bias_t = Tensor::from_vec(finite, (b, h, 1, len), &device).unwrap();
        let k = keys.narrow(2, 0, len).unwrap();
        let v = values.narrow(2, 0, len).unwrap().contiguous().unwrap();
        let scores = (q.matmul(&k.t().unwrap()).unwrap() + bias_t).unwrap();
        let probs = candle_nn::ops::softmax_last_dim(&scores).unwrap();
        let slow = probs.matmul(&v).unwrap();
        let diff = max_abs_diff(&fast, &slow);
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn declines_a_row_that_sees_nothing() {
        let device = Device::Cpu;
        let q = Tensor::zeros((1, 1, 1, 4), DType::F32, &device).unwrap();
        let kv = Tensor::zeros((1, 1, 3, 4), DType::F32, &device).unwrap();
        let bias = [f32::NEG_INFINITY; 2];
        assert!(
            single_query(&q, &kv, &kv, 2, Some(&bias))
                .unwrap()
                .is_none()
        );
    }
}
