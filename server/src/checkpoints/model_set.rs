//! The chain's models as the server and the command line find and load them: one checkpoint
//! directory per role, the revision of each (what a stored track records), and loading them into
//! a [`Pipeline`]. The server takes `--models DIR`, else the Hugging Face cache that
//! `ekphrasis models fetch` fills, else (or with `--demo`) the tiny demo models written into the
//! data folder, whose music is noise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ekphrasis_models::blip::Blip;
use ekphrasis_models::device::{DeviceChoice, compute_dtype};
use ekphrasis_models::eval::clap::Clap;
use ekphrasis_models::falcon_rw::FalconRw;
use ekphrasis_models::musicgen::MusicGen;
use ekphrasis_models::pipeline::{Models, Pipeline, needs};
use ekphrasis_shared::domain::Variant;
use sha2::{Digest, Sha256};

use super::catalog::{self, Checkpoint};
use super::hub;
use super::labeller::{self, LabellerSource};
use super::quantize::QuantizeChoice;
use super::source::ModelSource;

/// The folder under the data folder where the demo models are written.
pub const DEMO_DIR: &str = "demo-models";

/// One checkpoint directory per role; a role left out is not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDirs {
    pub labeller: LabellerSource,
    pub blip: Option<PathBuf>,
    pub falcon: Option<PathBuf>,
    pub musicgen: Option<PathBuf>,
    /// Fine-tuned MusicGens, one a variant at most (the optimized variant needs one).
    pub tuned: Vec<(Variant, PathBuf)>,
    /// CLAP, which judges how closely each finished track matches its words (optional; not
    /// part of the chain and not among the revisions that key a track's music).
    pub clap: Option<PathBuf>,
}

/// How to load.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub device: DeviceChoice,
    /// Falcon-RW's and MusicGen's decoder weights quantized.
    pub quantize: QuantizeChoice,
}

impl ModelDirs {
    /// Every role from one folder with `emotion/` (or `clip/`), `blip/`, `falcon/` and
    /// `musicgen/`, as `ekphrasis models tiny` writes it; a role missing there is an error.
    pub fn from_folder(models: &Path) -> anyhow::Result<Self> {
        if !models.is_dir() {
            anyhow::bail!("the model folder {} does not exist", models.display());
        }
        let labeller = match labeller::choose_source(None, None, Some(models)) {
            LabellerSource::Clip(spec) if !Path::new(&spec).is_dir() => anyhow::bail!(
                "{}: no emotion/ (a trained labeller) or clip/ folder",
                models.display()
            ),
            source => source,
        };
        let role = |checkpoint: &Checkpoint| {
            let dir = models.join(checkpoint.role);
            if dir.is_dir() {
                Ok(dir)
            } else {
                Err(anyhow::anyhow!(
                    "{}: no {}/ folder (the {} model, {})",
                    models.display(),
                    checkpoint.role,
                    checkpoint.purpose,
                    checkpoint.hub_id
                ))
            }
        };
        Ok(Self {
            labeller,
            blip: Some(role(&catalog::BLIP)?),
            falcon: Some(role(&catalog::FALCON)?),
            musicgen: Some(role(&catalog::MUSICGEN)?),
            tuned: Vec::new(),
            clap: Some(models.join(catalog::CLAP.role)).filter(|d| d.is_dir()),
        })
    }

    /// Every default checkpoint from the Hugging Face cache, without touching the network; the
    /// roles not there are named in the error.
    pub fn from_cache() -> anyhow::Result<Self> {
        let mut missing = Vec::new();
        let mut find = |checkpoint: &Checkpoint| {
            let found = hub::cached_only(checkpoint.hub_id, &checkpoint.files);
            if found.is_none() {
                missing.push(checkpoint.hub_id);
            }
            found
        };
        let labeller = match std::env::var_os("EKPHRASIS_EMOTION_MODEL").filter(|d| !d.is_empty()) {
            Some(dir) => LabellerSource::EmotionModel(dir.into()),
            None => LabellerSource::Clip(
                find(&catalog::CLIP)
                    .unwrap_or_default()
                    .display()
                    .to_string(),
            ),
        };
        let (blip, falcon, musicgen) = (
            find(&catalog::BLIP),
            find(&catalog::FALCON),
            find(&catalog::MUSICGEN),
        );
        if !missing.is_empty() {
            anyhow::bail!(
                "not in the Hugging Face cache: {} (run `ekphrasis models fetch` where the \
                 network allows, or give --models DIR)",
                missing.join(", ")
            );
        }
        Ok(Self {
            labeller,
            blip,
            falcon,
            musicgen,
            tuned: Vec::new(),
            clap: hub::cached_only(catalog::CLAP.hub_id, &catalog::CLAP.files),
        })
    }

