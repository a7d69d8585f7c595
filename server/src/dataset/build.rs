//! `dataset build`: a painting–music data set from a folder of paintings and a folder of music,
//! both sorted by emotion (the Emotion Painting Music Dataset's shape). The music is cut into
//! non-overlapping clips at 32 kHz; each painting is paired (seeded) with a clip of its emotion;
//! the pairs are split by emotion into training, validation and test manifests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ekphrasis_shared::domain::Emotion;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::folders::ByEmotion;
use super::manifest::write_json;
use crate::audio::decode::MusicReader;
use crate::audio::wav;

/// Music files read (MIDI rendered with the SoundFont).
pub const MUSIC_EXTENSIONS: [&str; 6] = ["wav", "flac", "mp3", "ogg", "mid", "midi"];
/// Paintings read.
pub const PAINTING_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];
/// The clips' sample rate (MusicGen's codec).
pub const CLIP_RATE: u32 = 32_000;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub paintings: PathBuf,
    pub music: PathBuf,
    pub out: PathBuf,
    /// Seconds a clip.
    pub clip_seconds: f64,
    /// Shares of training, validation and test pairs.
    pub split: [f64; 3],
    pub seed: u64,
    /// The SoundFont MIDI files are rendered with.
    pub soundfont: Option<PathBuf>,
}

/// One pair as the manifests hold it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairRow {
    /// The painting (absolute).
    pub painting: PathBuf,
    pub emotion: Emotion,
    /// The clip, relative to the manifests.
    pub audio: PathBuf,
}

/// What was built.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildReport {
    /// Clips cut, by emotion.
    pub clips: BTreeMap<String, usize>,
    /// Pairs in each manifest.
    pub train: usize,
    pub val: usize,
    pub test: usize,
    /// Files not used, each with the reason.
    pub skipped: Vec<String>,
}

