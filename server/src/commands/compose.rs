//! `ekphrasis compose`: text to music with MusicGen from the command line, the same model code
//! the server runs. Writes the codes (`--codes-out`) and the audio decoded from exactly those
//! codes (`--out`).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use ekphrasis_models::device::{DeviceChoice, compute_dtype};
use ekphrasis_models::musicgen::{GenerateOptions, MusicGen, Sampling};

use super::common::report::loaded;
use crate::audio::wav;
use crate::checkpoints::catalog;
use crate::checkpoints::quantize::QuantizeChoice;

/// Flags of `ekphrasis compose`.
#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// MusicGen checkpoint: a directory in Hugging Face layout, or a hub id [default:
    /// MODELS/musicgen/, else facebook/musicgen-small].
    #[arg(long, env = "EKPHRASIS_MUSICGEN")]
    pub musicgen: Option<String>,
    /// Folder of model checkpoints, one sub-folder a role (musicgen/ is used here).
    #[arg(long, env = "EKPHRASIS_MODELS")]
    pub models: Option<std::path::PathBuf>,
    /// What the music should be.
    #[arg(long)]
    pub text: String,
    /// EnCodec frames to generate after the delay is undone (50 per second).
    #[arg(long, conflicts_with = "seconds", required_unless_present = "seconds")]
    pub frames: Option<usize>,
    /// Seconds of music, instead of --frames.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Take the most likely token instead of sampling.
    #[arg(long)]
    pub greedy: bool,
    /// Classifier-free guidance scale (1 runs the conditional branch only).
    #[arg(long, default_value_t = 3.0)]
    pub guidance: f64,
    /// Sample among the k most likely tokens.
    #[arg(long, default_value_t = 250)]
    pub top_k: usize,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Sampling seed [default: random, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to write the mono WAV.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where to write the codes as JSON `{"codes": [[…], …]}`.
    #[arg(long)]
    pub codes_out: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// The decoder's weights: auto (q4k on a CPU, as measured best; on CUDA as loaded), none,
    /// q8_0 or q4k. Quantized is faster on a CPU, the music slightly different.
    #[arg(long, env = "EKPHRASIS_QUANTIZE", default_value = "auto")]
    pub quantize: QuantizeChoice,
}

/// Runs the command.
pub fn run(args: ComposeArgs) -> anyhow::Result<()> {
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let dir = catalog::locate(
        &catalog::MUSICGEN,
        args.musicgen.as_deref(),
        args.models.as_deref(),
    )?;
    let started = Instant::now();
    let mut musicgen = MusicGen::load(&dir, &device, compute_dtype(&device))?;
    if let Some(quantization) = args.quantize.for_musicgen(&device, musicgen.config()) {
        musicgen.quantize_decoder(quantization)?;
    }
    loaded(&dir, &device, started);
    let frame_rate = musicgen.config().audio_encoder.frame_rate();
    let frames = match (args.frames, args.seconds) {
        (Some(frames), _) => frames,
        (None, Some(seconds)) if seconds.is_finite() && seconds > 0.0 => {
            (seconds * frame_rate as f64).round() as usize
        }
        (None, _) => anyhow::bail!("--seconds must be a positive number"),
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let sampling = if args.greedy {
        Sampling::Greedy
    } else {
        Sampling::TopK {
            top_k: args.top_k,
            temperature: args.temperature,
        }
    };
    let options = GenerateOptions {
        frames,
        guidance: args.guidance,
        sampling,
        seed,
        ..GenerateOptions::default()
    };
    if !args.greedy {
        eprintln!("seed {seed}");
    }
    let started = Instant::now();
    let report_every = frame_rate.max(1);
    let codes = musicgen.generate(&args.text, &options, &AtomicBool::new(false), |f, _| {
        if (f + 1) % report_every == 0 || f + 1 == frames {
            eprintln!("  {} / {frames} frames", f + 1);
        }
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let seconds = frames as f64 / frame_rate as f64;
    eprintln!(
        "generated {seconds:.2} s of music in {elapsed:.1} s (real-time factor {:.2})",
        elapsed / seconds
    );

    if let Some(path) = &args.codes_out {
        let json = serde_json::json!({ "codes": codes });
        std::fs::write(path, json.to_string())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.out {
        let samples = musicgen.decode(&codes)?;
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        wav::write(&mut file, musicgen.sample_rate(), 1, &samples)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
