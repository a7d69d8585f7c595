//! `ekphrasis train musicgen --musicgen DIR --data TRAIN.json [--val VAL.json] --out OUT`:
//! fine-tunes MusicGen as the paper did. Every clip is read as `encode` reads it, cut or padded to
//! `--clip-seconds`, and encoded once; every text's T5 states are computed once (both kept in
//! `--cache`). Then the decoder and `enc_to_dec_proj` train (T5 and EnCodec frozen) with AdamW,
//! the schedule, clipping and condition dropout, a validation loss each epoch, learning-rate cuts
//! and early stopping; the best epoch's weights are written as a complete checkpoint.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use candle_core::{DType, Device, Tensor};
use clap::Args;
use ekphrasis_models::device::{DeviceChoice, kind_name};
use ekphrasis_models::encodec::Encoder;
use ekphrasis_models::musicgen::finetune::{
    BatchPlan, Example, FitData, FitEvent, FitHooks, FitOptions, FitProgress, Freeze, Schedule,
    ScheduleKind, StepSettings, TrainableMusicGen, Trainer, fit, resume, write_checkpoint,
};
use ekphrasis_models::musicgen::{MusicGen, TextEncoder};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::audio::decode::{MusicReader, fit_length};
use crate::checkpoints::model_set::revision;
use crate::dataset::cache::Cache;
use crate::dataset::manifest::{self, Row};

/// Flags of `ekphrasis train musicgen`.
#[derive(Debug, Args)]
pub struct TrainMusicgenArgs {
    /// The MusicGen checkpoint to start from (a directory in Hugging Face layout).
    #[arg(long)]
    pub musicgen: PathBuf,
    /// The training manifest: a JSON array of {"audio", "text" or "label"} rows.
    #[arg(long)]
    pub data: PathBuf,
    /// The validation manifest, judged after every epoch.
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Where to write the tuned checkpoint and training.json.
    #[arg(long)]
    pub out: PathBuf,
    /// The most epochs.
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// Clips per micro-batch.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// AdamW's learning rate.
    #[arg(long, default_value_t = 1e-5)]
    pub lr: f64,
    /// AdamW's betas, as B1,B2.
    #[arg(long, default_value = "0.9,0.99", value_parser = parse_betas)]
    pub betas: (f64, f64),
    /// AdamW's decoupled weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Optimizer steps of linear warm-up.
    #[arg(long, default_value_t = 100)]
    pub warmup_steps: usize,
    /// cosine or constant (after the warm-up).
    #[arg(long, default_value = "cosine")]
    pub schedule: ScheduleKind,
    /// Largest global gradient norm (0: no clipping).
    #[arg(long, default_value_t = 0.5)]
    pub clip_grad: f64,
    /// Probability of training a row on the empty condition, so guidance keeps working.
    #[arg(long, default_value_t = 0.1)]
    pub cfg_dropout: f64,
    /// Also freeze the codebook embeddings and decoder layers 0..L.
    #[arg(long, default_value_t = 0)]
    pub freeze_layers: usize,
    /// Seconds every clip is cut or zero-padded to.
    #[arg(long, default_value_t = 30.0)]
    pub clip_seconds: f64,
    /// Shuffle the rows every epoch with this seed (file order without it); also seeds the
    /// condition dropout.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many optimizer steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    /// Cut the learning rate tenfold after this many epochs without a better validation loss.
    #[arg(long, default_value_t = 3)]
    pub lr_reduce_patience: usize,
    /// Keep every layer's graph for the backward pass instead of recomputing each layer from its
    /// input (faster, but memory grows with layers × batch × length²).
    #[arg(long)]
    pub full_graph: bool,
    /// A SoundFont (`.sf2`) to render MIDI clips with.
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    /// Continue the run whose --out was DIR from its last finished epoch (its state is kept in
    /// DIR/resume while it runs), with the same data and flags.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Where codes and text states are kept between runs [default: OUT/cache].
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Print one JSON object with the losses when training ends.
    #[arg(long)]
    pub json: bool,
}

fn parse_betas(text: &str) -> Result<(f64, f64), String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [b1, b2] = parts.as_slice() else {
        return Err(format!("betas are two numbers B1,B2, not `{text}`"));
    };
    let parse = |s: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|b| (0.0..1.0).contains(b))
            .ok_or_else(|| format!("a beta is a number in [0, 1), not `{s}`"))
    };
    Ok((parse(b1)?, parse(b2)?))
}