/// Builds the data set; `on_file` hears each music file as it is cut.
pub fn build(
    options: &BuildOptions,
    mut on_file: impl FnMut(&Path, usize, usize),
) -> anyhow::Result<BuildReport> {
    let total: f64 = options.split.iter().sum();
    if options.split.iter().any(|s| !(0.0..=1.0).contains(s)) || (total - 1.0).abs() > 1e-6 {
        bail!(
            "--split needs three shares that add up to 1, not {:?}",
            options.split
        );
    }
    if !(options.clip_seconds.is_finite() && options.clip_seconds >= 1.0) {
        bail!(
            "--clip-seconds must be at least 1, not {}",
            options.clip_seconds
        );
    }
    let reader = MusicReader::new(options.soundfont.as_deref())?;
    let paintings = ByEmotion::scan(&options.paintings, &PAINTING_EXTENSIONS, "paintings")?;
    let music = ByEmotion::scan(&options.music, &MUSIC_EXTENSIONS, "music")?;
    let mut report = BuildReport::default();
    for path in paintings.skipped.iter().chain(&music.skipped) {
        report.skipped.push(format!(
            "{}: not a painting or music file here",
            path.display()
        ));
    }
    let clip_len = (options.clip_seconds * f64::from(CLIP_RATE)).round() as usize;
    let all = music.files.iter().map(|(_, files)| files.len()).sum();
    let mut done = 0;
    let mut clips: Vec<(Emotion, Vec<PathBuf>)> = Vec::new();
    for (emotion, files) in &music.files {
        let mut cut_here = Vec::new();
        let dir = options.out.join("clips").join(emotion.as_str());
        for file in files {
            done += 1;
            on_file(file, done, all);
            match cut(&reader, file, &dir, clip_len) {
                Ok(made) => {
                    cut_here.extend(made.into_iter().map(|p| relative(&p, &options.out)));
                }
                Err(e) => report.skipped.push(format!("{e:#}")),
            }
        }
        clips.push((*emotion, cut_here));
    }
    let clips_of = |emotion: Emotion| {
        clips
            .iter()
            .find(|(e, _)| *e == emotion)
            .map(|(_, c)| c.as_slice())
            .unwrap_or_default()
    };
    for emotion in Emotion::ALL {
        report
            .clips
            .insert(emotion.as_str().to_string(), clips_of(emotion).len());
    }
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut split: [Vec<PairRow>; 3] = Default::default();
    for (emotion, painted) in &paintings.files {
        let pool = clips_of(*emotion);
        if pool.is_empty() {
            for p in painted {
                report.skipped.push(format!(
                    "{}: no music of the emotion {emotion} to pair it with",
                    p.display()
                ));
            }
            continue;
        }
        let mut pool = pool.to_vec();
        pool.shuffle(&mut rng);
        let mut rows: Vec<PairRow> = painted
            .iter()
            .enumerate()
            .map(|(i, p)| -> anyhow::Result<PairRow> {
                Ok(PairRow {
                    painting: std::path::absolute(p)
                        .with_context(|| format!("{}: no absolute path", p.display()))?,
                    emotion: *emotion,
                    audio: pool[i % pool.len()].clone(),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        rows.shuffle(&mut rng);
        let n = rows.len();
        let train = (options.split[0] * n as f64).round() as usize;
        let val = ((options.split[1] * n as f64).round() as usize).min(n - train.min(n));
        let mut rest = rows.split_off(train.min(n));
        let test = rest.split_off(val);
        split[0].extend(rows);
        split[1].extend(rest);
        split[2].extend(test);
    }
    [report.train, report.val, report.test] = [split[0].len(), split[1].len(), split[2].len()];
    if report.train == 0 {
        bail!("no painting could be paired with music: nothing to train on");
    }
    for (rows, name) in split.iter().zip(["train.json", "val.json", "test.json"]) {
        write_json(&options.out.join(name), rows)?;
    }
    write_json(
        &options.out.join("dataset.json"),
        &serde_json::json!({
            "paintings": std::path::absolute(&options.paintings)?,
            "music": std::path::absolute(&options.music)?,
            "clip_seconds": options.clip_seconds,
            "sample_rate": CLIP_RATE,
            "split": options.split,
            "seed": options.seed,
            "soundfont": options.soundfont.as_ref().map(|p| p.display().to_string()),
            "report": report,
        }),
    )?;
    Ok(report)
}

/// Cuts one music file into clips in `dir`: every whole clip, and a last one when at least half
/// a clip is left (a file shorter than half a clip gives none). Returns the clip files.
fn cut(
    reader: &MusicReader,
    file: &Path,
    dir: &Path,
    clip_len: usize,
) -> anyhow::Result<Vec<PathBuf>> {
    let samples = reader.read_mono_at(file, CLIP_RATE)?;
    let mut starts: Vec<usize> = (0..samples.len() / clip_len)
        .map(|k| k * clip_len)
        .collect();
    let left = samples.len() % clip_len;
    if left * 2 >= clip_len {
        starts.push(samples.len() - left);
    }
    if starts.is_empty() {
        bail!(
            "{}: {:.1} s of music, shorter than half a clip",
            file.display(),
            samples.len() as f64 / f64::from(CLIP_RATE)
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "clip".into());
    let mut made = Vec::with_capacity(starts.len());
    for (k, start) in starts.into_iter().enumerate() {
        let end = (start + clip_len).min(samples.len());
        let path = dir.join(format!("{stem}-{k:03}.wav"));
        let temp = path.with_extension("partial");
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&temp).with_context(|| format!("creating {}", temp.display()))?,
        );
        wav::write(&mut out, CLIP_RATE, 1, &samples[start..end])
            .and_then(|()| std::io::Write::flush(&mut out))
            .with_context(|| format!("writing {}", temp.display()))?;
        std::fs::rename(&temp, &path).with_context(|| format!("writing {}", path.display()))?;
        made.push(path);
    }
    Ok(made)
}

fn relative(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}
