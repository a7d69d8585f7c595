//! `ekphrasis eval --reference DIR --generated DIR …`: the paper's music metrics (Table II and
//! Fig. 3) over two folders of audio, each equal to the Python reference it names (README,
//! "Evaluating as the paper did"). The work is in [`crate::evaluation`]; this is its flags and
//! its report (`--json`: exactly one object on stdout).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ekphrasis_models::device::DeviceChoice;

use crate::evaluation::audio_sets::{AudioFile, AudioSet};
use crate::evaluation::judges::{JudgeModels, Judges};
use crate::evaluation::texts::{DEFAULT_PROMPT, Texts};
use crate::evaluation::{Metric, evaluate};

/// Flags of `ekphrasis eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The reference music: a folder of audio files (WAV, FLAC, MP3, OGG) at any depth; a
    /// file's emotion is its first folder (`happy/…`).
    #[arg(long)]
    pub reference: PathBuf,
    /// The generated music, laid out like the reference: files at equal relative paths pair.
    #[arg(long)]
    pub generated: PathBuf,
    #[command(flatten)]
    pub judges: JudgeModels,
    /// CLAP texts: a JSON object from a generated file's relative path to its text.
    #[arg(long)]
    pub texts: Option<PathBuf>,
    /// The CLAP text of a file `--texts` does not name; `{emotion}` is its first folder.
    #[arg(long, default_value = DEFAULT_PROMPT)]
    pub prompt: String,
    /// Only these metrics [default: every one whose model is at hand].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub metrics: Vec<Metric>,
    /// Print exactly one JSON object on stdout (logs go to stderr).
    #[arg(long)]
    pub json: bool,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
}

/// Runs the command.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let wanted: BTreeSet<Metric> = if args.metrics.is_empty() {
        Metric::value_variants().iter().copied().collect()
    } else {
        args.metrics.iter().copied().collect()
    };
    let generated = AudioSet::find(&args.generated)?;
    let reference = AudioSet::find(&args.reference)?;
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let judges = Judges::load(&args.judges, &wanted, &device)?;
    let texts = match judges.clap.is_some() {
        true => Some(texts_for(&generated.files, &args)?),
        false => None,
    };
    let scores = evaluate(&judges, &wanted, &generated, &reference, texts.as_ref())?;
    if args.json {
        println!("{}", serde_json::to_string(&scores)?);
    } else {
        for line in scores.lines() {
            println!("{line}");
        }
    }
    Ok(())
}

/// Every generated file's CLAP text, checked before any model runs.
fn texts_for(files: &[AudioFile], args: &EvalArgs) -> anyhow::Result<BTreeMap<String, String>> {
    let texts = Texts::new(args.texts.as_deref(), &args.prompt)?;
    files
        .iter()
        .map(|f| Ok((f.relative.clone(), texts.for_file(f)?)))
        .collect()
}
