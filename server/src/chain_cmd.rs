//! `ekphrasis describe IMAGE` (the painting's emotion, caption and musical description) and
//! `ekphrasis generate IMAGE --variant V` (all four stages: music in one of the paper's
//! variants), through the same `Pipeline` the server runs. Each command loads only the models its
//! stages use.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use ekphrasis_models::device::DeviceChoice;
use ekphrasis_models::musicgen::{GenerateOptions, Quantization, Sampling};
use ekphrasis_models::pipeline::{self, Described, Event, Pipeline, Request};
use ekphrasis_shared::domain::Variant;
use serde_json::{Value, json};

use crate::catalog::{self, Checkpoint};
use crate::config::ServeConfig;
use crate::emotion_cmd::{self, ReadingJson};
use crate::model_set::{LoadOptions, ModelDirs};
use crate::{chain_request, upload, wav};

/// Where the chain's models come from (each flag is a directory or a hub id).
#[derive(Debug, Args)]
pub struct ChainModels {
    /// Folder with one sub-folder a model: emotion/ (or clip/), blip/, falcon/, musicgen/.
    #[arg(long, env = "EKPHRASIS_MODELS")]
    pub models: Option<PathBuf>,
    /// A trained emotion model (what `ekphrasis train emotion` writes).
    #[arg(long, conflicts_with = "clip")]
    pub emotion_model: Option<PathBuf>,
    /// Zero-shot CLIP for the emotion instead.
    #[arg(long)]
    pub clip: Option<String>,
    /// BLIP captioning [default: MODELS/blip, else Salesforce/blip-image-captioning-large].
    #[arg(long, env = "EKPHRASIS_BLIP")]
    pub blip: Option<String>,
    /// Falcon-RW [default: MODELS/falcon, else tiiuae/falcon-rw-1b].
    #[arg(long, env = "EKPHRASIS_FALCON")]
    pub falcon: Option<String>,
    /// MusicGen [default: MODELS/musicgen, else facebook/musicgen-small].
    #[arg(long, env = "EKPHRASIS_MUSICGEN")]
    pub musicgen: Option<String>,
    /// The fine-tuned MusicGen of the optimized variant (none by default).
    #[arg(long, env = "EKPHRASIS_OPTIMIZED_MUSICGEN")]
    pub optimized_musicgen: Option<String>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Largest accepted image in pixels (width × height).
    #[arg(long, default_value_t = ServeConfig::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Largest accepted image file in bytes.
    #[arg(long, default_value_t = upload::MAX_FILE_BYTES)]
    pub max_bytes: u64,
    /// Store Falcon-RW's and MusicGen's decoder weights quantized (q8_0 or q4k): several times
    /// faster on a CPU, at a small cost in quality (`ekphrasis bench enhance|compose --quantize`).
    #[arg(long)]
    pub quantize: Option<Quantization>,
}

/// Flags of `ekphrasis describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The painting (JPEG, PNG or WebP).
    pub image: PathBuf,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Seed of the description's sampling [default: random, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub chain: ChainModels,
}

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

pub(crate) fn parse_variant(text: &str) -> Result<Variant, String> {
    Variant::ALL
        .into_iter()
        .find(|v| v.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<_> = Variant::ALL.iter().map(|v| v.as_str()).collect();
            format!("unknown variant `{text}`: choose {}", names.join(", "))
        })
}

/// Runs `ekphrasis describe`.
pub fn describe(args: DescribeArgs) -> anyhow::Result<()> {
    let image = upload::read_file(&args.image, args.chain.max_bytes, args.chain.max_pixels)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let request = request(Variant::Lyrical, 1, seed);
    let mut pipeline = load(&args.chain, Variant::Lyrical, false)?;
    let mut on_event = progress(args.json);
    let described = pipeline.describe(&image, &request, &mut on_event, &AtomicBool::new(false))?;
    if args.json {
        println!("{}", described_json(&described, seed));
    }
    Ok(())
}

