//! `ekphrasis experiment --data DIR --out DIR`: the paper's experiment end to end. Every painting
//! of the data set's test split is described once, composed in each variant, and each variant's
//! music is judged against the test split's reference clips; the result is the paper's Table II
//! with its figures beside ours (`table2.md`, `table2.json`) and its Fig. 3
//! (`clap_per_emotion.png`, `.svg`). Finished files are kept, so a stopped run resumes.
//!
//! - [`plan`]: the test split, names and the folder layout.
//! - [`describe`]: emotion, caption and description of each painting, once for all variants.
//! - [`music`]: each variant's music.
//! - [`table`] and [`plot`]: Table II and Fig. 3.

pub mod describe;
pub mod music;
pub mod plan;
pub mod plot;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use ekphrasis_models::device::DeviceChoice;
use ekphrasis_shared::domain::{Emotion, Variant};

use self::plan::{Item, Layout};
use super::common::chain::{ChainModels, tuned_musicgen};
use super::common::values::parse_variant;
use crate::evaluation::audio_sets::AudioSet;
use crate::evaluation::judges::{JudgeModels, Judges};
use crate::evaluation::texts::{DEFAULT_PROMPT, Texts};
use crate::evaluation::{Metric, evaluate};

/// Flags of `ekphrasis experiment`.
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// The data set `ekphrasis dataset build` wrote (its `test.json` is used).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the music, the tables and the figure.
    #[arg(long)]
    pub out: PathBuf,
    /// The variants to run [default: emotive, narrative, lyrical, and optimized when a
    /// fine-tuned MusicGen is given for it].
    #[arg(long, value_delimiter = ',', value_parser = parse_variant)]
    pub variants: Vec<Variant>,
    /// Seconds of music a painting (the paper's clips are 30 s).
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// Seed of the sampling; painting i of the split uses seed + i in every variant.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub chain: ChainModels,
    #[command(flatten)]
    pub judges: JudgeModels,
}

/// Runs the command.
pub fn run(args: ExperimentArgs) -> anyhow::Result<()> {
    if !(1.0..=120.0).contains(&args.seconds) {
        anyhow::bail!("--seconds must be between 1 and 120, not {}", args.seconds);
    }
    let variants = variants(&args)?;
    let items = plan::test_split(&args.data)?;
    let layout = Layout {
        out: args.out.clone(),
    };
    std::fs::create_dir_all(&layout.out)
        .with_context(|| format!("creating {}", layout.out.display()))?;
    if !args.chain.device.parse::<DeviceChoice>()?.open()?.is_cuda() {
        eprintln!(
            "note: this runs on the CPU: {} paintings × {} variants × {} s of music. MusicGen-small \
             makes a second of music in several seconds here (f32), so the paper's split takes \
             hours; a CUDA GPU (--device cuda) or --quantize q4k is much faster. Finished files \
             are kept: stop at any time and run the same command again to go on.",
            items.len(),
            variants.len(),
            args.seconds
        );
    }
    copy_references(&items, &layout)?;
    let texts = describe::describe_all(&args.chain, &items, &variants, &layout, args.seed)?;
    for &variant in &variants {
        let composed = music::compose_variant(
            &args.chain,
            variant,
            &items,
            &texts,
            &layout,
            args.seconds,
            args.seed,
        )?;
        eprintln!(
            "{}: {} clips composed now, {} kept from before",
            variant.as_str(),
            composed.made,
            composed.kept
        );
    }
    let judged = judge(&args, &variants, &items, &layout)?;
    let settings = serde_json::json!({
        "data": args.data.display().to_string(),
        "test_paintings": items.len(),
        "seconds": args.seconds,
        "seed": args.seed,
        "sampling": {"top_k": 250, "temperature": 1.0, "guidance": 3.0},
        "clap_text": DEFAULT_PROMPT,
    });
    table::write(
        &judged.scores,
        &judged.clap_by_emotion,
        &settings,
        &layout.out,
    )?;
    if judged.clap_by_emotion.values().any(|m| !m.is_empty()) {
        plot::write(
            &judged.clap_by_emotion,
            &layout.out.join("clap_per_emotion"),
        )?;
    } else {
        // A figure from an earlier run would not match this table.
        for ext in ["png", "svg"] {
            let _ = std::fs::remove_file(layout.out.join("clap_per_emotion").with_extension(ext));
        }
        eprintln!("no CLAP model: clap_per_emotion.png is not drawn (give --clap DIR)");
    }
    print!("{}", table::markdown(&judged.scores));
    eprintln!("wrote {}", layout.out.join("table2.md").display());
    Ok(())
}

