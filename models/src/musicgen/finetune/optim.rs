//! The optimizer side of fine-tuning as transformers and PyTorch do it: the learning-rate
//! schedules of `transformers.get_scheduler` (the rate of optimizer step k is the base rate times
//! the schedule's value at k, so a warm-up starts at 0), gradient clipping by the global norm
//! (`torch.nn.utils.clip_grad_norm_`), and AdamW (candle's, which is torch's).

use std::f64::consts::PI;
use std::str::FromStr;

use candle_core::backprop::GradStore;
use candle_core::{Result, Var};

/// A learning-rate schedule by transformers' name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// `cosine`: linear warm-up, then half a cosine down to 0 at the last step.
    Cosine,
    /// `constant_with_warmup` (the command line's `constant`): linear warm-up, then flat.
    Constant,
}

impl FromStr for ScheduleKind {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "cosine" => Ok(Self::Cosine),
            "constant" | "constant_with_warmup" => Ok(Self::Constant),
            other => Err(format!(
                "unknown schedule `{other}`: choose cosine or constant"
            )),
        }
    }
}

/// A schedule over a known number of optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub kind: ScheduleKind,
    pub warmup_steps: usize,
    pub total_steps: usize,
}

impl Schedule {
    /// The factor of the base rate at optimizer step `step` (0-based).
    pub fn factor(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return step as f64 / self.warmup_steps.max(1) as f64;
        }
        match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Cosine => {
                let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
                let progress = (step - self.warmup_steps) as f64 / span as f64;
                (0.5 * (1.0 + (PI * 0.5 * 2.0 * progress).cos())).max(0.0)
            }
        }
    }
}

/// Scales the gradients of `vars` so that their global L2 norm is at most `max_norm`, as
/// `clip_grad_norm_` does (`max_norm / (norm + 1e-6)`, clamped to 1, applied to every gradient);
/// returns the norm before clipping. Vars without a gradient are left out.
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut squares = 0.0f64;
    for var in vars {
        if let Some(grad) = grads.get(var.as_tensor()) {
            squares += f64::from(
                grad.sqr()?
                    .sum_all()?
                    .to_dtype(candle_core::DType::F32)?
                    .to_scalar::<f32>()?,
            );
        }
    }
    let norm = squares.sqrt();
    let coef = (max_norm / (norm + 1e-6)).min(1.0);
    if coef >= 1.0 {
        // PyTorch multiplies by 1 here, which changes nothing.
        return Ok(norm);
    }
    for var in vars {
        if let Some(grad) = grads.remove(var.as_tensor()) {
            grads.insert(var.as_tensor(), (grad * coef)?);
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_others_are_named() {
        assert_eq!("cosine".parse(), Ok(ScheduleKind::Cosine));
        assert_eq!("constant".parse(), Ok(ScheduleKind::Constant));
        let err = "linear".parse::<ScheduleKind>().unwrap_err();
        assert!(err.contains("linear"), "{err}");
    }
}