/// Refuses settings no run could use, before anything is loaded.
fn check(args: &TrainMusicgenArgs) -> anyhow::Result<()> {
    if args.epochs == 0 || args.batch_size == 0 || args.grad_accum == 0 {
        bail!("--epochs, --batch-size and --grad-accum must be at least 1");
    }
    if !(args.lr.is_finite() && args.lr > 0.0) {
        bail!("--lr must be a positive number, not {}", args.lr);
    }
    if !(0.0..=1.0).contains(&args.cfg_dropout) {
        bail!("--cfg-dropout is a probability, not {}", args.cfg_dropout);
    }
    if !(args.clip_seconds.is_finite() && args.clip_seconds > 0.0) {
        bail!("--clip-seconds must be positive, not {}", args.clip_seconds);
    }
    if args.clip_grad < 0.0 || args.weight_decay < 0.0 {
        bail!("--clip-grad and --weight-decay cannot be negative");
    }
    if args.max_steps == Some(0) {
        bail!("--max-steps must be at least 1");
    }
    Ok(())
}

/// Runs the command.
pub fn run(args: TrainMusicgenArgs) -> anyhow::Result<()> {
    check(&args)?;
    let train_rows = manifest::read(&args.data)?;
    let val_rows = args.val.as_deref().map(manifest::read).transpose()?;
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let base_revision = revision(&args.musicgen);
    let cache = Cache::new(
        &args.cache.clone().unwrap_or_else(|| args.out.join("cache")),
        &base_revision,
    );
    let started = Instant::now();
    let reader = MusicReader::new(args.soundfont.as_deref())?;
    let mut inputs = Inputs::load(&args.musicgen, &device, cache, reader, args.clip_seconds)?;
    eprintln!(
        "loaded EnCodec and T5 of {} on {} in {:.1} s",
        args.musicgen.display(),
        kind_name(&device),
        started.elapsed().as_secs_f64()
    );
    let train = inputs.examples(&train_rows, "training clips")?;
    let val = match &val_rows {
        Some(rows) => inputs.examples(rows, "validation clips")?,
        None => Vec::new(),
    };
    drop(inputs);

    let mut model = TrainableMusicGen::load(
        &args.musicgen,
        Freeze {
            layers: args.freeze_layers,
        },
        &device,
    )?;
    model.set_recompute(!args.full_graph);
    let batches = train.len().div_ceil(args.batch_size);
    let steps_per_epoch = batches.div_ceil(args.grad_accum);
    let total = args.max_steps.map_or(steps_per_epoch * args.epochs, |m| {
        m.min(steps_per_epoch * args.epochs)
    });
    let settings = StepSettings {
        lr: args.lr,
        beta1: args.betas.0,
        beta2: args.betas.1,
        eps: 1e-8,
        weight_decay: args.weight_decay,
        schedule: Schedule {
            kind: args.schedule,
            warmup_steps: args.warmup_steps,
            total_steps: steps_per_epoch * args.epochs,
        },
        clip_grad: args.clip_grad,
    };
    let mut trainer = Trainer::new(&model, settings)?;
    let plan = BatchPlan {
        batch_size: args.batch_size,
        shuffle_seed: args.seed,
        cfg_dropout: args.cfg_dropout,
        dropout_seed: args.seed.unwrap_or(0),
        pad: model.config().pad_token_id(),
        start: model.config().decoder_start_token_id(),
    };
    let options = FitOptions {
        epochs: args.epochs,
        grad_accum: args.grad_accum,
        patience: args.patience,
        lr_reduce_patience: args.lr_reduce_patience,
        max_steps: args.max_steps,
        seed: args.seed.unwrap_or(0),
    };
    let trainable: usize = model
        .trainable()
        .iter()
        .map(|(_, v)| v.as_tensor().elem_count())
        .sum();
    eprintln!(
        "training {trainable} weights on {} clips ({} for validation): {steps_per_epoch} steps an \
         epoch, at most {total}",
        train.len(),
        val.len()
    );
    let bar = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps, {msg} [{elapsed} < {eta}]")
            .expect("a valid template"),
    );
    let progress = match &args.resume {
        Some(dir) => {
            let progress = resume::load(&dir.join("resume"), &model, &mut trainer)
                .with_context(|| format!("resuming the run in {}", dir.display()))?;
            say(
                &bar,
                format!(
                    "resuming after epoch {} ({} steps taken)",
                    progress.epochs.len(),
                    progress.steps.len()
                ),
            );
            progress
        }
        None => FitProgress::default(),
    };
    let mut hooks = Hooks {
        bar: &bar,
        resume: args.out.join("resume"),
    };
    let outcome = fit(
        &mut model,
        &mut trainer,
        FitData {
            train: &train,
            val: &val,
            plan: &plan,
        },
        &options,
        progress,
        &mut hooks,
    )?;
    bar.finish_and_clear();

    let report = json!({
        "steps": outcome.steps.len(),
        "train_loss": outcome.steps.iter().map(|s| s.loss).collect::<Vec<_>>(),
        "lr": outcome.steps.iter().map(|s| s.lr).collect::<Vec<_>>(),
        "val_loss": outcome.epochs.iter().filter_map(|e| e.val_loss).collect::<Vec<_>>(),
        "best_epoch": outcome.best_epoch,
    });
    let training = json!({
        "base": args.musicgen.display().to_string(),
        "base_revision": base_revision,
        "flags": flags_json(&args),
        "clips": { "train": train.len(), "val": val.len() },
        "grad_norm": outcome.steps.iter().map(|s| s.grad_norm).collect::<Vec<_>>(),
        "epochs": outcome.epochs.iter().map(|e| json!({
            "epoch": e.epoch, "train_loss": e.train_loss, "val_loss": e.val_loss,
        })).collect::<Vec<_>>(),
        "result": report,
    });
    write_checkpoint(&args.musicgen, &args.out, &outcome.best, &training)
        .with_context(|| format!("writing the tuned checkpoint to {}", args.out.display()))?;
    // The run is complete: its resume state is no longer needed.
    let resume_dir = args.out.join("resume");
    if resume_dir.exists() {
        std::fs::remove_dir_all(&resume_dir)
            .with_context(|| format!("removing {}", resume_dir.display()))?;
    }
    eprintln!(
        "wrote {} (epoch {}) in {:.1} s",
        args.out.display(),
        outcome.best_epoch,
        started.elapsed().as_secs_f64()
    );
    if args.json {
        println!("{report}");
    }
    Ok(())
}