    /// The tiny random-weight demo models, written into `data/demo-models/` the first time.
    pub fn demo(data: &Path) -> anyhow::Result<Self> {
        let dir = data.join(DEMO_DIR);
        let complete = ekphrasis_models::tiny::MODELS
            .iter()
            .all(|(role, _)| dir.join(role).join("config.json").is_file());
        if !complete {
            // Written beside, then renamed, so a crash never leaves half a set.
            let staging = data.join(format!("{DEMO_DIR}.tmp-{:08x}", rand::random::<u32>()));
            ekphrasis_models::tiny::write_all(&staging, 0)
                .with_context(|| format!("writing the demo models into {}", staging.display()))?;
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&staging, &dir)
                .with_context(|| format!("moving the demo models to {}", dir.display()))?;
        }
        Self::from_folder(&dir)
    }

    /// The models `ekphrasis serve` (and `gallery render`) run: the tiny demo set when asked
    /// for; else every role from `models` when given (an error names what is missing there);
    /// else the Hugging Face cache; else, saying why, the demo set. True when it is the demo.
    /// `clap`, when given, is the CLAP model that judges each track (else `MODELS/clap/` or the
    /// cached laion/clap-htsat-unfused, if there).
    pub fn for_server(
        models: Option<&Path>,
        tuned: &[(Variant, PathBuf)],
        clap: Option<&Path>,
        demo: bool,
        data: &Path,
    ) -> anyhow::Result<(Self, bool)> {
        let (mut dirs, demo) = if demo {
            (Self::demo(data)?, true)
        } else if let Some(models) = models {
            (Self::from_folder(models)?, false)
        } else {
            match Self::from_cache() {
                Ok(dirs) => (dirs, false),
                Err(why) => {
                    tracing::warn!(
                        "{why:#}; running the tiny demo models instead: the music they make is                          noise"
                    );
                    (Self::demo(data)?, true)
                }
            }
        };
        for (variant, dir) in tuned {
            if !dir.is_dir() {
                anyhow::bail!(
                    "the {variant} variant's MusicGen {} is not a folder",
                    dir.display()
                );
            }
        }
        dirs.tuned = tuned.to_vec();
        if let Some(dir) = clap {
            if !dir.is_dir() {
                anyhow::bail!("the CLAP model {} is not a folder", dir.display());
            }
            dirs.clap = Some(dir.to_path_buf());
        }
        Ok((dirs, demo))
    }

    /// The variants these models can run.
    pub fn variants(&self) -> Vec<Variant> {
        Variant::ALL
            .into_iter()
            .filter(|v| *v != Variant::Optimized || self.tuned_for(*v).is_some())
            .collect()
    }

    /// The tuned MusicGen of `variant`, if it has one.
    pub fn tuned_for(&self, variant: Variant) -> Option<&Path> {
        self.tuned
            .iter()
            .find(|(v, _)| *v == variant)
            .map(|(_, dir)| dir.as_path())
    }

    /// The role (in [`Self::revisions`]) of the MusicGen that composes `variant`: its own tuned
    /// one (`optimized` for the optimized variant, as before there were others;
    /// `musicgen-VARIANT` for the rest), else the base `musicgen`.
    pub fn composer_role(&self, variant: Variant) -> Option<String> {
        match (self.tuned_for(variant), variant) {
            (Some(_), Variant::Optimized) => Some("optimized".into()),
            (Some(_), _) => Some(format!("musicgen-{variant}")),
            (None, Variant::Optimized) => None,
            (None, _) => self.musicgen.is_some().then(|| "musicgen".into()),
        }
    }

    /// Each role's checkpoint revision: the Hugging Face commit of a cached snapshot, else a
    /// fingerprint of the folder's files (names, sizes, modification times).
    pub fn revisions(&self) -> BTreeMap<String, String> {
        let mut revisions = BTreeMap::new();
        let (role, dir) = match &self.labeller {
            LabellerSource::EmotionModel(dir) => ("emotion", dir.clone()),
            LabellerSource::Clip(spec) => ("clip", PathBuf::from(spec)),
        };
        revisions.insert(role.to_owned(), revision(&dir));
        let roles = [
            ("blip", &self.blip),
            ("falcon", &self.falcon),
            ("musicgen", &self.musicgen),
        ];
        for (role, dir) in roles {
            if let Some(dir) = dir {
                revisions.insert(role.to_owned(), revision(dir));
            }
        }
        for (variant, dir) in &self.tuned {
            if let Some(role) = self.composer_role(*variant) {
                revisions.insert(role, revision(dir));
            }
        }
        revisions
    }

    /// These roles less those `variants` never run: BLIP when none composes from the caption,
    /// Falcon when none from a description, the base MusicGen when each has its own tuned one,
    /// the tuned MusicGens of other variants. (Revisions are read from `self`, not from this.)
    pub fn needed_by(&self, variants: &[Variant]) -> ModelDirs {
        let mut dirs = self.clone();
        let (caption, description) = variants
            .iter()
            .map(|v| needs(*v))
            .fold((false, false), |(c, d), (vc, vd)| (c || vc, d || vd));
        if !caption {
            dirs.blip = None;
        }
        if !description {
            dirs.falcon = None;
        }
        dirs.tuned.retain(|(variant, _)| variants.contains(variant));
        if variants.iter().all(|v| dirs.tuned_for(*v).is_some()) {
            dirs.musicgen = None;
        }
        dirs
    }

    /// Loads every role given into a pipeline.
    pub fn load(&self, options: &LoadOptions) -> anyhow::Result<Pipeline> {
        let device = options.device.open()?;
        let dtype = compute_dtype(&device);
        let labeller = labeller::load(&self.labeller, &device)?;
        let blip = match &self.blip {
            Some(dir) => Some(Blip::load(dir, &device, dtype)?),
            None => None,
        };
        let falcon = match &self.falcon {
            Some(dir) => {
                let mut falcon = FalconRw::load(dir, &device, dtype)?;
                if let Some(quantization) = options.quantize.for_falcon(&device, falcon.config()) {
                    falcon.quantize(quantization)?;
                }
                Some(falcon)
            }
            None => None,
        };
        let composer = |dir: &Path| -> anyhow::Result<MusicGen> {
            let mut musicgen = MusicGen::load(dir, &device, dtype)?;
            if let Some(quantization) = options.quantize.for_musicgen(&device, musicgen.config()) {
                musicgen.quantize_decoder(quantization)?;
            }
            Ok(musicgen)
        };
        Ok(Pipeline::new(Models {
            labeller,
            blip,
            falcon,
            musicgen: self.musicgen.as_deref().map(composer).transpose()?,
            tuned: self
                .tuned
                .iter()
                .map(|(variant, dir)| Ok((*variant, composer(dir)?)))
                .collect::<anyhow::Result<_>>()?,
        }))
    }
}

