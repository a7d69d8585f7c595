//! Attention of one new position over the cached keys and values, on the CPU: per (batch, head),
//! the scores, their softmax and the weighted sum of values, read in place from the cache
//! buffers, with an optional additive per-key bias (Falcon-RW's ALiBi and padding mask). A
//! decoder step needs exactly this, and batched matrix products over the growing, strided cache
//! cost several times more. The cache may hold f16: half the bytes to read at every step, widened
//! in registers (F16C) as they are used.

use candle_core::{DType, Result, Storage, Tensor};
use half::f16;

use crate::kernels::gemv::dot_lanes;

/// `softmax(q·Kᵀ + bias)·V` for `q` (b, h, 1, d), over the first `len` positions of the
/// contiguous cache buffers `keys` and `values` (b, h, capacity, d); `q` is expected already
/// scaled. `bias`, when given, is an additive per-key score bias (b, h, len), such as ALiBi plus
/// a padding mask; a key whose bias is −∞ is left out. `None` unless everything is on the CPU,
/// `q` is f32 and the cache f32 or f16, and, with a bias, every (batch, head) can see at least
/// one key.
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
        && [q, keys, values].iter().all(|t| t.device().is_cpu())
        && q.dtype() == DType::F32
        && matches!(keys.dtype(), DType::F32 | DType::F16)
        && values.dtype() == keys.dtype()
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
    let (k_start, v_start) = (k_layout.start_offset(), v_layout.start_offset());
    let mut out = vec![0f32; b * h * d];
    let shape = HeadShape { d, len, capacity };
    if keys.dtype() == DType::F16 {
        let keys = &k_cpu.as_slice::<f16>()?[k_start..];
        let values = &v_cpu.as_slice::<f16>()?[v_start..];
        let attend = attend_one_f16_for_this_cpu(d);
        every_head(&mut out, shape, &q, keys, values, bias, attend);
    } else {
        let keys = &k_cpu.as_slice::<f32>()?[k_start..];
        let values = &v_cpu.as_slice::<f32>()?[v_start..];
        every_head(
            &mut out,
            shape,
            &q,
            keys,
            values,
            bias,
            attend_one_for_this_cpu(),
        );
    }
    Ok(Some(Tensor::from_vec(out, (b, h, 1, d), keys.device())?))
}

/// Sizes of the cache buffers: values per head, filled positions, positions held.
#[derive(Clone, Copy)]
struct HeadShape {
    d: usize,
    len: usize,
    capacity: usize,
}

/// Runs `attend` for every (batch, head), split over the pool; `out` gets `d` values per head.
fn every_head<T: Sync>(
    out: &mut [f32],
    HeadShape { d, len, capacity }: HeadShape,
    q: &[f32],
    keys: &[T],
    values: &[T],
    bias: Option<&[f32]>,
    attend: fn(&Head<T>, &mut [f32]),
) {
    crate::kernels::cpu_pool::for_each_chunk_mut(out, d, |bh, out| {
        let base = bh * capacity * d;
        let head = Head {
            query: &q[bh * d..(bh + 1) * d],
            keys: &keys[base..base + len * d],
            values: &values[base..base + len * d],
            bias: bias.map(|bias| &bias[bh * len..(bh + 1) * len]),
        };
        attend(&head, out);
    });
}

/// One (batch, head) of a single-query attention: its query, its `len` keys and values (rows of
/// `d`, f32 or f16), and the optional per-key bias.
struct Head<'a, T> {
    query: &'a [f32],
    keys: &'a [T],
    values: &'a [T],
    bias: Option<&'a [f32]>,
}