/// The loop's events on the progress bar and stderr; the run's state kept after every epoch.
struct Hooks<'a> {
    bar: &'a ProgressBar,
    resume: PathBuf,
}

impl FitHooks for Hooks<'_> {
    fn event(&mut self, event: &FitEvent) {
        let bar = self.bar;
        match event {
            FitEvent::Step {
                step,
                report,
                epoch,
                ..
            } => {
                bar.set_position(*step as u64);
                bar.set_message(format!(
                    "epoch {epoch}, loss {:.4}, lr {:.2e}",
                    report.loss, report.lr
                ));
            }
            FitEvent::Epoch(record) => say(
                bar,
                format!(
                    "epoch {}: training loss {:.4}{}{}",
                    record.epoch,
                    record.train_loss,
                    record
                        .val_loss
                        .map_or(String::new(), |v| format!(", validation loss {v:.4}")),
                    if record.best && record.val_loss.is_some() {
                        " (best)"
                    } else {
                        ""
                    }
                ),
            ),
            FitEvent::LrReduced { epoch, scale } => say(
                bar,
                format!(
                    "epoch {epoch}: no better validation loss for a while, learning rate × {scale}"
                ),
            ),
            FitEvent::Stopped { epoch, reason } => {
                say(bar, format!("stopped after epoch {epoch}: {reason}"))
            }
        }
    }

    fn epoch_end(
        &mut self,
        model: &TrainableMusicGen,
        trainer: &Trainer,
        progress: &FitProgress,
    ) -> candle_core::Result<()> {
        resume::save(&self.resume, model, trainer, progress)
            .map_err(|e| candle_core::Error::Msg(format!("keeping the run's state: {e}")))
    }
}

/// A line on stderr above the progress bar (shown when the bar is hidden too).
fn say(bar: &ProgressBar, line: String) {
    bar.suspend(|| eprintln!("{line}"));
}

