//! Products of a few activation rows with a large weight matrix on the CPU, as one decoder step
//! needs them (two rows with guidance): each weight row is read once and dotted with every
//! activation row, split over the cores (candle's barrier pool, see [`crate::kernels::cpu_pool`]).
//! General matrix kernels pack the weights on every call, which costs more memory traffic than
//! the product itself at this shape.

use candle_core::{DType, Result, Storage, Tensor};

/// Up to this many activation rows, the row-streaming product beats packing for gemm.
pub const MAX_ROWS: usize = 8;

/// `xs · weightᵀ` for `xs` (rows, in) and `weight` (out, in), when both are contiguous f32 on
/// the CPU and there are at most [`MAX_ROWS`] rows; `None` otherwise.
pub fn rows_times_weight_t(xs: &Tensor, weight: &Tensor) -> Result<Option<Tensor>> {
    let (rows, input) = xs.dims2()?;
    let (output, weight_input) = weight.dims2()?;
    let usable = rows <= MAX_ROWS
        && input == weight_input
        && weight.device().is_cpu()
        && weight.dtype() == DType::F32
        && xs.dtype() == DType::F32
        && weight.is_contiguous();
    if !usable {
        return Ok(None);
    }
    let xs: Vec<f32> = xs.flatten_all()?.to_vec1()?;
    let (storage, layout) = weight.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Ok(None);
    };
    let start = layout.start_offset();
    let weights = &cpu.as_slice::<f32>()?[start..start + output * input];
    // out is laid out (output, rows) while computing, so each task writes one contiguous run.
    let mut out = vec![0f32; output * rows];
    const ROWS_PER_TASK: usize = 64;
    let dot = dot_for_this_cpu();
    crate::kernels::cpu_pool::for_each_chunk_mut(&mut out, ROWS_PER_TASK * rows, |task, chunk| {
        let first = task * ROWS_PER_TASK;
        for (i, results) in chunk.chunks_mut(rows).enumerate() {
            let w = &weights[(first + i) * input..(first + i + 1) * input];
            for (r, result) in results.iter_mut().enumerate() {
                *result = dot(w, &xs[r * input..(r + 1) * input]);
            }
        }
    });
    let out = Tensor::from_vec(out, (output, rows), weight.device())?;
    Ok(Some(out.t()?.contiguous()?))
}

/// The fastest dot product this CPU runs: AVX2 with fused multiply-add where present.
pub(crate) fn dot_for_this_cpu() -> fn(&[f32], &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return dot_avx2_fma;
    }
    dot_portable
}

#[cfg(target_arch = "x86_64")]
fn dot_avx2_fma(a: &[f32], b: &[f32]) -> f32 {
    #[target_feature(enable = "avx2,fma")]
    fn inner(a: &[f32], b: &[f32]) -> f32 {
        dot_lanes::<true>(a, b)
    }
    // SAFETY: only handed out by `dot_for_this_cpu` after checking that the CPU has AVX2 and FMA.
    #[allow(unsafe_code)]
    unsafe {
        inner(a, b)
    }
}

fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<false>(a, b)
}

/// A dot product written so the compiler vectorises it (16 independent partial sums); `FUSED`
/// uses `mul_add`, which is one instruction only where FMA is enabled.
#[inline(always)]
pub(crate) fn dot_lanes<const FUSED: bool>(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut sums = [0f32; LANES];
    let chunks = a.len() / LANES;
    for (ca, cb) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for lane in 0..LANES {
            sums[lane] = if FUSED {
                ca[lane].mul_add(cb[lane], sums[lane])
            } else {
                sums[lane] + ca[lane] * cb[lane]
            };
        }
    }
    let mut total: f32 = sums.iter().sum();
    for i in chunks * LANES..a.len() {
        total += a[i] * b[i];
    }
    total
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::test_util::max_abs_diff;

    #[test]
    fn equals_the_matrix_product() {
        let device = Device::Cpu;
        let xs = Tensor::randn(0f32, 1., (2, 37), &device).unwrap();
        let weight = Tensor::randn(0f32, 1., (131, 37), &device).unwrap();
        let fast = rows_times_weight_t(&xs, &weight).unwrap().unwrap();
        let slow = xs.matmul(&weight.t().unwrap()).unwrap();
        let diff = max_abs_diff(&fast, &slow);
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn every_dot_product_agrees() {
        let a: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..100).map(|i| (i as f32 * 0.11).cos()).collect();
        let exact: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum();
        for dot in [dot_portable, dot_for_this_cpu()] {
            assert!((f64::from(dot(&a, &b)) - exact).abs() < 1e-4);
        }
    }

    #[test]
    fn declines_what_it_is_not_for() {
        let device = Device::Cpu;
        let weight = Tensor::zeros((4, 8), DType::F32, &device).unwrap();
        let many = Tensor::zeros((MAX_ROWS + 1, 8), DType::F32, &device).unwrap();
        assert!(rows_times_weight_t(&many, &weight).unwrap().is_none());
        let half = Tensor::zeros((1, 8), DType::F16, &device).unwrap();
        assert!(rows_times_weight_t(&half, &weight).unwrap().is_none());
    }
}

#[cfg(test)]
mod speed {
    use std::time::Instant;

    use candle_core::{Device, Module, Tensor};

    use super::*;

    /// Prints the weight-read bandwidth of both paths; run with
    /// `cargo test --release -p ekphrasis-models gemv -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn print_bandwidth() {
        let device = Device::Cpu;
        let xs = Tensor::randn(0f32, 1., (2, 1024), &device).unwrap();
        let weight = Tensor::randn(0f32, 1., (4096, 1024), &device).unwrap();
        let bytes = 4096.0 * 1024.0 * 4.0;
        for (name, fast) in [("row streaming", true), ("candle matmul", false)] {
            let run = || {
                if fast {
                    rows_times_weight_t(&xs, &weight).unwrap().unwrap()
                } else {
                    xs.matmul(&weight.t().unwrap()).unwrap()
                }
            };
            run();
            let started = Instant::now();
            let n = 200;
            for _ in 0..n {
                run();
            }
            let seconds = started.elapsed().as_secs_f64() / n as f64;
            println!(
                "{name}: {:.2} ms, {:.1} GB/s",
                seconds * 1e3,
                bytes / seconds / 1e9
            );
        }
        let linear = candle_nn::Linear::new(weight.clone(), None);
        let xs3 = xs.unsqueeze(1).unwrap();
        let started = Instant::now();
        for _ in 0..200 {
            linear.forward(&xs3).unwrap();
        }
        let seconds = started.elapsed().as_secs_f64() / 200.0;
        println!(
            "candle_nn::Linear (2,1,1024): {:.2} ms, {:.1} GB/s",
            seconds * 1e3,
            bytes / seconds / 1e9
        );
    }
}
