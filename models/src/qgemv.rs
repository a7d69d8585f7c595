//! The CPU product of activation rows with a weight matrix kept in ggml's quantized blocks (q8_0,
//! q4_K), through candle's block types and dot kernels. Each weight row is read from memory once
//! per call and dotted with every activation row while it is in cache, and the rows are shared out
//! over rayon's pool: the same threads as [`crate::gemv`], so a decoder step never wakes a second
//! pool that spins while the first one works (on two cores that halves the speed).

use candle_core::quantized::k_quants::{BlockQ4K, BlockQ8_0, GgmlType};
use candle_core::{DType, Device, Result, Tensor};
use rayon::prelude::*;

/// Weight rows one rayon task takes: a few hundred KB of q8_0 at the decoder's widths, enough to
/// amortise the task, small enough that both cores stay busy to the end.
const ROWS_PER_TASK: usize = 32;

/// A block format for weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockFormat {
    /// 8-bit values in blocks of 32 with one scale (ggml's q8_0), 8.5 bits a weight.
    Q8_0,
    /// 4-bit k-quants in super-blocks of 256 (ggml's q4_K), 4.5 bits a weight.
    Q4K,
}

impl BlockFormat {
    /// How many weights one block holds; a row's length must be a multiple of it.
    pub fn block_len(self) -> usize {
        match self {
            BlockFormat::Q8_0 => BlockQ8_0::BLCK_SIZE,
            BlockFormat::Q4K => BlockQ4K::BLCK_SIZE,
        }
    }
}

#[derive(Debug, Clone)]
enum Blocks {
    Q8_0(Vec<BlockQ8_0>),
    Q4K(Vec<BlockQ4K>),
}

/// A weight matrix (rows × cols, as a linear layer stores it) in quantized blocks, row by row.
#[derive(Debug, Clone)]
pub struct QuantizedMatrix {
    blocks: Blocks,
    rows: usize,
    cols: usize,
}

impl QuantizedMatrix {
    /// Quantizes a (rows, cols) weight of any float dtype.
    pub fn quantize(weight: &Tensor, format: BlockFormat) -> Result<Self> {
        let (rows, cols) = weight.dims2()?;
        let block = format.block_len();
        if cols % block != 0 {
            candle_core::bail!(
                "a row of {cols} weights does not split into {format:?} blocks of {block}"
            );
        }
        let values: Vec<f32> = weight.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let blocks = match format {
            BlockFormat::Q8_0 => Blocks::Q8_0(quantize_rows(&values, rows * cols / block)),
            BlockFormat::Q4K => Blocks::Q4K(quantize_rows(&values, rows * cols / block)),
        };
        Ok(Self { blocks, rows, cols })
    }

    /// The weight's (rows, cols).
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// `xs · Wᵀ` for `xs` (m, cols) on the CPU, any float dtype; returns (m, rows) in f32.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (m, cols) = xs.dims2()?;
        if cols != self.cols {
            candle_core::bail!(
                "input rows of {cols} values for a weight of {} columns",
                self.cols
            );
        }
        let values: Vec<f32> = xs.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let by_weight_row = match &self.blocks {
            Blocks::Q8_0(blocks) => products(blocks, self.cols, &values, m),
            Blocks::Q4K(blocks) => products(blocks, self.cols, &values, m),
        };
        // (rows, m) → (m, rows)
        let mut out = vec![0f32; m * self.rows];
        for (r, products) in by_weight_row.chunks_exact(m).enumerate() {
            for (i, value) in products.iter().enumerate() {
                out[i * self.rows + r] = *value;
            }
        }
        Tensor::from_vec(out, (m, self.rows), &Device::Cpu)
    }
}

fn quantize_rows<T: GgmlType>(values: &[f32], blocks: usize) -> Vec<T> {
    let mut out = vec![T::zeros(); blocks];
    T::from_float(values, &mut out);
    out
}

/// Every weight row's dot product with every activation row, as (weight rows, m).
fn products<T: GgmlType>(weights: &[T], cols: usize, xs: &[f32], m: usize) -> Vec<f32> {
    let per_row = cols / T::BLCK_SIZE;
    let weight_rows = weights.len() / per_row;
    let mut activations = vec![T::VecDotType::zeros(); m * per_row];
    for (x, q) in xs
        .chunks_exact(cols)
        .zip(activations.chunks_exact_mut(per_row))
    {
        T::VecDotType::from_float(x, q);
    }
    let activation = |i: usize| &activations[i * per_row..(i + 1) * per_row];
    let weight = |r: usize| &weights[r * per_row..(r + 1) * per_row];
    let mut out = vec![0f32; weight_rows * m];
    out.par_chunks_mut(ROWS_PER_TASK * m)
        .enumerate()
        .for_each(|(task, out)| {
            let first = task * ROWS_PER_TASK;
            let rows = out.len() / m;
            let mut r = 0;
            // Four weight rows at a time share each activation load.
            while r + 4 <= rows {
                let w = first + r;
                for i in 0..m {
                    let (a, b, c, d) = T::vec_dot_4(
                        cols,
                        weight(w),
                        weight(w + 1),
                        weight(w + 2),
                        weight(w + 3),
                        activation(i),
                    );
                    out[r * m + i] = a;
                    out[(r + 1) * m + i] = b;
                    out[(r + 2) * m + i] = c;
                    out[(r + 3) * m + i] = d;
                }
                r += 4;
            }
            for r in r..rows {
                for i in 0..m {
                    out[r * m + i] = T::vec_dot(cols, weight(first + r), activation(i));
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize, cols: usize, seed: f32) -> Tensor {
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| (i as f32 * 0.37 + seed).sin() * 0.5)
            .collect();
        Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap()
    }

    /// The product equals candle's own quantized matrix product (same blocks, same kernels), up
    /// to the order of the float additions.
    #[test]
    fn equals_candles_quantized_product() {
        use candle_core::Module;
        use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
        for (format, ggml) in [
            (BlockFormat::Q8_0, GgmlDType::Q8_0),
            (BlockFormat::Q4K, GgmlDType::Q4K),
        ] {
            for m in [1, 2, 5, 9] {
                let (rows, cols) = (37, 512);
                let weight = matrix(rows, cols, 1.0);
                let xs = matrix(m, cols, 2.0);
                let got = QuantizedMatrix::quantize(&weight, format)
                    .unwrap()
                    .forward(&xs)
                    .unwrap();
                let candle = QMatMul::from_qtensor(QTensor::quantize(&weight, ggml).unwrap())
                    .unwrap()
                    .forward(&xs)
                    .unwrap();
                assert_eq!(got.dims(), &[m, rows]);
                let scale = candle
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let diff = (got - &candle)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                assert!(
                    diff <= 1e-5 * scale.max(1.0),
                    "{format:?}, m = {m}: off by {diff}"
                );
            }
        }
    }

    #[test]
    fn refuses_rows_that_do_not_fill_blocks() {
        let weight = matrix(4, 100, 0.0);
        assert!(QuantizedMatrix::quantize(&weight, BlockFormat::Q4K).is_err());
        let quantized = QuantizedMatrix::quantize(&matrix(4, 256, 0.0), BlockFormat::Q8_0).unwrap();
        assert!(quantized.forward(&matrix(1, 128, 0.0)).is_err());
    }
}
