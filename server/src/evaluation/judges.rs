//! The three models `eval` listens through (VGGish, PANNs CNN14, CLAP), each from its flag or
//! else from the model cache `ekphrasis models fetch --only vggish,panns,clap` fills; what each
//! makes of one file; and the metrics from what they heard.
//!
//! A metric whose model is neither given nor cached is left out with a note on stderr; a model
//! that is given but does not load is an error, named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::Context;
use candle_core::Device;
use clap::Args;
use ekphrasis_models::eval::clap::Clap;
use ekphrasis_models::eval::clap::features::librosa_resampled_len;
use ekphrasis_models::eval::metrics::{clap_score, fad, histogram_kl, isc, paired_kl, thd};
use ekphrasis_models::eval::panns::Cnn14;
use ekphrasis_models::eval::vggish::Vggish;

use super::Metric;
use super::scores::Scores;
use crate::audio::decode::NativeAudio;
use crate::audio::resample::resample;
use crate::checkpoints::{catalog, hub, published};

/// Where the listening models come from.
#[derive(Debug, Args)]
pub struct JudgeModels {
    /// torchvggish's state dict (`vggish-10086976.pth`, or its keys in a .safetensors file)
    /// [default: the model cache, after `ekphrasis models fetch --only vggish`].
    #[arg(long)]
    pub vggish: Option<PathBuf>,
    /// A PANNs CNN14 checkpoint (`Cnn14_mAP=0.431.pth`, or its state dict in a .safetensors
    /// file) [default: the model cache, after `ekphrasis models fetch --only panns`].
    #[arg(long)]
    pub panns: Option<PathBuf>,
    /// A CLAP checkpoint in Hugging Face layout: a folder or a hub id [default:
    /// laion/clap-htsat-unfused from the cache, after `ekphrasis models fetch --only clap`].
    #[arg(long)]
    pub clap: Option<String>,
}

/// The models loaded for one evaluation.
pub struct Judges {
    pub vggish: Option<Vggish>,
    pub panns: Option<Cnn14>,
    pub clap: Option<Clap>,
}

/// What the models made of one file.
#[derive(Debug, Clone, Default)]
pub struct Heard {
    /// VGGish embeddings, one per 0.96 s example.
    pub vggish: Vec<Vec<f32>>,
    /// CNN14's 527 AudioSet logits.
    pub logits: Option<Vec<f32>>,
    /// CLAP's audio embedding.
    pub clap: Option<Vec<f32>>,
    /// Total harmonic distortion.
    pub thd: Option<f64>,
}

/// Which models hear a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub vggish: bool,
    pub panns: bool,
    pub clap: bool,
    pub thd: bool,
}

impl Judges {
    /// Loads the models the `wanted` metrics need, where they are at hand.
    pub fn load(
        models: &JudgeModels,
        wanted: &BTreeSet<Metric>,
        device: &Device,
    ) -> anyhow::Result<Self> {
        let wants = |m: Metric| wanted.contains(&m);
        let vggish = match wants(Metric::Fad) || wants(Metric::Kl) {
            false => None,
            true => find_file(
                models.vggish.clone(),
                &published::VGGISH,
                "fad, kl_vggish_*",
            )
            .map(|path| {
                Vggish::load(&path, device)
                    .with_context(|| format!("loading VGGish from {}", path.display()))
            })
            .transpose()?,
        };
        let panns = match wants(Metric::Kl) || wants(Metric::Isc) {
            false => None,
            true => find_file(
                models.panns.clone(),
                &published::PANNS,
                "kl_softmax, kl_sigmoid, isc",
            )
            .map(|path| {
                Cnn14::load(&path, device)
                    .with_context(|| format!("loading PANNs CNN14 from {}", path.display()))
            })
            .transpose()?,
        };
        let clap = match wants(Metric::Clap) {
            false => None,
            true => find_clap(models.clap.as_deref())?
                .map(|dir| {
                    Clap::load(&dir, device)
                        .with_context(|| format!("loading CLAP from {}", dir.display()))
                })
                .transpose()?,
        };
        Ok(Self {
            vggish,
            panns,
            clap,
        })
    }