/// Every flag's value, for training.json.
fn flags_json(args: &TrainMusicgenArgs) -> serde_json::Value {
    json!({
        "data": args.data.display().to_string(),
        "val": args.val.as_ref().map(|p| p.display().to_string()),
        "out": args.out.display().to_string(),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "grad_accum": args.grad_accum,
        "lr": args.lr,
        "betas": [args.betas.0, args.betas.1],
        "weight_decay": args.weight_decay,
        "warmup_steps": args.warmup_steps,
        "schedule": format!("{:?}", args.schedule).to_lowercase(),
        "clip_grad": args.clip_grad,
        "cfg_dropout": args.cfg_dropout,
        "freeze_layers": args.freeze_layers,
        "clip_seconds": args.clip_seconds,
        "seed": args.seed,
        "max_steps": args.max_steps,
        "patience": args.patience,
        "lr_reduce_patience": args.lr_reduce_patience,
        "full_graph": args.full_graph,
        "soundfont": args.soundfont.as_ref().map(|p| p.display().to_string()),
        "resume": args.resume.as_ref().map(|p| p.display().to_string()),
        "cache": args.cache.as_ref().map(|p| p.display().to_string()),
        "device": args.device,
    })
}

/// The frozen models that turn rows into examples, with the cache.
struct Inputs {
    encoder: Encoder,
    text: TextEncoder,
    cache: Cache,
    reader: MusicReader,
    clip_seconds: f64,
    device: Device,
}

impl Inputs {
    fn load(
        dir: &Path,
        device: &Device,
        cache: Cache,
        reader: MusicReader,
        clip_seconds: f64,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            encoder: MusicGen::load_audio_encoder(dir, device, DType::F32)?,
            text: MusicGen::load_text_encoder(dir, device, DType::F32)?,
            cache,
            reader,
            clip_seconds,
            device: device.clone(),
        })
    }

    /// Every row's codes and text states, from the cache or computed; a clip that cannot be read
    /// is named and skipped.
    fn examples(&mut self, rows: &[Row], what: &str) -> anyhow::Result<Vec<Example>> {
        let bar = ProgressBar::new(rows.len() as u64).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("a valid template"),
        );
        bar.set_message(what.to_string());
        let mut examples = Vec::with_capacity(rows.len());
        let mut skipped = 0;
        for row in rows {
            match self.example(row) {
                Ok(example) => examples.push(example),
                Err(e) => {
                    say(&bar, format!("skipped: {e:#}"));
                    skipped += 1;
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        if skipped > 0 {
            eprintln!("{what}: {skipped} of {} skipped", rows.len());
        }
        if examples.is_empty() {
            bail!("{what}: none could be read");
        }
        Ok(examples)
    }

    fn example(&mut self, row: &Row) -> anyhow::Result<Example> {
        let bytes = std::fs::read(&row.audio)
            .with_context(|| format!("{}: cannot read", row.audio.display()))?;
        let key = self.cache.clip_key(&bytes, self.clip_seconds);
        let codes = match self.cache.codes(&key)? {
            Some(codes) => codes,
            None => {
                let codes = self.encode(&row.audio, bytes)?;
                self.cache.put_codes(&key, &codes)?;
                codes
            }
        };
        let key = self.cache.text_key(&row.text);
        let states = match self.cache.states(&key, &self.device)? {
            Some(states) => states,
            None => {
                let states = self.text.states(&row.text)?;
                self.cache.put_states(&key, &states)?;
                states
            }
        };
        Ok(Example { codes, states })
    }

    /// The codes of the clip at `path`, whose contents are `bytes` (read once, for its key too).
    fn encode(&self, path: &Path, bytes: Vec<u8>) -> anyhow::Result<Vec<Vec<u32>>> {
        let rate = self.encoder.config().sampling_rate;
        let samples = self.reader.decode_mono_at(path, bytes, rate as u32)?;
        let len = (self.clip_seconds * rate as f64).round() as usize;
        let samples = fit_length(samples, len);
        let audio = Tensor::from_vec(samples, (1, 1, len), &self.device)?;
        Ok(self.encoder.encode(&audio)?.squeeze(0)?.to_vec2::<u32>()?)
    }
}
