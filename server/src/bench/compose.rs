//! `ekphrasis bench compose`: MusicGen-small's speed with random full-size weights built from
//! the published config (no download), or a checkpoint folder's (`--model`): decoder steps per
//! second, real-time factor, time to the first streamed audio chunk and peak memory; optionally
//! beside transformers on the same config, step count and machine (random weights only).
//! Figures, not pass/fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;
use candle_core::{DType, Device};
use clap::Args;
use ekphrasis_models::device::{DeviceChoice, compute_dtype, kind_name};
use ekphrasis_models::encodec_stream::{StreamOptions, StreamingDecoder};
use ekphrasis_models::musicgen::{Config, GenerateOptions, MusicGen, Quantization, Sampling};

use super::{argmax, folder, log_softmax_at, peak_rss_gib};

/// Flags of `ekphrasis bench compose`.
#[derive(Debug, Args)]
pub struct BenchComposeArgs {
    /// Seconds of music to generate (50 decoder steps each).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Text tokens in the (random) prompt.
    #[arg(long, default_value_t = 12)]
    pub text_tokens: usize,
    /// Time this MusicGen checkpoint folder (Hugging Face layout: facebook/musicgen-small, or
    /// the `musicgen/` of `ekphrasis models tiny`) instead of random full-size weights.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Quantize the decoder (q8_0 or q4k) and measure its quality cost against f32.
    #[arg(long)]
    pub quantize: Option<Quantization>,
    /// Generations to time; the figures printed are the median run's (this machine's speed
    /// varies from minute to minute), each run's steps/s listed beside them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub runs: u32,
    /// Also run transformers' MusicGen with this Python (which has torch and transformers), on
    /// random weights at the published size (not with `--model`).
    #[arg(long)]
    pub reference_python: Option<PathBuf>,
    /// The transformers script.
    #[arg(long, default_value = "models/bench/musicgen_transformers.py")]
    pub reference_script: PathBuf,
}

/// Runs the benchmark.
pub fn run(args: BenchComposeArgs) -> anyhow::Result<()> {
    if let (Some(model), Some(_)) = (&args.model, &args.reference_python) {
        anyhow::bail!(
            "--reference-python times transformers at the published size with random weights, \
             not {}: leave out one of --model and --reference-python",
            model.display()
        );
    }
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let dtype = compute_dtype(&device);
    let started = Instant::now();
    let mut musicgen = build(args.model.as_deref(), &device, dtype)?;
    if let Some(quantization) = args.quantize {
        musicgen.quantize_decoder(quantization)?;
    }
    let setup_time = started.elapsed();
    let config = musicgen.config().clone();
    let frame_rate = config.audio_encoder.frame_rate();
    let frames = (args.seconds * frame_rate as f64).round().max(1.0) as usize;
    // Ids valid in any vocabulary (the published one's are unchanged by the modulo).
    let vocab = config.text_encoder.vocab_size as u32;
    let tokens: Vec<u32> = (0..args.text_tokens as u32)
        .map(|i| (100 + 37 * i) % vocab)
        .collect();
    let options = GenerateOptions {
        frames,
        guidance: 3.0,
        sampling: Sampling::DEFAULT,
        seed: 1,
        ..GenerateOptions::default()
    };
    let weights = match args.quantize {
        Some(q) => format!("decoder {q:?}, the rest {dtype:?}"),
        None => format!("{dtype:?}"),
    };
    let device_name = kind_name(&device);
    let (timed, setup) = match &args.model {
        Some(dir) => (
            format!("MusicGen from {}", dir.display()),
            "loading weights",
        ),
        None => (
            "MusicGen-small, random weights from the published config".to_owned(),
            "building weights",
        ),
    };
    println!("{timed}, {device_name}, {weights}");
    println!("  {:<36}{:>10.1} s", setup, setup_time.as_secs_f64());
    let mut runs = (0..args.runs)
        .map(|_| measure(&mut musicgen, &tokens, &options))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if runs.len() > 1 {
        let each: Vec<String> = runs
            .iter()
            .map(|r| format!("{:.2}", r.steps_per_second()))
            .collect();
        println!("  {:<36}{:>10}", "steps/s of each run", each.join(" "));
    }
    runs.sort_by(|a, b| a.steps_per_second().total_cmp(&b.steps_per_second()));
    let run = runs.swap_remove(runs.len() / 2);
    run.print(frame_rate);
    println!(
        "  {:<36}{:>10.2} GiB",
        "peak memory (RSS)",
        peak_rss_gib().unwrap_or(f64::NAN)
    );

    if args.quantize.is_some() {
        println!("quality against the f32 decoder (teacher-forced on the f32 model's choices):");
        let mut reference = build(args.model.as_deref(), &device, dtype)?;
        let codes = reference.generate_from_tokens(
            &tokens,
            &options_one_window(&options, &reference),
            &AtomicBool::new(false),
            |_, _| {},
        )?;
        let want = reference.scores_for(&tokens, &codes, options.guidance)?;
        let got = musicgen.scores_for(&tokens, &codes, options.guidance)?;
        let quality = Quality::compare(&want, &got, &codes);
        println!(
            "  {:<36}{:>10.4}",
            "top-1 agreement with f32", quality.agreement
        );
        println!(
            "  {:<36}{:>10.4}",
            "mean log-prob of f32 choices, f32", quality.reference_log_prob
        );
        println!(
            "  {:<36}{:>10.4}",
            "mean log-prob of f32 choices, quant.", quality.log_prob
        );
    }

    if let Some(python) = &args.reference_python {
        let steps = frames + config.decoder.num_codebooks - 1;
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
        println!("  {:<36}{:>10.2}", "transformers steps/s", theirs);
        println!(
            "  {:<36}{:>10.2} GiB",
            "transformers peak memory (RSS)",
            report["peak_rss_gib"].as_f64().unwrap_or(f64::NAN)
        );
        println!(
            "  {:<36}{:>10.2}x",
            "ours / transformers",
            run.steps_per_second() / theirs
        );
    }
    Ok(())
}

