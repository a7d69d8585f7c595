//! A dense layer (`nn.Linear`) over inputs of any rank, for BLIP and Falcon-RW: all rows in one
//! matrix product, so the weights are read once per call; on the CPU a decoder step's few rows
//! take the row-streaming product of [`crate::gemv`].

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

/// `xs · weightᵀ + bias`, weights as stored (`out × in`).
#[derive(Debug, Clone)]
pub struct Dense {
    weight: Tensor,
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
        Self { weight, bias }
    }

    /// The bytes of its weights and bias, all read once per call.
    pub fn weight_bytes(&self) -> usize {
        let count = self.weight.elem_count() + self.bias.as_ref().map_or(0, Tensor::elem_count);
        count * self.weight.dtype().size_in_bytes()
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
        let out = match crate::gemv::rows_times_weight_t(&flat, &self.weight)? {
            Some(out) => out,
            None => flat.matmul(&self.weight.t()?)?,
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
    use crate::test_util::max_abs_diff;

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
