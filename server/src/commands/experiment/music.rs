//! The experiment's second half: each variant's music for every described painting, composed as
//! the paper did (top-k 250, temperature 1, guidance 3) by the variant's MusicGen (its
//! fine-tuned one where given), written to `generated/<variant>/<emotion>/<name>.wav`. A file
//! already there is kept, so a stopped run resumes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use ekphrasis_models::device::{DeviceChoice, compute_dtype};
use ekphrasis_models::musicgen::{GenerateOptions, MusicGen, Sampling};
use ekphrasis_models::pipeline;
use ekphrasis_shared::domain::Variant;
use indicatif::{ProgressBar, ProgressStyle};

use super::describe::Texts;
use super::plan::{Item, Layout};
use crate::audio::wav;
use crate::checkpoints::catalog;
use crate::commands::common::chain::{ChainModels, tuned_musicgen};

/// How one variant's composing went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Composed {
    /// Files written now.
    pub made: usize,
    /// Files kept from an earlier run.
    pub kept: usize,
}

/// Where `variant`'s MusicGen is, refused before any work when it has none (the optimized
/// variant needs a fine-tuned one).
pub fn composer_dir(chain: &ChainModels, variant: Variant) -> anyhow::Result<std::path::PathBuf> {
    match tuned_musicgen(chain, variant)? {
        Some(dir) => Ok(dir),
        None if variant == Variant::Optimized => Err(pipeline::no_fine_tuned_musicgen().into()),
        None => catalog::locate(
            &catalog::MUSICGEN,
            chain.musicgen.as_deref(),
            chain.models.as_deref(),
        ),
    }
}

/// Composes `variant`'s music for every described painting that has none yet.
pub fn compose_variant(
    chain: &ChainModels,
    variant: Variant,
    items: &[Item],
    texts: &BTreeMap<String, Texts>,
    layout: &Layout,
    seconds: f64,
    seed: u64,
) -> anyhow::Result<Composed> {
    let folder = layout.generated(variant);
    let mut report = Composed::default();
    let mut pending = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(text) = texts
            .get(&item.relative)
            .and_then(|t| t.for_variant(variant))
        else {
            continue;
        };
        match folder.join(&item.relative).is_file() {
            true => report.kept += 1,
            false => pending.push((index, item, text)),
        }
    }
    if pending.is_empty() {
        return Ok(report);
    }
    let dir = composer_dir(chain, variant)?;
    let device = chain.device.parse::<DeviceChoice>()?.open()?;
    let mut musicgen = MusicGen::load(&dir, &device, compute_dtype(&device))?;
    if let Some(quantization) = chain.quantize.for_musicgen(&device, musicgen.config()) {
        musicgen.quantize_decoder(quantization)?;
    }
    let frames = (seconds * musicgen.config().audio_encoder.frame_rate() as f64).round() as usize;
    if frames == 0 {
        bail!("--seconds {seconds} is too short for one frame");
    }
    eprintln!(
        "{}: composing {} clips of {seconds} s with {}",
        variant.as_str(),
        pending.len(),
        dir.display()
    );
    let bar = ProgressBar::new(pending.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} clips [{elapsed} < {eta}] {msg}")
            .expect("a valid template"),
    );
    for (index, item, text) in pending {
        bar.set_message(item.relative.clone());
        let options = GenerateOptions {
            frames,
            sampling: Sampling::DEFAULT,
            // The same painting gets the same seed in every variant.
            seed: seed.wrapping_add(index as u64),
            ..GenerateOptions::default()
        };
        let codes = musicgen.generate(text, &options, &AtomicBool::new(false), |_, _| {})?;
        let samples = musicgen.decode(&codes)?;
        write_atomically(
            &folder.join(&item.relative),
            musicgen.sample_rate(),
            &samples,
        )?;
        report.made += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}

/// Writes a mono WAV through a temporary file, so an interrupted run never leaves half a file
/// that a later run would keep.
fn write_atomically(path: &Path, rate: u32, samples: &[f32]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let temp = path.with_extension("wav.partial");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&temp).with_context(|| format!("creating {}", temp.display()))?,
    );
    wav::write(&mut file, rate, 1, samples)
        .and_then(|()| file.flush())
        .with_context(|| format!("writing {}", temp.display()))?;
    drop(file);
    std::fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))
}
