//! Attention of one new position over the cached keys and values, on the CPU: per (batch, head),
//! the scores, their softmax and the weighted sum of values, read in place from the cache
//! buffers, with an optional additive per-key bias (Falcon-RW's ALiBi and padding mask). A
//! decoder step needs exactly this, and batched matrix products over the growing, strided cache
//! cost several times more.

use candle_core::{DType, Result, Storage, Tensor};

use crate::gemv::dot_lanes;

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
    let attend = attend_one_for_this_cpu();
    let mut out = vec![0f32; b * h * d];
    crate::cpu_pool::for_each_chunk_mut(&mut out, d, |bh, out| {
        let base = bh * capacity * d;
        let head = Head {
            query: &q[bh * d..(bh + 1) * d],
            keys: &k_all[base..base + len * d],
            values: &v_all[base..base + len * d],
            bias: bias.map(|bias| &bias[bh * len..(bh + 1) * len]),
        };
        attend(&head, out);
    });
    Ok(Some(Tensor::from_vec(out, (b, h, 1, d), keys.device())?))
}

/// One (batch, head) of a single-query attention: its query, its `len` keys and values (rows of
/// `d`), and the optional per-key bias.
struct Head<'a> {
    query: &'a [f32],
    keys: &'a [f32],
    values: &'a [f32],
    bias: Option<&'a [f32]>,
}

/// The fastest per-head attention this CPU runs: AVX2 with fused multiply-add where present.
fn attend_one_for_this_cpu() -> fn(&Head, &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return attend_one_avx2_fma;
    }
    attend_one::<false>
}

#[cfg(target_arch = "x86_64")]
fn attend_one_avx2_fma(head: &Head, out: &mut [f32]) {
    #[target_feature(enable = "avx2,fma")]
    fn inner(head: &Head, out: &mut [f32]) {
        attend_one::<true>(head, out)
    }
    // SAFETY: only handed out by `attend_one_for_this_cpu` after checking for AVX2 and FMA.
    #[allow(unsafe_code)]
    unsafe {
        inner(head, out)
    }
}

/// `out = softmax(query·keysᵀ + bias)·values`, written so the compiler vectorises it; `FUSED`
/// uses `mul_add`, one instruction only where FMA is enabled.
#[inline(always)]
fn attend_one<const FUSED: bool>(head: &Head, out: &mut [f32]) {
    let d = head.query.len();
    // Plain loops, not closures: a closure would not inherit the caller's target features.
    let mut weights = Vec::with_capacity(head.keys.len() / d);
    for (t, key) in head.keys.chunks_exact(d).enumerate() {
        weights.push(match head.bias {
            None => dot_lanes::<FUSED>(head.query, key),
            Some(bias) if bias[t].is_finite() => dot_lanes::<FUSED>(head.query, key) + bias[t],
            Some(_) => f32::NEG_INFINITY,
        });
    }
    let mut max = f32::NEG_INFINITY;
    for w in &weights {
        max = max.max(*w);
    }
    let mut total = 0f32;
    for w in &mut weights {
        *w = (*w - max).exp();
        total += *w;
    }
    out.fill(0.0);
    for (w, value) in weights.iter().zip(head.values.chunks_exact(d)) {
        // A left-out key (and one whose weight underflowed) adds nothing.
        if *w == 0.0 {
            continue;
        }
        let p = w / total;
        for (o, v) in out.iter_mut().zip(value) {
            *o = if FUSED { v.mul_add(p, *o) } else { *o + p * v };
        }
    }
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
