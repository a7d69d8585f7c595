//! A folder of files by emotion: `happy/`, `angry/`, `sad/`, `fun/`, `neutral/`, each holding
//! files of the kinds asked for (by extension, case-insensitive). What is not such a file is
//! listed as skipped; an unknown sub-folder is refused by name.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ekphrasis_shared::domain::Emotion;

/// Files by emotion (in `Emotion::ALL` order, an emotion without a folder left out), each list
/// sorted by name.
#[derive(Debug, Clone, Default)]
pub struct ByEmotion {
    pub files: Vec<(Emotion, Vec<PathBuf>)>,
    /// Entries that are not files of the kinds asked for.
    pub skipped: Vec<PathBuf>,
}

impl ByEmotion {
    /// Lists `root`, keeping files whose extension is in `extensions`.
    pub fn scan(root: &Path, extensions: &[&str], what: &str) -> anyhow::Result<Self> {
        if !root.is_dir() {
            bail!(
                "{}: no {what} folder (it needs one sub-folder per emotion: happy, angry, sad, fun, neutral)",
                root.display()
            );
        }
        let mut found = Self::default();
        for entry in sorted(root)? {
            let name = entry.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if !entry.is_dir() {
                found.skipped.push(entry);
                continue;
            }
            let Some(emotion) = Emotion::ALL.into_iter().find(|e| e.as_str() == name) else {
                bail!(
                    "{}: unexpected folder; {what} are sorted into happy, angry, sad, fun and neutral",
                    entry.display()
                );
            };
            let mut files = Vec::new();
            for file in sorted(&entry)? {
                let keep = file.is_file()
                    && file
                        .extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)));
                let hidden = file
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if keep {
                    files.push(file);
                } else if !hidden {
                    found.skipped.push(file);
                }
            }
            found.files.push((emotion, files));
        }
        found
            .files
            .sort_by_key(|(e, _)| Emotion::ALL.iter().position(|x| x == e));
        if found.files.iter().all(|(_, files)| files.is_empty()) {
            bail!("{}: no {what} in any emotion folder", root.display());
        }
        Ok(found)
    }
}

fn sorted(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}
