//! The two folders `ekphrasis eval` compares: their audio files found recursively, named by
//! their paths relative to the folder, each one's emotion (its first folder), and the pairs (a
//! generated file and the reference file at the same relative path).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The audio containers `eval` reads, by extension (any case).
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "flac", "mp3", "ogg"];

/// One audio file of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFile {
    /// Its path relative to the set's folder, `/`-separated (`happy/a.wav`).
    pub relative: String,
    /// Where it is.
    pub path: PathBuf,
}

impl AudioFile {
    /// The emotion a file is filed under: the first folder of its relative path, if it has one.
    pub fn emotion(&self) -> Option<&str> {
        self.relative.split_once('/').map(|(first, _)| first)
    }
}

/// Every audio file under a folder, sorted by relative path.
#[derive(Debug, Clone, Default)]
pub struct AudioSet {
    pub files: Vec<AudioFile>,
}

impl AudioSet {
    /// The audio files under `dir`, at any depth; an error when `dir` is not a readable folder
    /// or holds no audio file.
    pub fn find(dir: &Path) -> anyhow::Result<Self> {
        if !dir.is_dir() {
            bail!("{}: no such folder", dir.display());
        }
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        if files.is_empty() {
            bail!(
                "{}: no audio files ({}) in it or below it",
                dir.display(),
                AUDIO_EXTENSIONS.join(", ")
            );
        }
        files.sort_by(|a, b| a.relative.cmp(&b.relative));
        Ok(Self { files })
    }

    /// The file at `relative`, if the set has it.
    pub fn get(&self, relative: &str) -> Option<&AudioFile> {
        self.files
            .binary_search_by(|f| f.relative.as_str().cmp(relative))
            .ok()
            .map(|i| &self.files[i])
    }
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<AudioFile>) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if kind.is_dir() {
            walk(root, &path, files)?;
        } else if is_audio(&path) {
            let relative = path
                .strip_prefix(root)
                .expect("walked from the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push(AudioFile { relative, path });
        }
    }
    Ok(())
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_at_any_depth_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "sad/b.WAV",
            "happy/x/a.flac",
            "happy/a.mp3",
            "c.ogg",
            "notes.txt",
        ] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"").unwrap();
        }
        let set = AudioSet::find(dir.path()).unwrap();
        let names: Vec<_> = set.files.iter().map(|f| f.relative.as_str()).collect();
        assert_eq!(
            names,
            ["c.ogg", "happy/a.mp3", "happy/x/a.flac", "sad/b.WAV"]
        );
        let emotions: Vec<_> = set.files.iter().map(AudioFile::emotion).collect();
        assert_eq!(emotions, [None, Some("happy"), Some("happy"), Some("sad")]);
        assert!(set.get("happy/a.mp3").is_some());
        assert!(set.get("happy/b.mp3").is_none());
    }

    #[test]
    fn an_empty_or_missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = AudioSet::find(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no audio files"), "{err}");
        let missing = dir.path().join("nope");
        let err = AudioSet::find(&missing).unwrap_err().to_string();
        assert!(err.contains("nope: no such folder"), "{err}");
    }
}