impl ModelDirs {
    /// Loads CLAP, when there is one, on the chain's device in f32.
    pub fn load_judge(&self, options: &LoadOptions) -> anyhow::Result<Option<Clap>> {
        let Some(dir) = &self.clap else {
            return Ok(None);
        };
        let device = options.device.open()?;
        Clap::load(dir, &device)
            .map(Some)
            .with_context(|| format!("loading CLAP from {}", dir.display()))
    }
}

/// A checkpoint directory's revision: the Hugging Face commit of a cached snapshot, else a
/// fingerprint of its files' names, sizes and sampled contents — the same for the same files
/// on any machine (so the workers of a cluster key identical requests alike), different when
/// any weight block it samples changes.
pub fn revision(dir: &Path) -> String {
    let parts: Vec<_> = dir.components().collect();
    if let Some(at) = parts.iter().rposition(|c| c.as_os_str() == "snapshots")
        && let Some(commit) = parts.get(at + 1)
    {
        return commit.as_os_str().to_string_lossy().into_owned();
    }
    let mut hasher = Sha256::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).collect())
        .unwrap_or_default();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Ok(meta) = entry.metadata() else { continue };
        hasher.update(entry.file_name().as_encoded_bytes());
        hasher.update(meta.len().to_le_bytes());
        if meta.is_file() {
            sample_contents(&entry.path(), meta.len(), &mut hasher);
        }
    }
    format!("local-{}", &hex::encode(hasher.finalize())[..16])
}

/// Bytes of a file read into a fingerprint: the whole of a small file; of a large one, its
/// first and last 64 KiB and 64 blocks of 4 KiB spread evenly between (a few MB read for a
/// checkpoint of gigabytes).
fn sample_contents(path: &Path, len: u64, hasher: &mut Sha256) {
    use std::io::{Read, Seek, SeekFrom};
    const WHOLE_BELOW: u64 = 1 << 20;
    const END: u64 = 64 << 10;
    const BLOCK: u64 = 4 << 10;
    const BLOCKS: u64 = 64;
    let Ok(mut file) = std::fs::File::open(path) else {
        return;
    };
    let mut read_at = |offset: u64, size: u64| {
        let mut buffer = vec![0; size as usize];
        if file.seek(SeekFrom::Start(offset)).is_ok() && file.read_exact(&mut buffer).is_ok() {
            hasher.update(&buffer);
        }
    };
    if len < WHOLE_BELOW {
        read_at(0, len);
        return;
    }
    read_at(0, END);
    let span = len - 2 * END - BLOCK;
    for i in 0..BLOCKS {
        read_at(END + span * i / (BLOCKS - 1), BLOCK);
    }
    read_at(len - END, END);
}