/// The MusicGen timed: the checkpoint in `model`, else random weights at the published size.
fn build(model: Option<&Path>, device: &Device, dtype: DType) -> anyhow::Result<MusicGen> {
    match model {
        Some(dir) => folder::musicgen(dir, device, dtype),
        None => Ok(MusicGen::random(
            Config::musicgen_small(),
            0,
            device,
            dtype,
        )?),
    }
}

/// The options limited to one window, so teacher forcing sees exactly what was generated.
fn options_one_window(options: &GenerateOptions, musicgen: &MusicGen) -> GenerateOptions {
    GenerateOptions {
        frames: options.frames.min(musicgen.max_frames()),
        ..options.clone()
    }
}

/// One measured generation with streaming decode.
struct Measured {
    steps: usize,
    frames: usize,
    samples: usize,
    generation: Duration,
    decode: Duration,
    total: Duration,
    first_audio: Option<Duration>,
}

impl Measured {
    fn steps_per_second(&self) -> f64 {
        self.steps as f64 / self.generation.as_secs_f64()
    }

    fn print(&self, frame_rate: usize) {
        let audio_seconds = self.frames as f64 / frame_rate as f64;
        println!(
            "  {:<36}{:>10} ({audio_seconds:.2} s of audio, {} samples)",
            "decoder steps", self.steps, self.samples
        );
        println!(
            "  {:<36}{:>10.2}",
            "decoder steps/s (guidance 3)",
            self.steps_per_second()
        );
        println!(
            "  {:<36}{:>10.2} s",
            "streaming decode, all chunks",
            self.decode.as_secs_f64()
        );
        println!(
            "  {:<36}{:>10.2} s",
            "time to first audio chunk",
            self.first_audio.map_or(f64::NAN, |t| t.as_secs_f64())
        );
        println!(
            "  {:<36}{:>10.2}",
            "real-time factor (time / audio)",
            self.total.as_secs_f64() / audio_seconds
        );
    }
}

fn measure(
    musicgen: &mut MusicGen,
    tokens: &[u32],
    options: &GenerateOptions,
) -> anyhow::Result<Measured> {
    let cancel = AtomicBool::new(false);
    // Warm up allocations and caches with a few steps.
    let warm = GenerateOptions {
        frames: 4,
        ..options.clone()
    };
    musicgen.generate_from_tokens(tokens, &warm, &cancel, |_, _| {})?;

    let codebooks = musicgen.config().decoder.num_codebooks;
    let mut stream =
        StreamingDecoder::new(musicgen.audio_decoder().clone(), StreamOptions::default());
    let mut decode = Duration::ZERO;
    let mut first_audio = None;
    let mut samples = 0usize;
    let mut stream_error = None;
    let started = Instant::now();
    musicgen.generate_from_tokens(tokens, options, &cancel, |_, frame| {
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
        decode += decode_started.elapsed();
    })?;
    if let Some(e) = stream_error {
        return Err(e).context("streaming decode");
    }
    let decode_started = Instant::now();
    samples += stream.finish()?.len();
    decode += decode_started.elapsed();
    let total = started.elapsed();
    Ok(Measured {
        steps: options.frames + codebooks - 1,
        frames: options.frames,
        samples,
        generation: total.saturating_sub(decode),
        decode,
        total,
        first_audio,
    })
}

/// How close a quantized decoder's choices are to the f32 decoder's.
struct Quality {
    /// Share of (frame, codebook) where both decoders' most likely code is the same.
    agreement: f64,
    /// Mean log-probability the f32 decoder gives its own choices.
    reference_log_prob: f64,
    /// Mean log-probability the quantized decoder gives the f32 decoder's choices.
    log_prob: f64,
}

impl Quality {
    fn compare(want: &[Vec<Vec<f32>>], got: &[Vec<Vec<f32>>], codes: &[Vec<u32>]) -> Self {
        let (mut agree, mut count, mut reference, mut ours) = (0usize, 0usize, 0.0, 0.0);
        for (f, (w, g)) in want.iter().zip(got).enumerate() {
            for (k, (w, g)) in w.iter().zip(g).enumerate() {
                let chosen = codes[k][f] as usize;
                agree += usize::from(argmax(w) == argmax(g));
                reference += log_softmax_at(w, chosen);
                ours += log_softmax_at(g, chosen);
                count += 1;
            }
        }
        let n = count.max(1) as f64;
        Quality {
            agreement: agree as f64 / n,
            reference_log_prob: reference / n,
            log_prob: ours / n,
        }
    }
}
