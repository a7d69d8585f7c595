//! Keeping a run's state after every epoch so that `--resume` continues it exactly: the current
//! trainable weights, the best epoch's weights, AdamW's moments and step counts, and the loop's
//! progress (losses, counters, the learning-rate factor). The folder is written beside the old one
//! and renamed over it, so an interruption leaves the previous epoch's state whole.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::fit::{EpochRecord, FitProgress};
use super::model::TrainableMusicGen;
use super::step::{StepReport, Trainer, TrainerState};
use crate::error::{Error, Result};

/// The progress as `state.json` holds it.
#[derive(Debug, Serialize, Deserialize)]
struct SavedProgress {
    steps: Vec<StepReport>,
    epochs: Vec<EpochRecord>,
    best_epoch: Option<usize>,
    best_val: Option<f64>,
    since_better: usize,
    since_cut: usize,
    lr_scale: f64,
    finished: bool,
    trainer_step: usize,
    moment_counts: Vec<u64>,
    names: Vec<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn save_tensors(path: &Path, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let tensors: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, t)| Ok((k.clone(), t.to_device(&Device::Cpu)?)))
        .collect::<Result<_>>()?;
    candle_core::safetensors::save(&tensors, path).map_err(|source| Error::Weights {
        path: path.to_owned(),
        source,
    })
}

fn load_tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load(path, device).map_err(|source| Error::Weights {
        path: path.to_owned(),
        source,
    })
}

/// Writes the state of a run after an epoch into `dir`.
pub fn save(
    dir: &Path,
    model: &TrainableMusicGen,
    trainer: &Trainer,
    progress: &FitProgress,
) -> Result<()> {
    let names: Vec<String> = model.trainable().iter().map(|(n, _)| n.clone()).collect();
    let partial = sibling(dir, "partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    std::fs::create_dir_all(&partial).map_err(io(&partial))?;
    let weights: HashMap<String, Tensor> = model
        .trainable()
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
        .collect();
    save_tensors(&partial.join("weights.safetensors"), &weights)?;
    if let Some((_, _, best)) = &progress.best {
        let best: HashMap<String, Tensor> =
            best.iter().map(|(n, t)| (n.clone(), t.clone())).collect();
        save_tensors(&partial.join("best.safetensors"), &best)?;
    }
    let state: TrainerState = trainer.state(&names)?;
    save_tensors(&partial.join("optimizer.safetensors"), &state.moments)?;
    let saved = SavedProgress {
        steps: progress.steps.clone(),
        epochs: progress.epochs.clone(),
        best_epoch: progress.best.as_ref().map(|(e, _, _)| *e),
        best_val: progress
            .best
            .as_ref()
            .map(|(_, v, _)| *v)
            .filter(|v| v.is_finite()),
        since_better: progress.since_better,
        since_cut: progress.since_cut,
        lr_scale: progress.lr_scale,
        finished: progress.finished,
        trainer_step: state.step,
        moment_counts: state.counts,
        names,
    };
    let json = serde_json::to_string_pretty(&saved).map_err(|e| Error::Input(e.to_string()))?;
    let state_path = partial.join("state.json");
    std::fs::write(&state_path, json + "\n").map_err(io(&state_path))?;
    let old = sibling(dir, "old");
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&partial, dir).map_err(io(dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

/// Restores a run saved in `dir` into `model` and `trainer`, and returns its progress.
pub fn load(dir: &Path, model: &TrainableMusicGen, trainer: &mut Trainer) -> Result<FitProgress> {
    let state_path = dir.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(io(&state_path))?;
    let saved: SavedProgress = serde_json::from_str(&text).map_err(|source| Error::Config {
        path: state_path.clone(),
        source,
    })?;
    let names: Vec<String> = model.trainable().iter().map(|(n, _)| n.clone()).collect();
    if names != saved.names {
        return Err(Error::Input(format!(
            "{}: saved for other trainable tensors (another model or --freeze-layers)",
            dir.display()
        )));
    }
    let device = model.device().clone();
    let weights = load_tensors(&dir.join("weights.safetensors"), &device)?;
    for (name, var) in model.trainable() {
        let Some(saved) = weights.get(name) else {
            return Err(Error::Input(format!("{}: lacks {name}", dir.display())));
        };
        var.set(saved)?;
    }
    let moments = load_tensors(&dir.join("optimizer.safetensors"), &device)?;
    trainer.restore(
        &names,
        &TrainerState {
            step: saved.trainer_step,
            moments,
            counts: saved.moment_counts,
        },
    )?;
    let best = match saved.best_epoch {
        Some(epoch) => {
            let tensors = load_tensors(&dir.join("best.safetensors"), &device)?;
            let best: BTreeMap<String, Tensor> = tensors.into_iter().collect();
            Some((epoch, saved.best_val.unwrap_or(f64::NAN), best))
        }
        None => None,
    };
    Ok(FitProgress {
        steps: saved.steps,
        epochs: saved.epochs,
        best,
        since_better: saved.since_better,
        since_cut: saved.since_cut,
        lr_scale: saved.lr_scale,
        finished: saved.finished,
    })
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!("{name}.{suffix}"))
}