/// Runs `ekphrasis generate`.
pub fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let seconds = args.seconds;
    if !(1.0..=120.0).contains(&seconds) {
        anyhow::bail!("--seconds must be between 1 and 120, not {seconds}");
    }
    if args.variant == Variant::Optimized && args.chain.optimized_musicgen.is_none() {
        // Refused before any model loads.
        return Err(pipeline::no_fine_tuned_musicgen().into());
    }
    let image = upload::read_file(&args.image, args.chain.max_bytes, args.chain.max_pixels)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    if args.seed.is_none() {
        eprintln!("seed {seed}");
    }
    let mut pipeline = load(&args.chain, args.variant, true)?;
    let frame_rate = pipeline
        .models()
        .musicgen
        .as_ref()
        .or(pipeline.models().optimized.as_ref())
        .map_or(50, |m| m.config().audio_encoder.frame_rate());
    let frames = (seconds * frame_rate as f64).round() as usize;
    let request = request(args.variant, frames, seed);

    let started = Instant::now();
    let mut first_audio = None;
    let mut audio = Vec::new();
    let mut report = progress(args.json);
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

/// The paper's settings for the command line: MusicGen's default sampling (top-k 250,
/// temperature 1, guidance 3).
fn request(variant: Variant, frames: usize, seed: u64) -> Request {
    let guidance = GenerateOptions::default().guidance;
    chain_request::build(variant, frames, Sampling::DEFAULT, guidance, seed, None)
}

/// Loads the models `variant` needs (MusicGen only when `compose`).
fn load(chain: &ChainModels, variant: Variant, compose: bool) -> anyhow::Result<Pipeline> {
    let models_dir = chain.models.as_deref();
    let locate = |checkpoint: &Checkpoint, flag: &Option<String>| {
        catalog::locate(checkpoint, flag.as_deref(), models_dir)
    };
    let (want_caption, want_description) = pipeline::needs(variant);
    let optimized = compose && variant == Variant::Optimized;
    let dirs = ModelDirs {
        labeller: emotion_cmd::choose_source(
            chain.emotion_model.as_deref(),
            chain.clip.as_deref(),
            models_dir,
        ),
        blip: want_caption
            .then(|| locate(&catalog::BLIP, &chain.blip))
            .transpose()?,
        falcon: want_description
            .then(|| locate(&catalog::FALCON, &chain.falcon))
            .transpose()?,
        musicgen: (compose && !optimized)
            .then(|| locate(&catalog::MUSICGEN, &chain.musicgen))
            .transpose()?,
        optimized: match (&chain.optimized_musicgen, optimized) {
            (Some(spec), true) => Some(crate::hub::resolve(spec, &catalog::MUSICGEN.files)?),
            _ => None,
        },
    };
    dirs.load(&LoadOptions {
        device: chain.device.parse::<DeviceChoice>()?,
        quantize: chain.quantize,
    })
}

/// Stage results as lines on stderr (stdout stays for `--json`).
fn progress(quiet: bool) -> impl FnMut(Event<'_>) {
    move |event| {
        if quiet {
            return;
        }
        match event {
            Event::Started(stage) => eprintln!("{stage:?}…"),
            Event::Emotion(reading) => eprintln!("  {}", emotion_cmd::human_line(reading)),
            Event::Caption(caption) => eprintln!("  caption: {}", caption.text),
            Event::Description(description) => eprintln!(
                "  description{}: {}",
                if description.fallback {
                    " (fallback)"
                } else {
                    ""
                },
                description.text
            ),
            Event::Composing(text) => eprintln!("  composing from: {text}"),
            Event::Audio(_) => {}
        }
    }
}

fn described_json(described: &Described, seed: u64) -> Value {
    json!({
        "emotion": ReadingJson::from(&described.reading),
        "caption": described.caption.as_ref().map(|c| &c.text),
        "description": described.description.as_ref().map(|d| &d.text),
        "description_fallback": described.description.as_ref().map(|d| d.fallback),
        "seed": seed,
    })
}