    /// Whether every reference file's VGGish embeddings are pooled (FAD, the histogram KL).
    pub fn pools_vggish(&self, wanted: &BTreeSet<Metric>) -> bool {
        self.vggish.is_some() && (wanted.contains(&Metric::Fad) || wanted.contains(&Metric::Kl))
    }

    /// Whether paired reference files go through CNN14 (the paired KL).
    pub fn pairs_panns(&self, wanted: &BTreeSet<Metric>) -> bool {
        self.panns.is_some() && wanted.contains(&Metric::Kl)
    }

    /// Which models hear a generated file, and which a reference file.
    pub fn needs(&self, wanted: &BTreeSet<Metric>) -> (Needs, Needs) {
        let pooled = self.pools_vggish(wanted);
        let paired = self.pairs_panns(wanted);
        let generated = Needs {
            vggish: pooled,
            panns: paired || (self.panns.is_some() && wanted.contains(&Metric::Isc)),
            clap: self.clap.is_some() && wanted.contains(&Metric::Clap),
            thd: wanted.contains(&Metric::Thd),
        };
        let reference = Needs {
            vggish: pooled,
            panns: paired,
            ..Needs::default()
        };
        (generated, reference)
    }

    /// What the `needs` models make of one file.
    pub fn listen(&self, audio: &NativeAudio, needs: Needs) -> anyhow::Result<Heard> {
        let mono = &audio.mono;
        let mut heard = Heard::default();
        if let (true, Some(vggish)) = (needs.vggish, &self.vggish) {
            heard.vggish = vggish.embed_audio(&mono.samples, mono.sample_rate)?;
        }
        if let (true, Some(panns)) = (needs.panns, &self.panns) {
            // audioldm_eval reads the first channel, not a mix.
            heard.logits = Some(panns.logits_at(audio.first_channel(), mono.sample_rate)?);
        }
        if let (true, Some(clap)) = (needs.clap, &self.clap) {
            heard.clap = Some(clap_audio(clap, &mono.samples, mono.sample_rate)?);
        }
        if needs.thd {
            heard.thd = Some(thd::thd(&mono.samples).context("silent: THD has no fundamental")?);
        }
        Ok(heard)
    }

