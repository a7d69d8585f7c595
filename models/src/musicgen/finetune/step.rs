//! One optimizer step of fine-tuning: the loss of each micro-batch (gradients accumulated, each
//! loss divided by their number), the gradients clipped by their global norm, the schedule's
//! rate, then AdamW. What a step reports is what `train musicgen --json` prints.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var, bail};

use super::adamw::{AdamW, AdamWParams};
use super::data::Batch;
use super::grads::{batch_grads, merge};
use super::model::TrainableMusicGen;
use super::optim::{Schedule, clip_grad_norm};

/// The optimizer's settings (the paper's: lr 1e-5, betas 0.9/0.99, cosine with 100 warm-up
/// steps, clipping at 0.5).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepSettings {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    /// Largest global gradient norm; 0 = no clipping.
    pub clip_grad: f64,
}

/// What one optimizer step did.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepReport {
    /// The loss of the step's batch before its update (the mean over micro-batches).
    pub loss: f64,
    /// The learning rate the step used.
    pub lr: f64,
    /// The global gradient norm before clipping.
    pub grad_norm: f64,
}

/// What a resumed run needs of the optimizer: the step count and AdamW's moments.
#[derive(Debug, Clone)]
pub struct TrainerState {
    pub step: usize,
    /// `m.NAME` and `v.NAME` for every trainable tensor.
    pub moments: std::collections::HashMap<String, Tensor>,
    /// Each tensor's own step count.
    pub counts: Vec<u64>,
}

/// AdamW over a model's trainable tensors, with the schedule and clipping.
pub struct Trainer {
    optimizer: AdamW,
    vars: Vec<Var>,
    settings: StepSettings,
    step: usize,
    /// A factor on the schedule's rate (1 until the loop cuts it).
    lr_scale: f64,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("settings", &self.settings)
            .field("step", &self.step)
            .finish()
    }
}

impl Trainer {
    /// An optimizer for `model`'s trainable tensors, at step 0.
    pub fn new(model: &TrainableMusicGen, settings: StepSettings) -> Result<Self> {
        let vars: Vec<Var> = model.trainable().iter().map(|(_, v)| v.clone()).collect();
        let optimizer = AdamW::new(
            vars.clone(),
            AdamWParams {
                beta1: settings.beta1,
                beta2: settings.beta2,
                eps: settings.eps,
                weight_decay: settings.weight_decay,
            },
        )?;
        Ok(Self {
            optimizer,
            vars,
            settings,
            step: 0,
            lr_scale: 1.0,
        })
    }

    /// Multiplies every later step's rate by `scale` (the loop's cut after a plateau).
    pub fn set_lr_scale(&mut self, scale: f64) {
        self.lr_scale = scale;
    }

    /// The optimizer's state by the model's trainable names, for a resumed run.
    pub fn state(&self, names: &[String]) -> Result<TrainerState> {
        let (moments, counts) = self.optimizer.state(names)?;
        Ok(TrainerState {
            step: self.step,
            moments,
            counts,
        })
    }

    /// Restores what [`Trainer::state`] gave.
    pub fn restore(&mut self, names: &[String], state: &TrainerState) -> Result<()> {
        self.optimizer
            .restore(names, &state.moments, &state.counts)?;
        self.step = state.step;
        Ok(())
    }

    /// Optimizer steps taken so far.
    pub fn steps_taken(&self) -> usize {
        self.step
    }

    /// One optimizer step over `micro` (gradient accumulation when there are several).
    pub fn step(&mut self, model: &TrainableMusicGen, micro: &[Batch]) -> Result<StepReport> {
        if micro.is_empty() {
            bail!("an optimizer step needs at least one batch")
        }
        let share = 1.0 / micro.len() as f64;
        let mut loss_sum = 0.0;
        let mut grads: Option<GradStore> = None;
        for batch in micro {
            let (loss, these) = batch_grads(model, batch, share)?;
            loss_sum += loss;
            grads = Some(match grads {
                None => these,
                Some(mut sum) => {
                    merge(&mut sum, these, &self.vars)?;
                    sum
                }
            });
        }
        let Some(mut grads) = grads else {
            bail!("no gradient")
        };
        let max_norm = if self.settings.clip_grad > 0.0 {
            self.settings.clip_grad
        } else {
            f64::INFINITY
        };
        let grad_norm = clip_grad_norm(&mut grads, &self.vars, max_norm)?;
        let lr = self.settings.lr * self.lr_scale * self.settings.schedule.factor(self.step);
        self.optimizer.step(&grads, lr)?;
        self.step += 1;
        Ok(StepReport {
            loss: loss_sum * share,
            lr,
            grad_norm,
        })
    }
}
