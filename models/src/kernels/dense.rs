//! A dense layer (`nn.Linear`) over inputs of any rank, for BLIP, Falcon-RW and MusicGen: all
//! rows in one matrix product, so the weights are read once per call; on the CPU a decoder step's
//! few rows take the row-streaming product of [`crate::kernels::gemv`]. Its weights can be stored
//! quantized (candle's q8_0 / q4_K matrix products), which on a CPU trades a little quality for
//! much less memory traffic. On CPUs with AVX2 (FMA, F16C) or AVX-512 VNNI, q4_K weights take
//! this project's own packed product ([`crate::kernels::packed_q4k`]), which reads fewer bytes
//! than candle's.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

use crate::kernels::packed_q4k::{self, PackedQ4K};

/// How a layer's weight matrix is stored when quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantization {
    /// 8-bit blocks of 32 (ggml's q8_0).
    Q8_0,
    /// 4-bit k-quants in blocks of 256 (ggml's q4_K).
    Q4K,
}

impl Quantization {
    fn ggml(self) -> GgmlDType {
        match self {
            Quantization::Q8_0 => GgmlDType::Q8_0,
            Quantization::Q4K => GgmlDType::Q4K,
        }
    }

    /// How many weights one block holds: a row's length must be a multiple of it.
    pub fn block_len(self) -> usize {
        self.ggml().block_size()
    }
}

/// Its name as the flags spell it (`q8_0`, `q4k`).
impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Quantization::Q8_0 => "q8_0",
            Quantization::Q4K => "q4k",
        })
    }
}

impl std::str::FromStr for Quantization {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "q8_0" | "q8" => Ok(Quantization::Q8_0),
            "q4k" | "q4_k" => Ok(Quantization::Q4K),
            other => Err(format!("unknown quantization `{other}`: use q8_0 or q4k")),
        }
    }
}

#[derive(Debug, Clone)]
enum Weight {
    Float(Tensor),
    Quantized(QMatMul, Quantization),
    PackedQ4K(PackedQ4K),
}

/// `xs · weightᵀ + bias`, weights as stored (`out × in`).
#[derive(Debug, Clone)]
pub struct Dense {
    weight: Weight,
    bias: Option<Tensor>,
}

impl Dense {
    /// Loads `weight` (out, in) and, when `bias` is set, `bias` (out) under `vb`.
    pub fn new(input: usize, output: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get((output, input), "weight")?;
        let bias = bias.then(|| vb.get(output, "bias")).transpose()?;
        Ok(Self::from_weights(weight, bias))
    }

    /// A layer from given tensors (a tied head).
    pub fn from_weights(weight: Tensor, bias: Option<Tensor>) -> Self {
        Self {
            weight: Weight::Float(weight),
            bias,
        }
    }

    /// Stores the weight matrix quantized (a no-op when it already is); the bias stays.
    pub fn quantize(&mut self, quantization: Quantization) -> Result<()> {
        if let Weight::Float(weight) = &self.weight {
            let (block, input) = (quantization.block_len(), weight.dim(1)?);
            if input % block != 0 {
                candle_core::bail!(
                    "{quantization:?} stores rows in blocks of {block} weights, and this model's \
                     rows have {input}: use q8_0, or no quantization"
                );
            }
            let quantized = QTensor::quantize(&weight.to_dtype(DType::F32)?, quantization.ggml())?;
            let (output, input) = weight.dims2()?;
            self.weight = if quantization == Quantization::Q4K
                && weight.device().is_cpu()
                && packed_q4k::available()
                && packed_q4k::fits(output, input)
            {
                Weight::PackedQ4K(PackedQ4K::from_qtensor(&quantized)?)
            } else {
                Weight::Quantized(QMatMul::from_qtensor(quantized)?, quantization)
            };
        }
        Ok(())
    }

    /// How its weight matrix is stored: `None` as loaded (a float type).
    pub fn quantization(&self) -> Option<Quantization> {
        match &self.weight {
            Weight::Float(_) => None,
            Weight::Quantized(_, quantization) => Some(*quantization),
            Weight::PackedQ4K(_) => Some(Quantization::Q4K),
        }
    }