    /// The metrics from what was heard: `generated` and `reference` by relative path, `texts`
    /// each generated file's CLAP text.
    pub fn score(
        &self,
        wanted: &BTreeSet<Metric>,
        generated: &BTreeMap<&str, Heard>,
        reference: &BTreeMap<&str, Heard>,
        texts: Option<&BTreeMap<String, String>>,
    ) -> anyhow::Result<Scores> {
        let mut scores = Scores::default();
        let wants = |m: Metric| wanted.contains(&m);
        if self.pools_vggish(wanted) {
            let pool = |set: &BTreeMap<&str, Heard>| -> Vec<Vec<f32>> {
                set.values()
                    .flat_map(|h| h.vggish.iter().cloned())
                    .collect()
            };
            let (gen_rows, ref_rows) = (pool(generated), pool(reference));
            if wants(Metric::Fad) {
                scores.fad = report("fad", fad::fad(&ref_rows, &gen_rows).map_err(Into::into));
            }
            if wants(Metric::Kl)
                && let Some(kl) = report(
                    "kl_vggish_*",
                    histogram_kl::kl_of_rows(&ref_rows, &gen_rows).map_err(Into::into),
                )
            {
                scores.kl_vggish_softmax = Some(kl.softmax);
                scores.kl_vggish_sigmoid = Some(kl.sigmoid);
            }
        }
        if self.pairs_panns(wanted) {
            let pairs: Vec<(&[f32], &[f32])> = generated
                .iter()
                .filter_map(|(path, heard)| {
                    Some((
                        heard.logits.as_deref()?,
                        reference.get(path)?.logits.as_deref()?,
                    ))
                })
                .collect();
            if let Some(kl) = report(
                "kl_softmax, kl_sigmoid",
                paired_kl::kl(&pairs).map_err(Into::into),
            ) {
                scores.kl_softmax = Some(kl.softmax);
                scores.kl_sigmoid = Some(kl.sigmoid);
            }
        }
        if self.panns.is_some() && wants(Metric::Isc) {
            // audioldm_eval takes the files in the order of their sorted paths: `generated` is.
            let logits: Vec<&[f32]> = generated
                .values()
                .filter_map(|h| h.logits.as_deref())
                .collect();
            if let Some(score) = report("isc", isc::inception_score(&logits).map_err(Into::into)) {
                scores.isc_mean = Some(score.mean);
                scores.isc_std = Some(score.std);
            }
        }
        if let (Some(clap), true, Some(texts)) = (&self.clap, wants(Metric::Clap), texts) {
            let mut by_text: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
            for (path, heard) in generated {
                let (Some(audio), Some(text)) = (&heard.clap, texts.get(*path)) else {
                    continue;
                };
                if !by_text.contains_key(text.as_str()) {
                    by_text.insert(text, clap.text_embedding(text)?);
                }
                let cosine = clap_score::cosine(audio, &by_text[text.as_str()])
                    .with_context(|| format!("{path}: CLAP gave an empty embedding"))?;
                scores.clap_by_file.insert((*path).to_string(), cosine);
            }
            if !scores.clap_by_file.is_empty() {
                let n = scores.clap_by_file.len() as f64;
                scores.clap = Some(scores.clap_by_file.values().sum::<f64>() / n);
            }
        }
        if wants(Metric::Thd) {
            let all: Vec<f64> = generated.values().filter_map(|h| h.thd).collect();
            if !all.is_empty() {
                scores.thd = Some(all.iter().sum::<f64>() / all.len() as f64);
            }
        }
        Ok(scores)
    }
}

/// CLAP's audio embedding of mono `samples` at `rate`, resampled to the extractor's rate as
/// `librosa.load(sr=48000)` does it: rubato for soxr (README: the measured difference), and
/// librosa's length, ⌈n · to / from⌉, because the extractor's repeat-padding counts copies of a
/// short clip by its length.
pub fn clap_audio(clap: &Clap, samples: &[f32], rate: u32) -> anyhow::Result<Vec<f32>> {
    let at = clap.sampling_rate();
    if rate == at {
        return Ok(clap.audio_embedding(samples)?);
    }
    let mut resampled = resample(samples, rate, at)?;
    resampled.resize(librosa_resampled_len(samples.len(), rate, at), 0.0);
    Ok(clap.audio_embedding(&resampled)?)
}

/// A metric's value, or `None` with the reason on stderr.
fn report<T>(metric: &str, value: anyhow::Result<T>) -> Option<T> {
    value
        .map_err(|e| eprintln!("{metric}: not computed: {e:#}"))
        .ok()
}

/// A published file from its flag, else the cache; `None` with a note when neither has it.
fn find_file(
    flag: Option<PathBuf>,
    file: &published::PublishedFile,
    metrics: &str,
) -> Option<PathBuf> {
    let found = flag.or_else(|| published::cached(file));
    if found.is_none() {
        eprintln!(
            "{metrics}: left out: no {} checkpoint (give --{} PATH, or run `ekphrasis models \
             fetch --only {}` where the network allows)",
            file.role, file.role, file.role
        );
    }
    found
}

/// The CLAP checkpoint folder from `--clap` (a folder or hub id), else the cached default.
fn find_clap(flag: Option<&str>) -> anyhow::Result<Option<PathBuf>> {
    if let Some(spec) = flag {
        return hub::resolve(spec, &catalog::CLAP.files)
            .map(Some)
            .context("the CLAP model");
    }
    let found = hub::cached_only(catalog::CLAP.hub_id, &catalog::CLAP.files);
    if found.is_none() {
        eprintln!(
            "clap: left out: no CLAP checkpoint (give --clap DIR, or run `ekphrasis models fetch \
             --only clap` where the network allows)"
        );
    }
    Ok(found)
}
