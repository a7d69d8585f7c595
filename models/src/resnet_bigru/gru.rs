//! A multi-layer bidirectional GRU with PyTorch's `nn.GRU(batch_first=True)` weights and gate
//! formula: r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
//! n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h, the gates stacked
//! r, z, n in each weight. Built from differentiable tensor operations, so it trains with
//! candle's autograd. (candle-nn's `rnn::gru` has the same formula but loads only `_l0` keys and
//! one direction.)

use candle_core::{D, Result, Tensor};
use candle_nn::{Init, VarBuilder};

/// One direction of one layer.
#[derive(Clone, Debug)]
struct Direction {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    reverse: bool,
}

impl Direction {
    fn new(
        input: usize,
        hidden: usize,
        suffix: &str,
        reverse: bool,
        vb: &VarBuilder,
    ) -> Result<Self> {
        // PyTorch's default initialisation, used when the builder creates weights (training).
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        Ok(Self {
            w_ih: vb.get_with_hints((3 * hidden, input), &format!("weight_ih_{suffix}"), init)?,
            w_hh: vb.get_with_hints((3 * hidden, hidden), &format!("weight_hh_{suffix}"), init)?,
            b_ih: vb.get_with_hints(3 * hidden, &format!("bias_ih_{suffix}"), init)?,
            b_hh: vb.get_with_hints(3 * hidden, &format!("bias_hh_{suffix}"), init)?,
            reverse,
        })
    }

    /// Runs over a sequence (B, T, input) from a zero state; returns every step's state (B, T, H).
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b_sz, steps, input) = xs.dims3()?;
        let hidden = self.w_hh.dim(1)?;
        // The input projections of all steps at once; only the recurrent product is sequential.
        let gates_x = xs
            .reshape((b_sz * steps, input))?
            .matmul(&self.w_ih.t()?)?
            .broadcast_add(&self.b_ih)?
            .reshape((b_sz, steps, 3 * hidden))?;
        let w_hh_t = self.w_hh.t()?;
        let mut h = Tensor::zeros((b_sz, hidden), xs.dtype(), xs.device())?;
        let mut states = vec![None; steps];
        let order: Box<dyn Iterator<Item = usize>> = if self.reverse {
            Box::new((0..steps).rev())
        } else {
            Box::new(0..steps)
        };
        for t in order {
            let gx = gates_x.narrow(1, t, 1)?.squeeze(1)?;
            let gh = h.matmul(&w_hh_t)?.broadcast_add(&self.b_hh)?;
            let r =
                candle_nn::ops::sigmoid(&(gx.narrow(1, 0, hidden)? + gh.narrow(1, 0, hidden)?)?)?;
            let z = candle_nn::ops::sigmoid(
                &(gx.narrow(1, hidden, hidden)? + gh.narrow(1, hidden, hidden)?)?,
            )?;
            let n = (gx.narrow(1, 2 * hidden, hidden)?
                + (r * gh.narrow(1, 2 * hidden, hidden)?)?)?
            .tanh()?;
            // (1 − z) ⊙ n + z ⊙ h, written as n + z ⊙ (h − n).
            h = (&n + (z * (h - &n)?)?)?;
            states[t] = Some(h.clone());
        }
        let states: Vec<Tensor> = states.into_iter().flatten().collect();
        Tensor::stack(&states, 1)
    }
}

/// `nn.GRU(input, hidden, num_layers, bidirectional=True, batch_first=True)`.
#[derive(Clone, Debug)]
pub struct BiGru {
    layers: Vec<[Direction; 2]>,
}

impl BiGru {
    /// Loads `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}` and their
    /// `_reverse` twins for every layer k, under `vb` (the module's own prefix, e.g. `head.gru`).
    pub fn new(input: usize, hidden: usize, layers: usize, vb: VarBuilder) -> Result<Self> {
        let layers = (0..layers)
            .map(|k| {
                let input = if k == 0 { input } else { 2 * hidden };
                Ok([
                    Direction::new(input, hidden, &format!("l{k}"), false, &vb)?,
                    Direction::new(input, hidden, &format!("l{k}_reverse"), true, &vb)?,
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// The last layer's output (B, T, 2H): the forward direction's states, then the reverse's.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_layers(xs, self.layers.len())
    }

    /// The output of the first `count` layers (for tests that compare layer by layer).
    pub fn forward_layers(&self, xs: &Tensor, count: usize) -> Result<Tensor> {
        let mut xs = xs.clone();
        for [forward, backward] in self.layers.iter().take(count) {
            xs = Tensor::cat(&[forward.forward(&xs)?, backward.forward(&xs)?], D::Minus1)?;
        }
        Ok(xs)
    }
}
