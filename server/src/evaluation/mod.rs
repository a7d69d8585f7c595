//! Judging music as the paper did, for `ekphrasis eval` and `ekphrasis experiment`: two folders
//! of audio in, the paper's metrics out (README, "Evaluating as the paper did").
//!
//! - [`audio_sets`]: the files of each folder, their emotions and the pairs.
//! - [`texts`]: the text CLAP judges each generated file against.
//! - [`judges`]: the three listening models (VGGish, PANNs CNN14, CLAP), found from flags or the
//!   model cache, what each makes of one file, and the metrics from what they heard.
//! - [`scores`]: the report.
//!
//! Every file is decoded once, at its own rate; each model resamples as its reference does. A
//! file that cannot be read is named on stderr and skipped, and counted in the report.

pub mod audio_sets;
pub mod judges;
pub mod scores;
pub mod texts;

use std::collections::{BTreeMap, BTreeSet};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};

use self::audio_sets::{AudioFile, AudioSet};
use self::judges::{Heard, Judges};
use self::scores::Scores;
use crate::audio::decode::read_native;

/// One of the paper's metrics, as `--metrics` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Metric {
    /// Fréchet Audio Distance over VGGish embeddings.
    Fad,
    /// All four KL divergences: the paper's VGGish histograms, and the paired PANNs logits.
    Kl,
    /// Inception Score over PANNs logits.
    Isc,
    /// CLAP: how closely the music matches its text.
    Clap,
    /// Total harmonic distortion.
    Thd,
}

/// Reads the files the asked metrics need, each once, and computes the metrics.
pub fn evaluate(
    judges: &Judges,
    wanted: &BTreeSet<Metric>,
    generated: &AudioSet,
    reference: &AudioSet,
    texts: Option<&BTreeMap<String, String>>,
) -> anyhow::Result<Scores> {
    let (generated_needs, reference_needs) = judges.needs(wanted);
    // Every reference file feeds VGGish's pooled statistics; only paired ones feed PANNs.
    let pooled = judges.pools_vggish(wanted);
    let paired = judges.pairs_panns(wanted);
    let reference_needed: Vec<&AudioFile> = reference
        .files
        .iter()
        .filter(|f| pooled || (paired && generated.get(&f.relative).is_some()))
        .collect();
    let bar = ProgressBar::new((generated.files.len() + reference_needed.len()) as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files, {msg} [{elapsed} < {eta}]")
            .expect("a valid template"),
    );
    let mut skipped = 0;
    let mut listen = |file: &AudioFile, side: Side| -> Option<Heard> {
        bar.set_message(file.relative.clone());
        let needs = match side {
            Side::Generated => generated_needs,
            Side::Reference => reference_needs,
        };
        let heard = read_native(&file.path).and_then(|audio| judges.listen(&audio, needs));
        bar.inc(1);
        match heard {
            Ok(heard) => Some(heard),
            Err(e) => {
                bar.suspend(|| eprintln!("skipped {}: {e:#}", file.path.display()));
                skipped += 1;
                None
            }
        }
    };
    let heard_generated: BTreeMap<&str, Heard> = generated
        .files
        .iter()
        .filter_map(|f| Some((f.relative.as_str(), listen(f, Side::Generated)?)))
        .collect();
    let heard_reference: BTreeMap<&str, Heard> = reference_needed
        .iter()
        .filter_map(|f| Some((f.relative.as_str(), listen(f, Side::Reference)?)))
        .collect();
    bar.finish_and_clear();
    let reads_reference = pooled || paired;
    let pairs = heard_generated
        .keys()
        .filter(|k| match reads_reference {
            true => heard_reference.contains_key(*k),
            false => reference.get(k).is_some(),
        })
        .count();
    let mut scores = judges.score(wanted, &heard_generated, &heard_reference, texts)?;
    scores.files = heard_generated.len();
    scores.pairs = pairs;
    scores.skipped = skipped;
    Ok(scores)
}

/// Which folder a file is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Generated,
    Reference,
}
