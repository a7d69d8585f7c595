//! `ekphrasis generate IMAGE --variant V`: music from a painting, all four stages in one of the
//! paper's variants, through the same `Pipeline` the server runs; writes a WAV file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use ekphrasis_models::pipeline::{self, Described, Event};
use ekphrasis_shared::domain::Variant;
use serde_json::json;

use super::common::chain::{self, ChainModels};
use super::common::report::{described_json, stage_lines};
use super::common::values::parse_variant;
use crate::audio::wav;
use crate::upload;

/// Flags of `ekphrasis generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The painting (JPEG, PNG or WebP).
    pub image: PathBuf,
    /// emotive, narrative, lyrical or optimized.
    #[arg(long, default_value = "lyrical", value_parser = parse_variant)]
    pub variant: Variant,
    /// Seconds of music (1 to 120).
    #[arg(long, default_value_t = 15.0)]
    pub seconds: f64,
    /// The WAV file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of every sampling step [default: random, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON object describing the result.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub chain: ChainModels,
}

/// Runs `ekphrasis generate`.
pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let seconds = args.seconds;
    if !(1.0..=120.0).contains(&seconds) {
        anyhow::bail!("--seconds must be between 1 and 120, not {seconds}");
    }
    if args.variant == Variant::Optimized
        && chain::tuned_musicgen(&args.chain, args.variant)?.is_none()
    {
        // Refused before any model loads.
        return Err(pipeline::no_fine_tuned_musicgen().into());
    }
    let image = upload::read_file(&args.image, args.chain.max_bytes, args.chain.max_pixels)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    if args.seed.is_none() {
        eprintln!("seed {seed}");
    }
    let mut pipeline = chain::load(&args.chain, args.variant, true)?;
    let frame_rate = pipeline
        .models()
        .composer(args.variant)
        .map_or(50, |m| m.config().audio_encoder.frame_rate());
    let frames = (seconds * frame_rate as f64).round() as usize;
    let request = chain::request(args.variant, frames, seed);

    let started = Instant::now();
    let mut first_audio = None;
    let mut audio = Vec::new();
    let mut report = stage_lines(args.json);
    let mut on_event = |event: Event<'_>| {
        if let Event::Audio(pcm) = event {
            if first_audio.is_none() {
                first_audio = Some(started.elapsed());
                eprintln!("first audio after {:.1} s", started.elapsed().as_secs_f64());
            }
            audio.extend_from_slice(pcm);
        } else {
            report(event);
        }
    };
    let outcome = pipeline.run(&image, &request, &mut on_event, &AtomicBool::new(false))?;
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?,
    );
    wav::write(&mut file, outcome.sample_rate, 1, &audio)
        .and_then(|()| file.flush())
        .with_context(|| format!("writing {}", args.out.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "wrote {} ({:.2} s of music in {elapsed:.1} s)",
        args.out.display(),
        audio.len() as f64 / outcome.sample_rate as f64
    );
    if args.json {
        let described = Described {
            reading: outcome.reading,
            caption: outcome.caption.clone(),
            description: outcome.description.clone(),
        };
        let mut value = described_json(&described, seed);
        value["variant"] = json!(args.variant.as_str());
        value["music_text"] = json!(outcome.music_text);
        value["seconds"] = json!(audio.len() as f64 / outcome.sample_rate as f64);
        value["sample_rate"] = json!(outcome.sample_rate);
        value["samples"] = json!(outcome.samples);
        value["out"] = json!(args.out.display().to_string());
        value["first_audio_seconds"] = json!(first_audio.map(|d| d.as_secs_f64()));
        println!("{value}");
    }
    Ok(())
}
