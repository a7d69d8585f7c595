//! `ekphrasis bench compose`: MusicGen-small's speed with random full-size weights built from
//! the published config (no download): decoder steps per second, real-time factor, time to the
//! first streamed audio chunk and peak memory; optionally beside transformers on the same
//! config, step count and machine. Figures, not pass/fail.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use ekphrasis_models::device::{DeviceChoice, compute_dtype};
use ekphrasis_models::encodec_stream::{StreamOptions, StreamingDecoder};
use ekphrasis_models::musicgen::{Config, GenerateOptions, MusicGen, Sampling};

/// What to measure.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// MusicGen-small text-to-music speed.
    Compose(BenchComposeArgs),
}

/// Flags of `ekphrasis bench compose`.
#[derive(Debug, Args)]
pub struct BenchComposeArgs {
    /// Seconds of music to generate (50 decoder steps each).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Text tokens in the (random) prompt.
    #[arg(long, default_value_t = 12)]
    pub text_tokens: usize,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Also run transformers' MusicGen with this Python (which has torch and transformers).
    #[arg(long)]
    pub reference_python: Option<PathBuf>,
    /// The transformers script.
    #[arg(long, default_value = "models/bench/musicgen_transformers.py")]
    pub reference_script: PathBuf,
}

/// Runs a benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Compose(args) => compose(args),
    }
}

fn compose(args: BenchComposeArgs) -> anyhow::Result<()> {
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let dtype = compute_dtype(&device);
    let config = Config::musicgen_small();
    let frame_rate = config.audio_encoder.frame_rate();
    let frames = (args.seconds * frame_rate as f64).round().max(1.0) as usize;
    let steps = frames + config.decoder.num_codebooks - 1;

    let started = Instant::now();
    let mut musicgen = MusicGen::random(config, 0, &device, dtype)?;
    let build = started.elapsed();

    let tokens: Vec<u32> = (0..args.text_tokens as u32).map(|i| 100 + 37 * i).collect();
    let options = GenerateOptions {
        frames,
        guidance: 3.0,
        sampling: Sampling::DEFAULT,
        seed: 1,
    };
    let cancel = AtomicBool::new(false);
    // Warm up allocations and caches with a few steps.
    let warm = GenerateOptions {
        frames: 4,
        ..options.clone()
    };
    musicgen.generate_from_tokens(&tokens, &warm, &cancel, |_, _| {})?;

    let mut stream =
        StreamingDecoder::new(musicgen.audio_decoder().clone(), StreamOptions::default());
    let mut decode_time = Duration::ZERO;
    let mut first_audio = None;
    let mut samples = 0usize;
    let mut stream_error = None;
    let started = Instant::now();
    musicgen.generate_from_tokens(&tokens, &options, &cancel, |_, frame| {
        let decode_started = Instant::now();
        match stream.push(frame) {
            Ok(pcm) => {
                samples += pcm.len();
                if !pcm.is_empty() && first_audio.is_none() {
                    first_audio = Some(started.elapsed());
                }
            }
            Err(e) => stream_error = Some(e),
        }
        decode_time += decode_started.elapsed();
    })?;
    if let Some(e) = stream_error {
        return Err(e).context("streaming decode");
    }
    let decode_started = Instant::now();
    samples += stream.finish()?.len();
    decode_time += decode_started.elapsed();
    let total = started.elapsed();
    let generation = total.saturating_sub(decode_time);
    let audio_seconds = frames as f64 / frame_rate as f64;

    let device_name = if device.is_cuda() { "CUDA" } else { "CPU" };
    println!("MusicGen-small, random weights from the published config, {device_name} {dtype:?}");
    println!(
        "  {:<34}{:>10.1} s",
        "building weights",
        build.as_secs_f64()
    );
    println!(
        "  {:<34}{:>10} ({audio_seconds:.2} s of audio, {samples} samples)",
        "decoder steps", steps
    );
    println!(
        "  {:<34}{:>10.2}",
        "decoder steps/s (guidance 3)",
        steps as f64 / generation.as_secs_f64()
    );
    println!(
        "  {:<34}{:>10.2} s",
        "streaming decode, all chunks",
        decode_time.as_secs_f64()
    );
    println!(
        "  {:<34}{:>10.2} s",
        "time to first audio chunk",
        first_audio.map_or(f64::NAN, |t| t.as_secs_f64())
    );
    println!(
        "  {:<34}{:>10.2}",
        "real-time factor (time/audio)",
        total.as_secs_f64() / audio_seconds
    );
    println!(
        "  {:<34}{:>10.2} GiB",
        "peak memory (RSS)",
        peak_rss_gib().unwrap_or(f64::NAN)
    );

    if let Some(python) = &args.reference_python {
        println!("transformers on the same config, steps and machine:");
        let output = Command::new(python)
            .arg(&args.reference_script)
            .args([
                "--steps",
                &steps.to_string(),
                "--text-tokens",
                &args.text_tokens.to_string(),
            ])
            .output()
            .with_context(|| format!("running {}", python.display()))?;
        if !output.status.success() {
            anyhow::bail!(
                "the reference script failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .context("the reference script's output is not JSON")?;
        let theirs = report["steps_per_second"].as_f64().unwrap_or(f64::NAN);
        let ours = steps as f64 / generation.as_secs_f64();
        println!("  {:<34}{:>10.2}", "transformers steps/s", theirs);
        println!(
            "  {:<34}{:>10.2}",
            "transformers peak memory (GiB)",
            report["peak_rss_gib"].as_f64().unwrap_or(f64::NAN)
        );
        println!("  {:<34}{:>10.2}x", "ours / transformers", ours / theirs);
    }
    Ok(())
}

/// The process's peak resident memory, from /proc (Linux).
fn peak_rss_gib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / (1024.0 * 1024.0))
}