impl ModelSource for ModelDirs {
    fn revisions(&self) -> BTreeMap<String, String> {
        ModelDirs::revisions(self)
    }

    fn variants(&self) -> Vec<Variant> {
        ModelDirs::variants(self)
    }

    fn composer_role(&self, variant: Variant) -> Option<String> {
        ModelDirs::composer_role(self, variant)
    }

    fn load(&self, options: &LoadOptions) -> anyhow::Result<Pipeline> {
        ModelDirs::load(self, options)
    }

    fn load_for(&self, options: &LoadOptions, variants: &[Variant]) -> anyhow::Result<Pipeline> {
        self.needed_by(variants).load(options)
    }

    fn load_judge(&self, options: &LoadOptions) -> anyhow::Result<Option<Clap>> {
        ModelDirs::load_judge(self, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_loads_only_what_its_variants_run() {
        let all = ModelDirs {
            labeller: LabellerSource::Clip("clip".into()),
            blip: Some("blip".into()),
            falcon: Some("falcon".into()),
            musicgen: Some("musicgen".into()),
            tuned: vec![
                (Variant::Optimized, "optimized".into()),
                (Variant::Lyrical, "lyrical".into()),
            ],
            clap: Some("clap".into()),
        };
        let roles = |dirs: ModelDirs| {
            (
                dirs.blip.is_some(),
                dirs.falcon.is_some(),
                dirs.musicgen.is_some(),
                dirs.tuned.into_iter().map(|(v, _)| v).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            roles(all.needed_by(&[Variant::Emotive])),
            (false, false, true, vec![])
        );
        assert_eq!(
            roles(all.needed_by(&[Variant::Narrative, Variant::Emotive])),
            (true, false, true, vec![])
        );
        // Each served variant has its own tuned MusicGen: the base one stays on disk.
        assert_eq!(
            roles(all.needed_by(&[Variant::Optimized, Variant::Lyrical])),
            (
                true,
                true,
                false,
                vec![Variant::Optimized, Variant::Lyrical]
            )
        );
        assert_eq!(
            roles(all.needed_by(&[Variant::Lyrical, Variant::Emotive])),
            (true, true, true, vec![Variant::Lyrical])
        );
        assert_eq!(all.needed_by(&Variant::ALL), all);
        // The labeller and CLAP are always loaded.
        let emotive = all.needed_by(&[Variant::Emotive]);
        assert_eq!((emotive.labeller, emotive.clap), (all.labeller, all.clap));
    }

    #[test]
    fn a_cached_snapshot_is_named_by_its_commit() {
        let dir = Path::new("/hf/hub/models--facebook--musicgen-small/snapshots/abc123/");
        assert_eq!(revision(dir), "abc123");
    }

    #[test]
    fn a_local_folder_is_fingerprinted_by_its_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let first = revision(dir.path());
        assert!(first.starts_with("local-"), "{first}");
        assert_eq!(revision(dir.path()), first);
        std::fs::write(dir.path().join("model.safetensors"), "weights").unwrap();
        let second = revision(dir.path());
        assert_ne!(second, first);
        // The same files elsewhere, written later, are the same revision.
        let copy = tempfile::tempdir().unwrap();
        std::fs::write(copy.path().join("config.json"), "{}").unwrap();
        std::fs::write(copy.path().join("model.safetensors"), "weights").unwrap();
        assert_eq!(revision(copy.path()), second);
        // Changed weights deep inside a large file are seen (where a sampled block is).
        let len = 3 << 20;
        let mut weights = vec![7u8; len];
        std::fs::write(copy.path().join("model.safetensors"), &weights).unwrap();
        let large = revision(copy.path());
        let span = len - 2 * (64 << 10) - (4 << 10);
        weights[(64 << 10) + span * 32 / 63 + 10] = 8;
        std::fs::write(copy.path().join("model.safetensors"), &weights).unwrap();
        assert_ne!(revision(copy.path()), large);
    }

    #[test]
    fn a_folder_missing_a_role_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("clip")).unwrap();
        std::fs::create_dir(dir.path().join("blip")).unwrap();
        let err = ModelDirs::from_folder(dir.path()).unwrap_err().to_string();
        assert!(err.contains("falcon/"), "{err}");
        let err = ModelDirs::from_folder(&dir.path().join("none"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
