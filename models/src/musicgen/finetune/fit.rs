//! The fine-tuning loop: epochs of optimizer steps, a validation loss after each, the learning
//! rate cut tenfold after `lr_reduce_patience` epochs without a better validation loss, early
//! stopping after `patience`, and the best epoch's weights kept (the last epoch's without a
//! validation set). Progress goes out as events, and after every epoch the whole state of the run
//! ([`FitProgress`]) is handed to the caller, which may keep it to resume the run exactly;
//! nothing here touches files.

use std::collections::BTreeMap;

use candle_core::{Result, Tensor, bail};

use super::data::Batch;
use super::data::{BatchPlan, Example, epoch_batches};
use super::grads::batch_loss;
use super::model::TrainableMusicGen;
use super::step::{StepReport, Trainer};

/// What the loop does besides the optimizer's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// The most epochs to run.
    pub epochs: usize,
    /// Micro-batches per optimizer step (gradient accumulation).
    pub grad_accum: usize,
    /// Stop after this many epochs without a better validation loss (0: never).
    pub patience: usize,
    /// Cut the learning rate tenfold after this many epochs without a better validation loss,
    /// counted again after each cut (0: never).
    pub lr_reduce_patience: usize,
    /// Stop after this many optimizer steps in all.
    pub max_steps: Option<usize>,
    /// Seed of dropout: epoch `e` draws its masks from `seed + e`, so a resumed run draws the
    /// same ones.
    pub seed: u64,
}

/// The training and validation examples and how they are batched.
#[derive(Debug, Clone, Copy)]
pub struct FitData<'a> {
    pub train: &'a [Example],
    pub val: &'a [Example],
    pub plan: &'a BatchPlan,
}

/// Where a run stands after its last finished epoch: all a resumed run needs besides the weights
/// and the optimizer.
#[derive(Debug, Clone, Default)]
pub struct FitProgress {
    /// Every optimizer step so far.
    pub steps: Vec<StepReport>,
    /// Every epoch so far.
    pub epochs: Vec<EpochRecord>,
    /// The epoch kept so far, its validation loss (NaN without a validation set) and weights.
    pub best: Option<(usize, f64, BTreeMap<String, Tensor>)>,
    /// Epochs since the last better validation loss, and since the last cut or better loss.
    pub since_better: usize,
    pub since_cut: usize,
    /// The factor on the schedule's rate (0.1 per cut).
    pub lr_scale: f64,
    /// Whether the run has ended (early stop or the step budget).
    pub finished: bool,
}

/// What the loop tells its caller.
pub trait FitHooks {
    /// Something happened.
    fn event(&mut self, event: &FitEvent);
    /// An epoch ended: the weights, the optimizer and the progress are those to resume from.
    fn epoch_end(
        &mut self,
        model: &TrainableMusicGen,
        trainer: &Trainer,
        progress: &FitProgress,
    ) -> Result<()> {
        let _ = (model, trainer, progress);
        Ok(())
    }
}

/// What happened, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum FitEvent {
    /// An optimizer step finished (`step` counts from 1 over the whole run).
    Step {
        epoch: usize,
        step: usize,
        of: usize,
        report: StepReport,
    },
    /// An epoch finished (`epoch` counts from 1).
    Epoch(EpochRecord),
    /// The learning rate was cut; `scale` is the factor now applied to the schedule.
    LrReduced { epoch: usize, scale: f64 },
    /// Training stopped early.
    Stopped { epoch: usize, reason: String },
}

/// One epoch's figures.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The mean loss of its optimizer steps.
    pub train_loss: f64,
    /// The validation loss after it (none without a validation set).
    pub val_loss: Option<f64>,
    /// Whether its weights are the best so far.
    pub best: bool,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct FitOutcome {
    /// Every optimizer step.
    pub steps: Vec<StepReport>,
    /// Every epoch.
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose weights are kept (from 1).
    pub best_epoch: usize,
    /// The kept weights, by checkpoint name.
    pub best: BTreeMap<String, Tensor>,
}

/// The mean loss over `batches` with dropout off (training mode restored after).
pub fn validation_loss(model: &mut TrainableMusicGen, batches: &[Batch]) -> Result<f64> {
    if batches.is_empty() {
        bail!("no validation batch")
    }
    model.set_training(false);
    let mut total = 0.0;
    for batch in batches {
        let loss = batch_loss(model, batch)?.detach();
        total += f64::from(loss.to_scalar::<f32>()?);
    }
    model.set_training(true);
    Ok(total / batches.len() as f64)
}

