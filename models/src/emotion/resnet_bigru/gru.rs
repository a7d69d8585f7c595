//! A multi-layer bidirectional GRU with PyTorch's `nn.GRU(batch_first=True)` weights and gate
//! formula: r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
//! n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h, the gates stacked
//! r, z, n in each weight. Built from differentiable tensor operations, so it trains with
//! candle's autograd. (candle-nn's `rnn::gru` has the same formula but loads only `_l0` keys and
//! one direction.)

use candle_core::{D, Result, Tensor};
use candle_nn::{Init, VarBuilder};

/// One direction's weights in one layer.
#[derive(Clone, Debug)]
struct Direction {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
}

impl Direction {
    fn new(input: usize, hidden: usize, suffix: &str, vb: &VarBuilder) -> Result<Self> {
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
        })
    }
}

/// One bidirectional layer. Both directions run in the same tensor operations (a leading
/// direction axis of 2, the reverse direction reading the sequence backwards), which halves the
/// number of small operations per step, forward and in the gradient.
#[derive(Clone, Debug)]
struct Layer {
    forward: Direction,
    backward: Direction,
}

impl Layer {
    /// (B, T, input) → (B, T, 2H): the forward direction's states, then the reverse's.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b_sz, steps, input) = xs.dims3()?;
        let hidden = self.forward.w_hh.dim(1)?;
        let reversed = reverse_time(xs)?;
        // Input projections of every step at once, per direction: (2, B, T, 3H).
        let project = |xs: &Tensor, d: &Direction| -> Result<Tensor> {
            xs.reshape((b_sz * steps, input))?
                .matmul(&d.w_ih.t()?)?
                .broadcast_add(&d.b_ih)?
                .reshape((b_sz, steps, 3 * hidden))
        };
        let gates_x = Tensor::stack(
            &[
                project(xs, &self.forward)?,
                project(&reversed, &self.backward)?,
            ],
            0,
        )?;
        // (2, H, 3H) and (2, 1, 3H) for the recurrent product of both directions.
        let w_hh_t = Tensor::stack(&[self.forward.w_hh.t()?, self.backward.w_hh.t()?], 0)?;
        let b_hh = Tensor::stack(&[&self.forward.b_hh, &self.backward.b_hh], 0)?.unsqueeze(1)?;
        let mut h = Tensor::zeros((2, b_sz, hidden), xs.dtype(), xs.device())?;
        let mut states = Vec::with_capacity(steps);
        for t in 0..steps {
            let gx = gates_x.narrow(2, t, 1)?.squeeze(2)?;
            let gh = h.matmul(&w_hh_t)?.broadcast_add(&b_hh)?;
            let rz = candle_nn::ops::sigmoid(
                &(gx.narrow(2, 0, 2 * hidden)? + gh.narrow(2, 0, 2 * hidden)?)?,
            )?;
            let (r, z) = (rz.narrow(2, 0, hidden)?, rz.narrow(2, hidden, hidden)?);
            let n = (gx.narrow(2, 2 * hidden, hidden)?
                + (r * gh.narrow(2, 2 * hidden, hidden)?)?)?
            .tanh()?;
            // (1 − z) ⊙ n + z ⊙ h, written as n + z ⊙ (h − n).
            h = (&n + (z * (h - &n)?)?)?;
            states.push(h.clone());
        }
        // (2, B, T, H); the reverse direction's states go back to sequence order.
        let states = Tensor::stack(&states, 2)?;
        let forward = states.get(0)?;
        let backward = reverse_time(&states.get(1)?)?;
        Tensor::cat(&[forward, backward], D::Minus1)
    }
}

/// The sequence (B, T, …) in reverse order along T.
fn reverse_time(xs: &Tensor) -> Result<Tensor> {
    let steps = xs.dim(1)?;
    let order: Vec<u32> = (0..steps as u32).rev().collect();
    xs.index_select(&Tensor::new(order, xs.device())?, 1)
}

/// `nn.GRU(input, hidden, num_layers, bidirectional=True, batch_first=True)`.
#[derive(Clone, Debug)]
pub struct BiGru {
    layers: Vec<Layer>,
}

impl BiGru {
    /// Loads `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}` and their
    /// `_reverse` twins for every layer k, under `vb` (the module's own prefix, e.g. `head.gru`).
    pub fn new(input: usize, hidden: usize, layers: usize, vb: VarBuilder) -> Result<Self> {
        let layers = (0..layers)
            .map(|k| {
                let input = if k == 0 { input } else { 2 * hidden };
                Ok(Layer {
                    forward: Direction::new(input, hidden, &format!("l{k}"), &vb)?,
                    backward: Direction::new(input, hidden, &format!("l{k}_reverse"), &vb)?,
                })
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
        for layer in self.layers.iter().take(count) {
            xs = layer.forward(&xs)?;
        }
        Ok(xs)
    }
}