    /// The bytes of its weights and bias, all read once per call.
    pub fn weight_bytes(&self) -> usize {
        let bias = self
            .bias
            .as_ref()
            .map_or(0, |b| b.elem_count() * b.dtype().size_in_bytes());
        let weight = match &self.weight {
            Weight::Float(w) => w.elem_count() * w.dtype().size_in_bytes(),
            Weight::Quantized(QMatMul::QTensor(q), _) => q.storage_size_in_bytes(),
            Weight::Quantized(QMatMul::Tensor(w) | QMatMul::TensorF16(w), _) => {
                w.elem_count() * w.dtype().size_in_bytes()
            }
            Weight::PackedQ4K(packed) => packed.bytes(),
        };
        weight + bias
    }
}

impl Module for Dense {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let dims = xs.dims();
        let (input, lead) = match dims.split_last() {
            Some((input, lead)) => (*input, lead),
            None => candle_core::bail!("a dense layer needs at least one dimension"),
        };
        let rows: usize = lead.iter().product();
        let flat = xs.reshape((rows, input))?;
        let out = match &self.weight {
            Weight::Float(weight) => {
                match crate::kernels::gemv::rows_times_weight_t(&flat, weight)? {
                    Some(out) => out,
                    None => flat.matmul(&weight.t()?)?,
                }
            }
            Weight::Quantized(matmul, _) => matmul
                .forward(&flat.to_dtype(DType::F32)?)?
                .to_dtype(flat.dtype())?,
            Weight::PackedQ4K(packed) => {
                let xs: Vec<f32> = flat.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                let out = packed.matmul(&xs, rows)?;
                Tensor::from_vec(out, (rows, packed.rows()), flat.device())?
                    .to_dtype(flat.dtype())?
            }
        };
        let out = match &self.bias {
            Some(bias) => out.broadcast_add(bias)?,
            None => out,
        };
        let mut shape = lead.to_vec();
        shape.push(out.dim(1)?);
        out.reshape(shape)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::test_util::{max_abs, max_abs_diff};

    #[test]
    fn quantized_weights_stay_close_to_the_float_product_and_read_fewer_bytes() {
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 0.05, (64, 256), &device).unwrap();
        let bias = Tensor::randn(0f32, 1., 64, &device).unwrap();
        let float = Dense::from_weights(weight, Some(bias));
        let xs = Tensor::randn(0f32, 1., (3, 256), &device).unwrap();
        let want = float.forward(&xs).unwrap();
        let scale = max_abs(&want);
        // The activations are quantized to 8 bits too, so q8_0 is off by about 1 %.
        for (quantization, tolerance) in [(Quantization::Q8_0, 0.03), (Quantization::Q4K, 0.15)] {
            let mut quantized = float.clone();
            quantized.quantize(quantization).unwrap();
            let diff = max_abs_diff(&quantized.forward(&xs).unwrap(), &want) / scale;
            assert!(
                diff < tolerance,
                "{quantization:?}: {diff} of the largest output"
            );
            assert!(quantized.weight_bytes() < float.weight_bytes() / 3);
        }
    }

    #[test]
    fn equals_the_plain_product_for_few_and_many_rows() {
        let device = Device::Cpu;
        let weight = Tensor::randn(0f32, 1., (7, 5), &device).unwrap();
        let bias = Tensor::randn(0f32, 1., 7, &device).unwrap();
        let dense = Dense::from_weights(weight.clone(), Some(bias.clone()));
        for rows in [1, 3, 40] {
            let xs = Tensor::randn(0f32, 1., (1, rows, 5), &device).unwrap();
            let got = dense.forward(&xs).unwrap();
            let want = xs
                .squeeze(0)
                .unwrap()
                .matmul(&weight.t().unwrap())
                .unwrap()
                .broadcast_add(&bias)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let diff = max_abs_diff(&got, &want);
            assert!(diff < 1e-5, "{rows} rows: {diff}");
        }
    }
}
