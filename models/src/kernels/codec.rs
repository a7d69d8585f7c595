//! CPU kernels for EnCodec's upsampling stack, where candle's generic operations would copy and
//! allocate whole tensors several times over: the transposed convolution's overlap-add with its
//! trim and bias in one pass, and ELU, each split over candle's barrier pool, one channel row a
//! task. Both answer `None` where they do not apply (another device or dtype), and the caller
//! falls back to candle's operations.

use candle_core::{DType, Result, Storage, Tensor};

use crate::kernels::cpu_pool;

/// `cols` laid out `[batch, len, out_c, taps, stride]` (each input sample times the whole,
/// zero-padded kernel) summed into the transposed convolution's output `[batch, out_c,
/// len · stride]`: tap `j` of input sample `i` lands on full-output samples `(i + j) · stride ..`,
/// the full output is trimmed by `left` samples at the start, and `bias` (`out_c`) is added.
pub fn overlap_add(
    cols: &Tensor,
    (batch, len, out_c, taps, stride): (usize, usize, usize, usize, usize),
    left: usize,
    bias: &Tensor,
) -> Result<Option<Tensor>> {
    let span = taps * stride;
    let out_len = len * stride;
    let full_len = (len + taps - 1) * stride;
    if cols.elem_count() != batch * len * out_c * span || bias.elem_count() != out_c {
        candle_core::bail!("overlap-add: the columns or the bias do not have the stated shape");
    }
    let sum = |cols: &[f32], bias: &[f32]| {
        let mut out = vec![0f32; batch * out_c * out_len];
        cpu_pool::for_each_chunk_mut(&mut out, out_len, |row, out| {
            let (b, o) = (row / out_c, row % out_c);
            let mut full = vec![bias[o]; full_len];
            for i in 0..len {
                let at = ((b * len + i) * out_c + o) * span;
                let taps = &cols[at..at + span];
                for (sum, w) in full[i * stride..i * stride + span].iter_mut().zip(taps) {
                    *sum += w;
                }
            }
            out.copy_from_slice(&full[left..left + out_len]);
        });
        out
    };
    let out = match with_cpu_f32(cols, |cols| with_cpu_f32(bias, |bias| sum(cols, bias)))? {
        Some(inner) => inner?,
        None => None,
    };
    out.map(|out| Tensor::from_vec(out, (batch, out_c, out_len), cols.device()))
        .transpose()
}

/// ELU with α = 1 (`x` where positive, `eˣ − 1` elsewhere), one row of the last dimension a task.
pub fn elu(xs: &Tensor) -> Result<Option<Tensor>> {
    let row = xs.dims().last().copied().unwrap_or(1).max(1);
    let out = with_cpu_f32(xs, |values| {
        let mut out = values.to_vec();
        cpu_pool::for_each_chunk_mut(&mut out, row, |_, values| {
            for v in values.iter_mut().filter(|v| **v < 0.0) {
                *v = v.exp_m1();
            }
        });
        out
    })?;
    out.map(|out| Tensor::from_vec(out, xs.shape(), xs.device()))
        .transpose()
}

/// `f` of the values of a contiguous f32 CPU tensor, read in place; `None` for any other tensor.
fn with_cpu_f32<R>(xs: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<Option<R>> {
    if !xs.device().is_cpu() || xs.dtype() != DType::F32 || !xs.is_contiguous() {
        return Ok(None);
    }
    let (storage, layout) = xs.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Ok(None);
    };
    let start = layout.start_offset();
    Ok(Some(f(
        &cpu.as_slice::<f32>()?[start..start + xs.elem_count()]
    )))
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn elu_matches_candles() {
        let xs = Tensor::randn(0f32, 2.0, (2, 3, 37), &Device::Cpu).unwrap();
        let want: Vec<f32> = xs
            .elu(1.0)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let got: Vec<f32> = elu(&xs)
            .unwrap()
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (w, g) in want.iter().zip(&got) {
            assert!((w - g).abs() <= 1e-6 * w.abs().max(1.0), "{w} {g}");
        }
    }
}
