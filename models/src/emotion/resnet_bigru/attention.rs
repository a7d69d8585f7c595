//! Multi-head self-attention with the weights of PyTorch's
//! `nn.MultiheadAttention(embed, heads, batch_first=True)` (fused `in_proj_weight`/`in_proj_bias`
//! for query, key and value, then `out_proj`), called with query = key = value and no mask.

use candle_core::{D, Result, Tensor};
use candle_nn::{Init, Linear, Module, VarBuilder};

/// Self-attention over a sequence (B, T, E).
#[derive(Clone, Debug)]
pub struct SelfAttention {
    in_proj_weight: Tensor,
    in_proj_bias: Tensor,
    out_proj: Linear,
    heads: usize,
}

impl SelfAttention {
    /// Loads `in_proj_weight` (3E, E), `in_proj_bias` (3E), `out_proj.weight` (E, E) and
    /// `out_proj.bias` (E) under `vb`. `heads` must divide `embed`.
    pub fn new(embed: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        if heads == 0 || !embed.is_multiple_of(heads) {
            candle_core::bail!("attention: {heads} heads do not divide the width {embed}");
        }
        // PyTorch's initialisation, used when the builder creates weights (training):
        // xavier-uniform projections, zero biases, out_proj as nn.Linear's weight.
        let xavier = (6.0 / (4 * embed) as f64).sqrt();
        let linear = 1.0 / (embed as f64).sqrt();
        let in_proj_weight = vb.get_with_hints(
            (3 * embed, embed),
            "in_proj_weight",
            Init::Uniform {
                lo: -xavier,
                up: xavier,
            },
        )?;
        let in_proj_bias = vb.get_with_hints(3 * embed, "in_proj_bias", Init::Const(0.0))?;
        let out = vb.pp("out_proj");
        let weight = out.get_with_hints(
            (embed, embed),
            "weight",
            Init::Uniform {
                lo: -linear,
                up: linear,
            },
        )?;
        let bias = out.get_with_hints(embed, "bias", Init::Const(0.0))?;
        Ok(Self {
            in_proj_weight,
            in_proj_bias,
            out_proj: Linear::new(weight, Some(bias)),
            heads,
        })
    }

    /// Attends every position to every position: (B, T, E) → (B, T, E).
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b_sz, steps, embed) = xs.dims3()?;
        let head_dim = embed / self.heads;
        let qkv = xs
            .reshape((b_sz * steps, embed))?
            .matmul(&self.in_proj_weight.t()?)?
            .broadcast_add(&self.in_proj_bias)?;
        let split = |i: usize| -> Result<Tensor> {
            qkv.narrow(1, i * embed, embed)?
                .reshape((b_sz, steps, self.heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (split(0)?, split(1)?, split(2)?);
        let scale = 1.0 / (head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        // The composed softmax (not softmax_last_dim) so that it has a gradient.
        let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let attended = weights
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((b_sz, steps, embed))?;
        self.out_proj.forward(&attended)
    }
}
