//! `ekphrasis bench train`: how fast MusicGen-small fine-tunes here, with random full-size weights
//! built from the published config (no download), or a checkpoint folder's (`--model`, loaded as
//! `ekphrasis train musicgen` loads it): optimizer steps per second, decoder tokens per second and
//! peak memory for a batch of clips, plus the arithmetic of one step of MusicGen-small as the
//! paper ran it (16 clips of 30 s), so a user can size a GPU run. Figures, not pass/fail.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use clap::Args;
use ekphrasis_models::device::{DeviceChoice, kind_name};
use ekphrasis_models::musicgen::Config;
use ekphrasis_models::musicgen::finetune::{
    BatchPlan, Example, Freeze, Schedule, ScheduleKind, StepSettings, TrainableMusicGen, Trainer,
    epoch_batches,
};
use ekphrasis_models::random_weights::RandomWeights;

use super::{folder, peak_rss_gib};

/// Flags of `ekphrasis bench train`.
#[derive(Debug, Args)]
pub struct BenchTrainArgs {
    /// Seconds of music a clip (50 frames each).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Clips a batch.
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Optimizer steps timed (after one untimed step).
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Decoder layers frozen (with the codebook embeddings).
    #[arg(long, default_value_t = 0)]
    pub freeze_layers: usize,
    /// Keep every layer's graph instead of recomputing layers during backward.
    #[arg(long)]
    pub full_graph: bool,
    /// Text tokens a clip's condition has.
    #[arg(long, default_value_t = 24)]
    pub text_tokens: usize,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Train this MusicGen checkpoint folder (Hugging Face layout: facebook/musicgen-small, or
    /// the `musicgen/` of `ekphrasis models tiny`) instead of random full-size weights.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// The floating-point operations of one training step (forward and backward, about three times
/// the forward's) for `clips` clips of `frames` frames and `text` text tokens: the matrix
/// products of every layer and head, and attention's scores and sums.
pub fn step_flops(config: &Config, clips: usize, frames: usize, text: usize) -> f64 {
    let d = &config.decoder;
    let (h, f, v, k, layers) = (
        d.hidden_size as f64,
        d.ffn_dim as f64,
        d.vocab_size as f64,
        d.num_codebooks as f64,
        d.num_hidden_layers as f64,
    );
    let t = (frames + d.num_codebooks - 1) as f64;
    let s = text as f64;
    let d_text = config.text_encoder.d_model as f64;
    // Per position: self-attention's four projections, cross-attention's query and output,
    // the feed-forward, and the heads; 2 operations a multiply-add.
    let per_position = layers * (4.0 * h * h + 2.0 * h * h + 2.0 * h * f) + k * h * v;
    let dense = 2.0 * t * per_position;
    // Cross-attention's keys and values over the text, and the text projection.
    let text_side = 2.0 * s * (layers * 2.0 * h * h + d_text * h);
    // Scores and weighted sums: t² for the causal self-attention, t·s for the cross-attention.
    let attention = layers * 2.0 * 2.0 * h * (t * t + t * s);
    3.0 * clips as f64 * (dense + text_side + attention)
}

/// Runs the benchmark.
pub fn run(args: BenchTrainArgs) -> anyhow::Result<()> {
    if args.batch_size == 0 || args.steps == 0 || !(args.seconds.is_finite() && args.seconds > 0.0)
    {
        anyhow::bail!("--batch-size, --steps and --seconds must be positive");
    }
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let started = Instant::now();
    let freeze = Freeze {
        layers: args.freeze_layers,
    };
    let (config, mut model) = build(args.model.as_deref(), freeze, &device)?;
    let frames = (args.seconds * config.audio_encoder.frame_rate() as f64).round() as usize;
    model.seed_dropout(0)?;
    model.set_recompute(!args.full_graph);
    let trainable: usize = model
        .trainable()
        .iter()
        .map(|(_, v)| v.as_tensor().elem_count())
        .sum();
    let (timed, setup) = match &args.model {
        Some(dir) => (
            format!("MusicGen fine-tuning from {}", dir.display()),
            "loading weights",
        ),
        None => (
            "MusicGen-small fine-tuning, random weights from the published config".to_owned(),
            "building weights",
        ),
    };
    let graph = if args.full_graph {
        "whole graph"
    } else {
        "layers recomputed"
    };
    println!("{timed}, {}, f32, {graph}", kind_name(&device));
    println!("  {:<40}{:>10.1} s", setup, started.elapsed().as_secs_f64());
    println!("  {:<40}{:>10}", "trained weights", trainable);
    let vocab = config.decoder.vocab_size as u32;
    let examples: Vec<Example> = (0..args.batch_size)
        .map(|b| {
            let codes = (0..config.decoder.num_codebooks)
                .map(|q| {
                    (0..frames)
                        .map(|t| ((b * 7919 + q * 104_729 + t * 31) as u32) % vocab)
                        .collect()
                })
                .collect();
            let states = Tensor::randn(
                0f32,
                1.0,
                (args.text_tokens, config.text_encoder.d_model),
                &device,
            )?;
            Ok(Example { codes, states })
        })
        .collect::<anyhow::Result<_>>()?;
    let plan = BatchPlan {
        batch_size: args.batch_size,
        shuffle_seed: None,
        cfg_dropout: 0.1,
        dropout_seed: 0,
        pad: config.decoder.pad_token_id(),
        start: config.decoder.decoder_start_token_id(),
    };
    let batch = epoch_batches(&examples, &plan, 0, &device)?;
    let mut trainer = Trainer::new(
        &model,
        StepSettings {
            lr: 1e-5,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.01,
            schedule: Schedule {
                kind: ScheduleKind::Constant,
                warmup_steps: 0,
                total_steps: args.steps + 1,
            },
            clip_grad: 0.5,
        },
    )?;
    model.set_training(true);
    trainer.step(&model, &batch)?;
    device.synchronize()?;
    let started = Instant::now();
    for _ in 0..args.steps {
        trainer.step(&model, &batch)?;
    }
    device.synchronize()?;
    let seconds = started.elapsed().as_secs_f64() / args.steps as f64;
    let positions = args.batch_size * (frames + config.decoder.num_codebooks - 1);
    let flops = step_flops(&config, args.batch_size, frames, args.text_tokens);
    println!(
        "  {:<40}{:>10} ({} clips of {:.1} s)",
        "decoder positions a step", positions, args.batch_size, args.seconds
    );
    println!("  {:<40}{:>10.3}", "optimizer steps/s", 1.0 / seconds);
    println!("  {:<40}{:>10.1}", "seconds a step", seconds);
    println!(
        "  {:<40}{:>10.1}",
        "decoder positions/s",
        positions as f64 / seconds
    );
    println!(
        "  {:<40}{:>10.2}",
        "TFLOP/s reached",
        flops / seconds / 1e12
    );
    println!(
        "  {:<40}{:>10.2} GiB",
        "peak memory (RSS)",
        peak_rss_gib().unwrap_or(f64::NAN)
    );
    let paper = step_flops(&Config::musicgen_small(), 16, 1500, args.text_tokens);
    println!("one step of MusicGen-small as the paper ran it (16 clips of 30 s):");
    println!("  {:<40}{:>10.2e}", "floating-point operations", paper);
    println!(
        "  {:<40}{:>10.1}",
        "seconds at this rate",
        paper / (flops / seconds)
    );
    Ok(())
}

/// The model trained: the checkpoint in `model`, else random weights at the published size.
fn build(
    model: Option<&Path>,
    freeze: Freeze,
    device: &Device,
) -> anyhow::Result<(Config, TrainableMusicGen)> {
    match model {
        Some(dir) => folder::trainable_musicgen(dir, freeze, device),
        None => {
            let config = Config::musicgen_small();
            let vb = RandomWeights::new(0).var_builder(DType::F32, device);
            let model = TrainableMusicGen::new(&config, freeze, vb)?;
            Ok((config, model))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paper_step_is_about_six_times_the_weights_times_the_positions() {
        let config = Config::musicgen_small();
        let flops = step_flops(&config, 16, 1500, 24);
        // 6 · N · T with N the decoder's matrices (~420 M with the heads) and T = 16 · 1503,
        // plus attention: between 5e13 and 1e14.
        assert!((5e13..1e14).contains(&flops), "{flops:e}");
        assert!(step_flops(&config, 2, 1500, 24) * 8.0 - flops < 1.0);
    }
}