/// The trainable weights as they are now (copies).
pub fn snapshot(model: &TrainableMusicGen) -> Result<BTreeMap<String, Tensor>> {
    model
        .trainable()
        .iter()
        .map(|(name, var)| Ok((name.clone(), var.as_tensor().detach().copy()?)))
        .collect()
}

/// Runs the loop from `progress` (`FitProgress::default()` for a new run; a saved one resumes
/// after its last epoch, with the model's weights and the trainer's state restored by the
/// caller).
pub fn fit(
    model: &mut TrainableMusicGen,
    trainer: &mut Trainer,
    data: FitData<'_>,
    options: &FitOptions,
    mut progress: FitProgress,
    hooks: &mut dyn FitHooks,
) -> Result<FitOutcome> {
    let FitData { train, val, plan } = data;
    if train.is_empty() {
        bail!("no training example")
    }
    if options.grad_accum == 0 {
        bail!("gradient accumulation must be at least 1")
    }
    let device = model.device().clone();
    let val_plan = BatchPlan {
        shuffle_seed: None,
        cfg_dropout: 0.0,
        ..*plan
    };
    let val_batches = if val.is_empty() {
        Vec::new()
    } else {
        epoch_batches(val, &val_plan, 0, &device)?
    };
    let batches_per_epoch = train.len().div_ceil(plan.batch_size);
    let steps_per_epoch = batches_per_epoch.div_ceil(options.grad_accum);
    let total_steps = match options.max_steps {
        Some(max) => max.min(steps_per_epoch * options.epochs),
        None => steps_per_epoch * options.epochs,
    };
    if progress.lr_scale == 0.0 {
        progress.lr_scale = 1.0;
    }
    trainer.set_lr_scale(progress.lr_scale);
    model.set_training(true);
    let first = progress.epochs.len() + 1;
    for epoch in first..=options.epochs {
        if progress.finished {
            break;
        }
        model.seed_dropout(options.seed.wrapping_add(epoch as u64))?;
        let batches = epoch_batches(train, plan, epoch - 1, &device)?;
        let mut losses = Vec::new();
        for group in batches.chunks(options.grad_accum) {
            let report = trainer.step(model, group)?;
            progress.steps.push(report);
            losses.push(report.loss);
            hooks.event(&FitEvent::Step {
                epoch,
                step: progress.steps.len(),
                of: total_steps,
                report,
            });
            if progress.steps.len() >= total_steps {
                break;
            }
        }
        let train_loss = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
        let val_loss = if val_batches.is_empty() {
            None
        } else {
            Some(validation_loss(model, &val_batches)?)
        };
        // Without a validation set the last epoch is the one kept.
        let better = match (val_loss, &progress.best) {
            (None, _) | (Some(_), None) => true,
            (Some(v), Some((_, b, _))) => v < *b,
        };
        if better {
            progress.best = Some((epoch, val_loss.unwrap_or(f64::NAN), snapshot(model)?));
            progress.since_better = 0;
            progress.since_cut = 0;
        } else {
            progress.since_better += 1;
            progress.since_cut += 1;
        }
        let record = EpochRecord {
            epoch,
            train_loss,
            val_loss,
            best: better,
        };
        progress.epochs.push(record);
        hooks.event(&FitEvent::Epoch(record));
        if progress.steps.len() >= total_steps {
            progress.finished = true;
            if epoch < options.epochs {
                hooks.event(&FitEvent::Stopped {
                    epoch,
                    reason: format!("{total_steps} optimizer steps taken (--max-steps)"),
                });
            }
        } else if options.patience > 0 && progress.since_better >= options.patience {
            progress.finished = true;
            hooks.event(&FitEvent::Stopped {
                epoch,
                reason: format!(
                    "no better validation loss in {} epochs",
                    progress.since_better
                ),
            });
        } else if options.lr_reduce_patience > 0 && progress.since_cut >= options.lr_reduce_patience
        {
            progress.lr_scale *= 0.1;
            trainer.set_lr_scale(progress.lr_scale);
            progress.since_cut = 0;
            hooks.event(&FitEvent::LrReduced {
                epoch,
                scale: progress.lr_scale,
            });
        }
        if epoch == options.epochs {
            progress.finished = true;
        }
        hooks.epoch_end(model, trainer, &progress)?;
    }
    let Some((best_epoch, _, best)) = progress.best else {
        bail!("no epoch ran")
    };
    Ok(FitOutcome {
        steps: progress.steps,
        epochs: progress.epochs,
        best_epoch,
        best,
    })
}
