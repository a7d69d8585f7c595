//! `ekphrasis bench chain`: the whole chain at full size with random weights built from the
//! published configs (no download), or from a model folder (`--models`), through the same
//! `Pipeline::run` as `ekphrasis generate`: for each of the paper's variants, each stage's
//! seconds, the time to the first audio chunk, the whole time, and peak memory
//! ([`super::full_size`] builds the random models, [`super::folder`] loads a folder's). With
//! random weights Falcon-RW's words are noise, so its description falls back, after generating
//! every token.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ekphrasis_models::blip::CaptionOptions;
use ekphrasis_models::device::{DeviceChoice, compute_dtype, kind_name};
use ekphrasis_models::falcon_rw;
use ekphrasis_models::musicgen::{GenerateOptions, Quantization, Sampling};
use ekphrasis_models::pipeline::{Event, Pipeline, Request};
use ekphrasis_shared::domain::{Stage, Variant};

use super::{folder, full_size, peak_rss_gib};
use crate::checkpoints::model_set::LoadOptions;
use crate::checkpoints::quantize::QuantizeChoice;

/// Flags of `ekphrasis bench chain`.
#[derive(Debug, Args)]
pub struct BenchChainArgs {
    /// Seconds of music.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// New tokens of the description (the paper's two lines are about 60).
    #[arg(long, default_value_t = 60)]
    pub description_tokens: usize,
    /// Quantize Falcon-RW's and MusicGen's decoder weights (q8_0 or q4k), as `generate
    /// --quantize` does.
    #[arg(long)]
    pub quantize: Option<Quantization>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Measure one variant (emotive, narrative, lyrical, optimized) instead of all four.
    #[arg(long, value_parser = crate::commands::common::values::parse_variant)]
    pub variant: Option<Variant>,
    /// Time the models of this folder (as `ekphrasis models tiny` writes it: `emotion/` or
    /// `clip/`, `blip/`, `falcon/`, `musicgen/`) instead of random full-size weights; the
    /// optimized variant composes with a second copy of its MusicGen.
    #[arg(long)]
    pub models: Option<PathBuf>,
}

/// Runs the benchmark.
pub fn run(args: BenchChainArgs) -> anyhow::Result<()> {
    let device_choice = args.device.parse::<DeviceChoice>()?;
    let device = device_choice.open()?;
    let dtype = compute_dtype(&device);
    let variants = args.variant.map_or(Variant::ALL.to_vec(), |v| vec![v]);
    let timed = match &args.models {
        Some(dir) => format!("The chain from {}", dir.display()),
        None => "The chain, full size, random weights from the published configs".to_owned(),
    };
    println!("{timed}, {}, {dtype:?}", kind_name(&device));
    let started = Instant::now();
    let quantize = args
        .quantize
        .map_or(QuantizeChoice::Off, QuantizeChoice::Every);
    let mut pipeline = match &args.models {
        Some(dir) => {
            let options = LoadOptions {
                device: device_choice,
                quantize,
            };
            let pipeline = folder::chain(dir, &variants, &options)?;
            row("loading weights", started.elapsed());
            pipeline
        }
        None => {
            let models = full_size::models(&variants, &device, quantize)?;
            row("building weights", started.elapsed());
            Pipeline::new(models)
        }
    };
    let models = pipeline.models();
    let composer = models
        .musicgen
        .as_ref()
        .or(models.tuned.first().map(|(_, m)| m));
    let composer = composer.context("no variant to compose")?;
    let frame_rate = composer.config().audio_encoder.frame_rate();
    let sample_rate = composer.sample_rate() as f64;

    let mut request = Request {
        variant: Variant::Lyrical,
        caption: CaptionOptions::default(),
        describe: falcon_rw::GenerateOptions {
            max_new_tokens: args.description_tokens,
            // No early end: every requested token is generated and timed.
            eos_token_ids: Some(Vec::new()),
            ..falcon_rw::GenerateOptions::default()
        },
        compose: GenerateOptions {
            frames: (args.seconds * frame_rate as f64).round().max(1.0) as usize,
            sampling: Sampling::DEFAULT,
            seed: 1,
            ..GenerateOptions::default()
        },
        description: None,
    };
    let painting = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    }));

    let mut summary = Vec::new();
    for variant in variants {
        request.variant = variant;
        println!("{variant}:");
        let (first, total) = run_once(&mut pipeline, &painting, &request, sample_rate)?;
        summary.push((variant, first, total));
    }
    println!("Summary ({} s of music):", args.seconds);
    println!(
        "  {:<12}{:>22}{:>14}",
        "variant", "time to first audio", "whole chain"
    );
    for (variant, first, total) in summary {
        let first = first.map_or("-".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()));
        println!(
            "  {:<12}{first:>22}{:>12.2} s",
            variant.as_str(),
            total.as_secs_f64()
        );
    }
    println!(
        "  {:<36}{:>10.2} GiB",
        "peak memory (RSS)",
        peak_rss_gib().unwrap_or(f64::NAN)
    );
    Ok(())
}

/// Runs the chain once, printing each stage's time; answers the time to the first audio chunk
/// and the whole time.
fn run_once(
    pipeline: &mut Pipeline,
    painting: &image::DynamicImage,
    request: &Request,
    sample_rate: f64,
) -> anyhow::Result<(Option<Duration>, Duration)> {
    let started = Instant::now();
    let mut marks: Vec<(Stage, Duration)> = Vec::new();
    let mut first_audio = None;
    let mut samples = 0usize;
    let mut description_tokens = 0usize;
    let mut on_event = |event: Event<'_>| match event {
        Event::Started(stage) => marks.push((stage, started.elapsed())),
        Event::Audio(pcm) => {
            first_audio.get_or_insert(started.elapsed());
            samples += pcm.len();
        }
        Event::Description(description) => description_tokens = description.token_ids.len(),
        _ => {}
    };
    pipeline.run(painting, request, &mut on_event, &AtomicBool::new(false))?;
    let total = started.elapsed();

    for (i, (stage, began)) in marks.iter().enumerate() {
        let ended = marks.get(i + 1).map_or(total, |(_, next)| *next);
        row(&format!("stage {stage:?}"), ended - *began);
    }
    println!("  {:<36}{:>10}", "description tokens", description_tokens);
    if let Some(first) = first_audio {
        row("time to first audio", first);
    }
    row("whole chain", total);
    println!(
        "  {:<36}{:>10.2} s",
        "music made",
        samples as f64 / sample_rate
    );
    Ok((first_audio, total))
}

fn row(name: &str, value: Duration) {
    println!("  {name:<36}{:>10.2} s", value.as_secs_f64());
}
