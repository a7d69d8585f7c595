//! A training manifest (`train.json`, `val.json`): a JSON array of rows, each naming a clip
//! (`"audio"`, a path relative to the manifest) and its conditioning text, given as `"text"` or
//! as `"label"`, a path to a `.txt` file holding it (the paper's authors' format). Other fields (a
//! data set's `painting`, `emotion`, …) are left to people and other tools. Errors name the
//! manifest, the row and the file; [`write_json`] writes manifests whole or not at all.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// One row as written in the file.
#[derive(Debug, Deserialize)]
struct RawRow {
    audio: PathBuf,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    label: Option<PathBuf>,
}

/// A clip and its text, paths resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The music file.
    pub audio: PathBuf,
    /// The conditioning text.
    pub text: String,
}

/// Reads a manifest; every row must name a clip and a non-empty text.
pub fn read(path: &Path) -> anyhow::Result<Vec<Row>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let raw: Vec<RawRow> = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: not a JSON array of {{\"audio\", \"text\" or \"label\"}} rows",
            path.display()
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut rows = Vec::with_capacity(raw.len());
    for (i, row) in raw.into_iter().enumerate() {
        let at = || format!("{} row {i}", path.display());
        let text = match (row.text, row.label) {
            (Some(text), _) => text,
            (None, Some(label)) => {
                let label = base.join(label);
                std::fs::read_to_string(&label).with_context(|| {
                    format!("{}: cannot read the label {}", at(), label.display())
                })?
            }
            (None, None) => bail!(
                "{}: has neither \"text\" nor \"label\" (`ekphrasis dataset texts` writes them)",
                at()
            ),
        };
        let text = text.trim().to_string();
        if text.is_empty() {
            bail!("{}: the text is empty", at());
        }
        rows.push(Row {
            audio: base.join(row.audio),
            text,
        });
    }
    if rows.is_empty() {
        bail!("{}: no rows", path.display());
    }
    Ok(rows)
}

/// Writes a JSON value to `path` through a temporary file and a rename, so an interruption never
/// leaves half a file.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let temp = path.with_extension("partial");
    std::fs::write(&temp, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_label_files_are_read_relative_to_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "  calm piano \n").unwrap();
        let manifest = dir.path().join("train.json");
        std::fs::write(
            &manifest,
            r#"[{"audio": "a.wav", "label": "a.txt"}, {"audio": "b.wav", "text": "fast drums", "emotion": "fun"}]"#,
        )
        .unwrap();
        let rows = read(&manifest).unwrap();
        assert_eq!(rows[0].audio, dir.path().join("a.wav"));
        assert_eq!(rows[0].text, "calm piano");
        assert_eq!(rows[1].text, "fast drums");
    }

    #[test]
    fn broken_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("train.json");
        for (body, says) in [
            (r#"[{"audio": "a.wav"}]"#, "row 0: has neither"),
            (
                r#"[{"audio": "a.wav", "text": " "}]"#,
                "row 0: the text is empty",
            ),
            (
                r#"[{"audio": "a.wav", "label": "missing.txt"}]"#,
                "missing.txt",
            ),
            (r#"{"audio": "a.wav"}"#, "not a JSON array"),
            ("[]", "no rows"),
        ] {
            std::fs::write(&manifest, body).unwrap();
            let err = format!("{:#}", read(&manifest).unwrap_err());
            assert!(err.contains(says), "{body}: {err}");
            assert!(err.contains("train.json"), "{err}");
        }
    }
}
