//! `ekphrasis train emotion --data DIR --out DIR`: trains the emotion head on a folder-per-emotion
//! dataset with a frozen ResNet-50 backbone, drawing progress bars for feature caching and
//! epochs, then printing the held-out accuracy and the confusion matrix.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use ekphrasis_models::device::{DeviceChoice, kind_name};
use ekphrasis_models::emotion::resnet_bigru::HeadConfig;
use ekphrasis_models::train::{Backbone, FitOptions, TrainEvent, TrainOptions, train_emotion};
use ekphrasis_shared::domain::Emotion;
use indicatif::{ProgressBar, ProgressStyle};

use crate::checkpoints::hub;
use crate::config::ServeConfig;
use crate::upload::decode_rgb;

/// Flags of `ekphrasis train emotion`.
#[derive(Debug, Args)]
pub struct TrainEmotionArgs {
    /// Dataset folder with one sub-folder of images per emotion: happy, angry, sad, fun, neutral.
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the model (config.json, model.safetensors, preprocessor_config.json); it
    /// also keeps the feature cache, so a rerun skips images already seen.
    #[arg(long)]
    pub out: PathBuf,
    /// The ResNet backbone: a checkpoint directory or a hub id.
    #[arg(long, default_value = "microsoft/resnet-50")]
    pub backbone: String,
    /// The most epochs to run.
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// Images per optimiser step.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// AdamW's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// AdamW's weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Stop after this many epochs without a better held-out result.
    #[arg(long, default_value_t = 8)]
    pub patience: usize,
    /// Share of every class held out for judging.
    #[arg(long, default_value_t = 0.2)]
    pub held_out: f64,
    /// Seed of the split, the initial weights, the batch order and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// GRU hidden size per direction.
    #[arg(long, default_value_t = 128)]
    pub gru_hidden: usize,
    /// Self-attention heads (they must divide 2 × --gru-hidden).
    #[arg(long, default_value_t = 4)]
    pub attention_heads: usize,
    /// Dropout before the classifier.
    #[arg(long, default_value_t = 0.3)]
    pub dropout: f64,
    /// Images per backbone pass while computing features.
    #[arg(long, default_value_t = 8)]
    pub feature_batch: usize,
    /// Largest accepted image in pixels (width × height).
    #[arg(long, default_value_t = ServeConfig::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
}

/// Runs `ekphrasis train emotion`.
pub fn run(args: TrainEmotionArgs) -> anyhow::Result<()> {
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let backbone_dir = hub::resolve(&args.backbone, &crate::checkpoints::catalog::RESNET.files)?;
    let started = Instant::now();
    let backbone = Backbone::load(&backbone_dir, &device)
        .with_context(|| format!("loading the backbone {}", backbone_dir.display()))?;
    eprintln!(
        "backbone {} ({} channels) on {} in {:.1} s",
        backbone_dir.display(),
        backbone.feature_size(),
        kind_name(&device),
        started.elapsed().as_secs_f64()
    );
    let options = TrainOptions {
        fit: FitOptions {
            epochs: args.epochs,
            batch_size: args.batch_size,
            learning_rate: args.learning_rate,
            weight_decay: args.weight_decay,
            patience: args.patience,
            seed: args.seed,
        },
        head: HeadConfig {
            gru_hidden: args.gru_hidden,
            attention_heads: args.attention_heads,
            dropout: args.dropout,
            ..HeadConfig::default()
        },
        held_out: args.held_out,
        feature_batch: args.feature_batch,
    };
    let max_pixels = args.max_pixels;
    let decode = move |bytes: &[u8]| decode_rgb(bytes, max_pixels);
    let mut bars = Bars::default();
    let report = train_emotion(
        &args.data,
        &args.out,
        &backbone,
        &options,
        &decode,
        &mut |event| bars.show(event),
    );
    bars.finish();
    let report = report?;

    println!(
        "features: {} computed ({:.2} images/s), {} from the cache",
        report.computed,
        report.feature_throughput(),
        report.from_cache
    );
    println!(
        "trained on {} images, judged on {} held out; best epoch {} of {}",
        report.train_count,
        report.held_out_count,
        report.best_epoch,
        report.epochs.len()
    );
    println!("held-out accuracy: {:.4}", report.held_out_accuracy);
    println!("confusion matrix (held out; rows true, columns predicted):");
    print!("{}", report.confusion);
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The progress bars: one for feature caching, then one for epochs.
#[derive(Default)]
struct Bars {
    features: Option<ProgressBar>,
    epochs: Option<ProgressBar>,
}

impl Bars {
    fn show(&mut self, event: TrainEvent<'_>) {
        match event {
            TrainEvent::Scanned { per_class, skipped } => {
                let counts: Vec<String> = Emotion::ALL
                    .iter()
                    .zip(per_class)
                    .map(|(e, n)| format!("{e} {n}"))
                    .collect();
                eprintln!("dataset: {}", counts.join(", "));
                if !skipped.is_empty() {
                    eprintln!("skipped {} entries that are not images:", skipped.len());
                    for path in skipped.iter().take(10) {
                        eprintln!("  {}", path.display());
                    }
                }
            }
            TrainEvent::Features {
                done,
                total,
                from_cache,
            } => {
                let bar = self
                    .features
                    .get_or_insert_with(|| bar(total as u64, "features"));
                bar.set_position(done as u64);
                bar.set_message(format!("{from_cache} from the cache"));
                if done == total {
                    bar.finish();
                }
            }
            TrainEvent::Epoch { record, of } => {
                let bar = self.epochs.get_or_insert_with(|| bar(of as u64, "epochs"));
                let line = format!(
                    "epoch {:>3}: train loss {:.4}, held-out loss {:.4}, held-out accuracy {:.4}{} ({:.1} s)",
                    record.epoch,
                    record.train_loss,
                    record.held_out_loss,
                    record.held_out_accuracy,
                    if record.best { " *" } else { "" },
                    record.seconds
                );
                bar.suspend(|| println!("{line}"));
                bar.set_position(record.epoch as u64);
                bar.set_message(format!("accuracy {:.3}", record.held_out_accuracy));
            }
        }
    }

    fn finish(&mut self) {
        for bar in [self.features.take(), self.epochs.take()]
            .into_iter()
            .flatten()
        {
            bar.finish();
        }
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(&format!(
        "{what:>8} [{{bar:30}}] {{pos}}/{{len}} {{msg}} ({{elapsed}}, eta {{eta}})"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}