/// The variants asked for, or those that can run.
fn variants(args: &ExperimentArgs) -> anyhow::Result<Vec<Variant>> {
    let mut variants: Vec<Variant> = match args.variants.is_empty() {
        false => args.variants.clone(),
        true => {
            let mut all = vec![Variant::Emotive, Variant::Narrative, Variant::Lyrical];
            if tuned_musicgen(&args.chain, Variant::Optimized)?.is_some() {
                all.push(Variant::Optimized);
            }
            all
        }
    };
    variants.sort();
    variants.dedup();
    for &variant in &variants {
        // Refused before any work, not after hours of composing the others.
        music::composer_dir(&args.chain, variant)?;
    }
    Ok(variants)
}

/// Copies each painting's reference clip to `reference/<emotion>/<name>.wav` (kept if there).
fn copy_references(items: &[Item], layout: &Layout) -> anyhow::Result<()> {
    let mut placed = 0;
    for item in items {
        let to = layout.reference().join(&item.relative);
        if !to.is_file() {
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            if let Err(e) = std::fs::copy(&item.clip, &to) {
                eprintln!("skipped the reference {}: {e}", item.clip.display());
                continue;
            }
        }
        placed += 1;
    }
    if placed == 0 {
        anyhow::bail!("none of the test split's reference clips could be read");
    }
    Ok(())
}

/// Each variant's figures and its CLAP by emotion.
struct Judged {
    scores: BTreeMap<Variant, crate::evaluation::scores::Scores>,
    clap_by_emotion: plot::ClapByEmotion,
}

fn judge(
    args: &ExperimentArgs,
    variants: &[Variant],
    items: &[Item],
    layout: &Layout,
) -> anyhow::Result<Judged> {
    let device = args.chain.device.parse::<DeviceChoice>()?.open()?;
    let wanted: BTreeSet<Metric> = Metric::value_variants().iter().copied().collect();
    let judges = Judges::load(&args.judges, &wanted, &device)?;
    let reference = AudioSet::find(&layout.reference())?;
    let prompt = Texts::new(None, DEFAULT_PROMPT)?;
    let mut judged = Judged {
        scores: BTreeMap::new(),
        clap_by_emotion: BTreeMap::new(),
    };
    for &variant in variants {
        eprintln!("{}: judging", variant.as_str());
        let generated = match AudioSet::find(&layout.generated(variant)) {
            Ok(set) => set,
            Err(e) => {
                eprintln!("{}: nothing to judge: {e:#}", variant.as_str());
                continue;
            }
        };
        let texts: BTreeMap<String, String> = generated
            .files
            .iter()
            .map(|f| Ok((f.relative.clone(), prompt.for_file(f)?)))
            .collect::<anyhow::Result<_>>()?;
        let scores = evaluate(&judges, &wanted, &generated, &reference, Some(&texts))?;
        let mut by_emotion: BTreeMap<Emotion, (f64, usize)> = BTreeMap::new();
        for item in items {
            if let Some(clap) = scores.clap_by_file.get(&item.relative) {
                let slot = by_emotion.entry(item.emotion).or_default();
                slot.0 += clap;
                slot.1 += 1;
            }
        }
        judged.clap_by_emotion.insert(
            variant,
            by_emotion
                .into_iter()
                .map(|(e, (sum, n))| (e, sum / n as f64))
                .collect(),
        );
        judged.scores.insert(variant, scores);
    }
    Ok(judged)
}
