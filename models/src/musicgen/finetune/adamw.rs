//! AdamW as `torch.optim.AdamW` computes it (decoupled weight decay first, then the biased
//! moments, `step_size = lr / (1 − β₁ᵗ)`, `denom = √v / √(1 − β₂ᵗ) + ε`), with its state open to
//! saving and restoring so that a run can be resumed exactly. (candle's `AdamW` computes the same
//! but keeps its moments private.) A tensor without a gradient in a step is left alone, its step
//! count too, as PyTorch does.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var, bail};

/// The optimizer's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWParams {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

/// One tensor's moments and step count.
#[derive(Debug, Clone)]
struct Moments {
    m: Tensor,
    v: Tensor,
    steps: u64,
}

/// AdamW over a list of variables.
#[derive(Debug)]
pub struct AdamW {
    params: AdamWParams,
    vars: Vec<Var>,
    moments: Vec<Moments>,
}

impl AdamW {
    /// Zero moments for every variable.
    pub fn new(vars: Vec<Var>, params: AdamWParams) -> Result<Self> {
        let moments = vars
            .iter()
            .map(|var| {
                Ok(Moments {
                    m: var.as_tensor().zeros_like()?,
                    v: var.as_tensor().zeros_like()?,
                    steps: 0,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            params,
            vars,
            moments,
        })
    }

    /// One update at learning rate `lr` with `grads`.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        let AdamWParams {
            beta1,
            beta2,
            eps,
            weight_decay,
        } = self.params;
        for (var, state) in self.vars.iter().zip(&mut self.moments) {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            state.steps += 1;
            let t = state.steps as i32;
            let theta = (var.as_tensor() * (1.0 - lr * weight_decay))?;
            state.m = ((&state.m * beta1)? + (g * (1.0 - beta1))?)?;
            state.v = ((&state.v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let step_size = lr / (1.0 - beta1.powi(t));
            let denom = ((state.v.sqrt()? / (1.0 - beta2.powi(t)).sqrt())? + eps)?;
            let next = (theta - ((&state.m / denom)? * step_size)?)?;
            var.set(&next.detach())?;
        }
        Ok(())
    }

    /// The moments and step counts by the given names (one name a variable, in order).
    pub fn state(&self, names: &[String]) -> Result<(HashMap<String, Tensor>, Vec<u64>)> {
        if names.len() != self.vars.len() {
            bail!("{} names for {} variables", names.len(), self.vars.len())
        }
        let mut tensors = HashMap::new();
        for (name, state) in names.iter().zip(&self.moments) {
            tensors.insert(format!("m.{name}"), state.m.clone());
            tensors.insert(format!("v.{name}"), state.v.clone());
        }
        Ok((tensors, self.moments.iter().map(|s| s.steps).collect()))
    }

    /// Restores what [`AdamW::state`] gave.
    pub fn restore(
        &mut self,
        names: &[String],
        tensors: &HashMap<String, Tensor>,
        steps: &[u64],
    ) -> Result<()> {
        if names.len() != self.vars.len() || steps.len() != self.vars.len() {
            bail!("the saved optimizer state is for another model")
        }
        for ((name, state), &count) in names.iter().zip(&mut self.moments).zip(steps) {
            for (key, slot) in [("m", &mut state.m), ("v", &mut state.v)] {
                let Some(saved) = tensors.get(&format!("{key}.{name}")) else {
                    bail!("the saved optimizer state lacks {key}.{name}")
                };
                if saved.dims() != slot.dims() {
                    bail!("the saved optimizer state of {name} has another shape")
                }
                *slot = saved.to_device(slot.device())?.to_dtype(slot.dtype())?;
            }
            state.steps = count;
        }
        Ok(())
    }
}
