//! The SEANet decoder's stacked LSTM (`EncodecLSTM`: torch `nn.LSTM`, gate order i, f, g, o,
//! both biases, output plus the input as a skip), with an explicit state so that a stream can
//! carry it from one chunk to the next and get exactly the whole-at-once result.

use candle_core::{D, Result, Tensor};
use candle_nn::VarBuilder;

/// One layer's weights, with the two biases summed at load time.
#[derive(Debug, Clone)]
struct LstmLayer {
    /// `weight_ih_lN` transposed: `[input, 4·hidden]`.
    w_ih_t: Tensor,
    /// `weight_hh_lN` as stored: `[4·hidden, hidden]` (the recurrence's few rows stream it).
    w_hh: Tensor,
    /// `bias_ih_lN + bias_hh_lN`: `[4·hidden]`.
    bias: Tensor,
}

impl LstmLayer {
    /// `h · weight_hhᵀ`: one step's recurrent product. A step has a row or two, so on the CPU
    /// each weight row is streamed once over the cores rather than packed for a matrix kernel.
    fn recurrence(&self, h: &Tensor) -> Result<Tensor> {
        match crate::kernels::gemv::rows_times_weight_t(h, &self.w_hh)? {
            Some(product) => Ok(product),
            None => h.matmul(&self.w_hh.t()?),
        }
    }
}

/// The hidden and cell states of every layer, each `[batch, hidden]`.
#[derive(Debug, Clone)]
pub struct LstmState {
    h: Vec<Tensor>,
    c: Vec<Tensor>,
}

/// A stacked LSTM whose input and output width are both `dim`, applied on `[batch, dim, time]`
/// with the skip connection `lstm(x) + x`.
#[derive(Debug, Clone)]
pub struct EncodecLstm {
    layers: Vec<LstmLayer>,
    dim: usize,
}

impl EncodecLstm {
    /// Loads `{vb}.lstm.weight_ih_l{n}`, `weight_hh_l{n}`, `bias_ih_l{n}`, `bias_hh_l{n}`.
    pub fn new(dim: usize, num_layers: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("lstm");
        let layers = (0..num_layers)
            .map(|n| {
                let w_ih = vb.get((4 * dim, dim), &format!("weight_ih_l{n}"))?;
                let w_hh = vb.get((4 * dim, dim), &format!("weight_hh_l{n}"))?;
                let b_ih = vb.get(4 * dim, &format!("bias_ih_l{n}"))?;
                let b_hh = vb.get(4 * dim, &format!("bias_hh_l{n}"))?;
                Ok(LstmLayer {
                    w_ih_t: w_ih.t()?.contiguous()?,
                    w_hh: w_hh.contiguous()?,
                    bias: (b_ih + b_hh)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers, dim })
    }

    /// The all-zero state torch starts from.
    pub fn zero_state(&self, batch: usize, like: &Tensor) -> Result<LstmState> {
        let zeros = Tensor::zeros((batch, self.dim), like.dtype(), like.device())?;
        Ok(LstmState {
            h: vec![zeros.clone(); self.layers.len()],
            c: vec![zeros; self.layers.len()],
        })
    }

    /// Runs `xs` (`[batch, dim, time]`) from `state` (zeros when `None`) and returns
    /// `lstm(xs) + xs` in the same layout together with the state after the last step.
    pub fn forward_with_state(
        &self,
        xs: &Tensor,
        state: Option<&LstmState>,
    ) -> Result<(Tensor, LstmState)> {
        let (b, c, t) = xs.dims3()?;
        let mut state = match state {
            Some(s) => s.clone(),
            None => self.zero_state(b, xs)?,
        };
        if t == 0 {
            return Ok((xs.clone(), state));
        }
        let input = xs.transpose(1, 2)?.contiguous()?; // [b, t, c]
        let mut seq = input.clone();
        for (n, layer) in self.layers.iter().enumerate() {
            // The input projection of every step at once; only the recurrence is sequential.
            let gx = seq
                .reshape((b * t, c))?
                .matmul(&layer.w_ih_t)?
                .broadcast_add(&layer.bias)?
                .reshape((b, t, 4 * c))?;
            let mut h = state.h[n].clone();
            let mut cell = state.c[n].clone();
            let mut outs = Vec::with_capacity(t);
            for step in 0..t {
                let gates = (gx.narrow(1, step, 1)?.squeeze(1)? + layer.recurrence(&h)?)?;
                let i = candle_nn::ops::sigmoid(&gates.narrow(D::Minus1, 0, c)?)?;
                let f = candle_nn::ops::sigmoid(&gates.narrow(D::Minus1, c, c)?)?;
                let g = gates.narrow(D::Minus1, 2 * c, c)?.tanh()?;
                let o = candle_nn::ops::sigmoid(&gates.narrow(D::Minus1, 3 * c, c)?)?;
                cell = ((f * &cell)? + (i * g)?)?;
                h = (o * cell.tanh()?)?;
                outs.push(h.clone());
            }
            state.h[n] = h;
            state.c[n] = cell;
            seq = Tensor::stack(&outs, 1)?; // [b, t, c]
        }
        let ys = (seq + input)?.transpose(1, 2)?.contiguous()?;
        Ok((ys, state))
    }
}