/// Scores with the bias added (a key whose bias is −∞ scores −∞), then their softmax, in place.
#[inline(always)]
fn biased_softmax(weights: &mut [f32], bias: Option<&[f32]>) {
    if let Some(bias) = bias {
        for (w, b) in weights.iter_mut().zip(bias) {
            *w = if b.is_finite() {
                *w + b
            } else {
                f32::NEG_INFINITY
            };
        }
    }
    let mut max = f32::NEG_INFINITY;
    for w in weights.iter() {
        max = max.max(*w);
    }
    let mut total = 0f32;
    for w in weights.iter_mut() {
        *w = (*w - max).exp();
        total += *w;
    }
    for w in weights.iter_mut() {
        *w /= total;
    }
}

/// The per-head attention over an f16 cache: AVX2, FMA and F16C for heads of 64 (every model
/// here), else the f32 code on widened copies.
fn attend_one_f16_for_this_cpu(d: usize) -> fn(&Head<f16>, &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if d == f16_head::D
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
    {
        return f16_head::attend;
    }
    let _ = d;
    attend_one_widened
}

fn attend_one_widened(head: &Head<f16>, out: &mut [f32]) {
    let widen = |rows: &[f16]| rows.iter().map(|v| v.to_f32()).collect::<Vec<f32>>();
    let (keys, values) = (widen(head.keys), widen(head.values));
    let widened = Head {
        query: head.query,
        keys: &keys,
        values: &values,
        bias: head.bias,
    };
    attend_one::<false>(&widened, out)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod f16_head {
    use std::arch::x86_64::*;

    use half::f16;

    use super::{Head, biased_softmax};

    /// The head size this kernel is written for: eight registers of eight.
    pub(super) const D: usize = 64;

    /// Safe entry point, handed out only after checking for AVX2, FMA and F16C and `d == 64`.
    pub(super) fn attend(head: &Head<f16>, out: &mut [f32]) {
        assert!(head.query.len() == D && out.len() == D);
        assert!(head.keys.len() == head.values.len() && head.keys.len().is_multiple_of(D));
        // SAFETY: the CPU has the features (see `attend_one_f16_for_this_cpu`), and the
        // assertions above bound every load and store below.
        unsafe { attend_64(head, out) }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn attend_64(head: &Head<f16>, out: &mut [f32]) {
        let len = head.keys.len() / D;
        let mut query = [_mm256_setzero_ps(); 8];
        for (c, q) in query.iter_mut().enumerate() {
            // SAFETY: the query holds `D` = 8 × 8 values.
            *q = unsafe { _mm256_loadu_ps(head.query.as_ptr().add(8 * c)) };
        }
        // Plain loops and functions, not closures: a closure would not inherit the target
        // features, and each intrinsic would become a call.
        let mut weights = vec![0f32; len];
        for (t, w) in weights.iter_mut().enumerate() {
            let mut even = _mm256_mul_ps(query[0], row(head.keys, t * D));
            let mut odd = _mm256_mul_ps(query[1], row(head.keys, t * D + 8));
            for c in (2..8).step_by(2) {
                even = _mm256_fmadd_ps(query[c], row(head.keys, t * D + 8 * c), even);
                odd = _mm256_fmadd_ps(query[c + 1], row(head.keys, t * D + 8 * (c + 1)), odd);
            }
            let sum = _mm256_add_ps(even, odd);
            let half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
            let pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
            *w = _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)));
        }
        biased_softmax(&mut weights, head.bias);
        let mut sum = [_mm256_setzero_ps(); 8];
        for (t, w) in weights.iter().enumerate() {
            // A left-out key (and one whose weight underflowed) adds nothing.
            if *w == 0.0 {
                continue;
            }
            let p = _mm256_set1_ps(*w);
            for (c, s) in sum.iter_mut().enumerate() {
                *s = _mm256_fmadd_ps(p, row(head.values, t * D + 8 * c), *s);
            }
        }
        for (c, s) in sum.iter().enumerate() {
            // SAFETY: `out` holds `D` = 8 × 8 values.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(8 * c), *s) };
        }
    }

    /// Eight f16 values from `at` widened to f32.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    fn row(rows: &[f16], at: usize) -> __m256 {
        assert!(at + 8 <= rows.len());
        // SAFETY: eight values from `at`, inside `rows` (asserted).
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(rows.as_ptr().add(at) as *const __m128i)) }
    }
}

