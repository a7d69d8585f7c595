//! `ekphrasis dataset …`: the painting–music data set for fine-tuning.
//!
//! - `dataset build --paintings DIR --music DIR --out DIR`: clips cut, paintings paired with
//!   clips of their emotion, split into `train.json`, `val.json` and `test.json`.
//! - `dataset texts DIR --variant V`: each row's `text` written by the chain's own stages for the
//!   variant (the emotion word, the caption or the musical description), resumable.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use ekphrasis_shared::domain::Variant;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::common::chain::{self, ChainModels};
use super::common::values::parse_variant;
use crate::dataset::build::{BuildOptions, build};
use crate::dataset::manifest::write_json;
use crate::upload;

/// `ekphrasis dataset …`
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Cut the music into clips, pair every painting with a clip of its emotion, and split.
    Build(BuildArgs),
    /// Write each row's text for a variant through the chain's stages.
    Texts(TextsArgs),
}

/// Flags of `ekphrasis dataset build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Paintings in one folder per emotion (happy, angry, sad, fun, neutral).
    #[arg(long)]
    pub paintings: PathBuf,
    /// Music (WAV, FLAC, MP3, Ogg Vorbis, MIDI) in one folder per emotion.
    #[arg(long)]
    pub music: PathBuf,
    /// Where the clips and the manifests go.
    #[arg(long)]
    pub out: PathBuf,
    /// Seconds a clip.
    #[arg(long, default_value_t = 30.0)]
    pub clip_seconds: f64,
    /// Shares of training, validation and test pairs, per emotion.
    #[arg(long, default_value = "0.8,0.1,0.1", value_parser = parse_split)]
    pub split: [f64; 3],
    /// Seed of the pairing and the split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A SoundFont (`.sf2`) to render MIDI music with (the paper's music is MIDI).
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
}

/// Flags of `ekphrasis dataset texts`.
#[derive(Debug, Args)]
pub struct TextsArgs {
    /// The data set folder (`train.json`, `val.json`, `test.json`).
    pub dir: PathBuf,
    /// Whose text: emotive (the emotion word), narrative (the caption), lyrical or optimized
    /// (the musical description).
    #[arg(long, value_parser = parse_variant)]
    pub variant: Variant,
    /// Seed of the description's sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub chain: ChainModels,
}

fn parse_split(text: &str) -> Result<[f64; 3], String> {
    let shares: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("a split is three numbers such as 0.8,0.1,0.1, not `{text}`"))?;
    <[f64; 3]>::try_from(shares)
        .map_err(|_| format!("a split is three numbers such as 0.8,0.1,0.1, not `{text}`"))
}

/// Runs `ekphrasis dataset …`.
pub fn run(command: DatasetCommand) -> anyhow::Result<()> {
    match command {
        DatasetCommand::Build(args) => build_run(args),
        DatasetCommand::Texts(args) => texts_run(args),
    }
}

fn build_run(args: BuildArgs) -> anyhow::Result<()> {
    let options = BuildOptions {
        paintings: args.paintings,
        music: args.music,
        out: args.out,
        clip_seconds: args.clip_seconds,
        split: args.split,
        seed: args.seed,
        soundfont: args.soundfont,
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} music files {msg}")
            .expect("a valid template"),
    );
    let report = build(&options, |file, done, all| {
        bar.set_length(all as u64);
        bar.set_position(done as u64);
        bar.set_message(file.display().to_string());
    })?;
    bar.finish_and_clear();
    for line in &report.skipped {
        eprintln!("skipped: {line}");
    }
    let clips: Vec<String> = report
        .clips
        .iter()
        .map(|(emotion, n)| format!("{emotion} {n}"))
        .collect();
    println!(
        "{} pairs for training, {} for validation, {} for testing; clips: {}; {} files skipped; \
         written to {}",
        report.train,
        report.val,
        report.test,
        clips.join(", "),
        report.skipped.len(),
        options.out.display()
    );
    Ok(())
}

fn texts_run(args: TextsArgs) -> anyhow::Result<()> {
    let files: Vec<PathBuf> = ["train.json", "val.json", "test.json"]
        .iter()
        .map(|name| args.dir.join(name))
        .filter(|path| path.is_file())
        .collect();
    if files.is_empty() {
        bail!(
            "{}: no train.json, val.json or test.json (make them with `ekphrasis dataset build`)",
            args.dir.display()
        );
    }
    let mut manifests = Vec::with_capacity(files.len());
    for path in &files {
        manifests.push(read_rows(path)?);
    }
    let variant_name = args.variant.as_str();
    let pending: usize = manifests
        .iter()
        .flatten()
        .filter(|row| !has_text(row, variant_name))
        .count();
    if pending == 0 {
        println!("every row already has its {variant_name} text");
        return Ok(());
    }
    let mut pipeline = chain::load(&args.chain, args.variant, false)?;
    let request = chain::request(args.variant, 1, args.seed);
    let bar = ProgressBar::new(pending as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} paintings [{elapsed} < {eta}] {msg}")
            .expect("a valid template"),
    );
    let (mut written, mut failed) = (0, 0);
    for (path, rows) in files.iter().zip(&mut manifests) {
        for i in 0..rows.len() {
            if has_text(&rows[i], variant_name) {
                continue;
            }
            let painting = rows[i]["painting"].as_str().map(PathBuf::from);
            let outcome = match &painting {
                Some(painting) => {
                    text_of(&mut pipeline, painting, &request, &args.chain, args.variant)
                }
                None => Err(anyhow::anyhow!("the row has no \"painting\"")),
            };
            match outcome {
                Ok(text) => {
                    rows[i]["text"] = Value::String(text);
                    rows[i]["text_variant"] = Value::String(variant_name.to_string());
                    write_json(path, rows)?;
                    written += 1;
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("skipped: {} row {i}: {e:#}", path.display()));
                    failed += 1;
                }
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    println!("{written} texts written ({variant_name}), {failed} rows skipped");
    Ok(())
}

/// The variant's text for one painting.
fn text_of(
    pipeline: &mut ekphrasis_models::pipeline::Pipeline,
    painting: &Path,
    request: &ekphrasis_models::pipeline::Request,
    models: &ChainModels,
    variant: Variant,
) -> anyhow::Result<String> {
    let image = upload::read_file(painting, models.max_bytes, models.max_pixels)?;
    let described = pipeline.describe(&image, request, &mut |_| {}, &AtomicBool::new(false))?;
    Ok(described.music_text(variant))
}

fn has_text(row: &Value, variant: &str) -> bool {
    row["text"].as_str().is_some_and(|t| !t.trim().is_empty())
        && row["text_variant"].as_str() == Some(variant)
}

fn read_rows(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let rows: Vec<Value> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON array of rows", path.display()))?;
    if let Some(i) = rows.iter().position(|r| !r.is_object()) {
        bail!("{} row {i}: not an object", path.display());
    }
    Ok(rows)
}