/// The fastest per-head attention this CPU runs: AVX2 with fused multiply-add where present.
fn attend_one_for_this_cpu() -> fn(&Head<f32>, &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return attend_one_avx2_fma;
    }
    attend_one::<false>
}

#[cfg(target_arch = "x86_64")]
fn attend_one_avx2_fma(head: &Head<f32>, out: &mut [f32]) {
    #[target_feature(enable = "avx2,fma")]
    fn inner(head: &Head<f32>, out: &mut [f32]) {
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
fn attend_one<const FUSED: bool>(head: &Head<f32>, out: &mut [f32]) {
    let d = head.query.len();
    // Plain loops, not closures: a closure would not inherit the caller's target features.
    let mut weights = Vec::with_capacity(head.keys.len() / d);
    for key in head.keys.chunks_exact(d) {
        weights.push(dot_lanes::<FUSED>(head.query, key));
    }
    biased_softmax(&mut weights, head.bias);
    out.fill(0.0);
    for (p, value) in weights.iter().zip(head.values.chunks_exact(d)) {
        // A left-out key (and one whose weight underflowed) adds nothing.
        if *p == 0.0 {
            continue;
        }
        for (o, v) in out.iter_mut().zip(value) {
            *o = if FUSED { v.mul_add(*p, *o) } else { *o + p * v };
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
    fn an_f16_cache_gives_the_attention_of_its_rounded_values() {
        let device = Device::Cpu;
        let (b, h, capacity, d, len) = (2, 2, 80, 64, 70);
        let q = Tensor::randn(0f32, 1., (b, h, 1, d), &device).unwrap();
        let keys = Tensor::randn(0f32, 1., (b, h, capacity, d), &device).unwrap();
        let values = Tensor::randn(0f32, 1., (b, h, capacity, d), &device).unwrap();
        let half = |t: &Tensor| t.to_dtype(DType::F16).unwrap();
        let (keys16, values16) = (half(&keys), half(&values));
        let mut bias: Vec<f32> = (0..b * h * len).map(|i| (i % 3) as f32 * 0.2).collect();
        bias[5] = f32::NEG_INFINITY;
        for bias in [None, Some(&bias[..])] {
            let fast = single_query(&q, &keys16, &values16, len, bias)
                .unwrap()
                .unwrap();
            let widened = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
            let exact = single_query(&q, &widened(&keys16), &widened(&values16), len, bias)
                .unwrap()
                .unwrap();
            let diff = max_abs_diff(&fast, &exact);
            assert!(diff < 1e-5, "{diff}");
            let unrounded = single_query(&q, &keys, &values, len, bias)
                .unwrap()
                .unwrap();
            assert!(max_abs_diff(&fast, &unrounded) < 1e-2);
        }
    }

    #[test]
    fn a_head_of_another_size_over_an_f16_cache_takes_the_widened_path() {
        let device = Device::Cpu;
        let (b, h, capacity, d, len) = (1, 3, 9, 12, 7);
        let q = Tensor::randn(0f32, 1., (b, h, 1, d), &device).unwrap();
        let keys = Tensor::randn(0f32, 1., (b, h, capacity, d), &device).unwrap();
        let values = Tensor::randn(0f32, 1., (b, h, capacity, d), &device).unwrap();
        let half = |t: &Tensor| t.to_dtype(DType::F16).unwrap();
        let widened = |t: &Tensor| half(t).to_dtype(DType::F32).unwrap();
        let fast = single_query(&q, &half(&keys), &half(&values), len, None)
            .unwrap()
            .unwrap();
        let exact = single_query(&q, &widened(&keys), &widened(&values), len, None)
            .unwrap()
            .unwrap();
        assert!(max_abs_diff(&fast, &exact) < 1e-6);
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
