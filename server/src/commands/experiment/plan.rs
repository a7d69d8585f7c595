//! What `ekphrasis experiment` works through: the data set's test split (the `test.json`
//! `ekphrasis dataset build` writes), each painting under a name unique within its emotion, and
//! the folder layout under `--out` that makes generated and reference files pair by path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ekphrasis_shared::domain::{Emotion, Variant};
use serde::Deserialize;

/// One row of `test.json`.
#[derive(Debug, Deserialize)]
struct TestRow {
    painting: PathBuf,
    emotion: Emotion,
    audio: PathBuf,
}

/// One painting of the test split and its reference clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The painting.
    pub painting: PathBuf,
    /// Its emotion in the data set (the folder its music is filed under).
    pub emotion: Emotion,
    /// The reference clip it was paired with.
    pub clip: PathBuf,
    /// `<emotion>/<name>.wav`: where its music goes in every variant's folder and in
    /// `reference/`.
    pub relative: String,
}

/// Reads `DATA/test.json`: every painting of the test split, in the manifest's order.
pub fn test_split(data: &Path) -> anyhow::Result<Vec<Item>> {
    let path = data.join("test.json");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "{}: cannot read (a data set from `ekphrasis dataset build` has one)",
            path.display()
        )
    })?;
    let rows: Vec<TestRow> = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: not a JSON array of {{\"painting\", \"emotion\", \"audio\"}} rows",
            path.display()
        )
    })?;
    if rows.is_empty() {
        bail!("{}: the test split is empty", path.display());
    }
    let mut taken = BTreeSet::new();
    Ok(rows
        .into_iter()
        .map(|row| {
            let stem = row
                .painting
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "painting".into());
            let relative = unique_name(&mut taken, row.emotion, &stem);
            Item {
                painting: row.painting,
                emotion: row.emotion,
                clip: data.join(row.audio),
                relative,
            }
        })
        .collect())
}

/// `<emotion>/<stem>.wav`, or `<stem>-2.wav`, `-3`… when an earlier painting took it.
fn unique_name(taken: &mut BTreeSet<String>, emotion: Emotion, stem: &str) -> String {
    let mut name = format!("{emotion}/{stem}.wav");
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{emotion}/{stem}-{n}.wav");
        n += 1;
    }
    name
}

/// The folders of one experiment under `--out`.
#[derive(Debug, Clone)]
pub struct Layout {
    pub out: PathBuf,
}

impl Layout {
    /// The reference clips, one per test painting, at the paintings' relative paths.
    pub fn reference(&self) -> PathBuf {
        self.out.join("reference")
    }

    /// One variant's music.
    pub fn generated(&self, variant: Variant) -> PathBuf {
        self.out.join("generated").join(variant.as_str())
    }

    /// Each painting's emotion reading, caption and description, kept across runs.
    pub fn described(&self) -> PathBuf {
        self.out.join("described.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_within_an_emotion() {
        let mut taken = BTreeSet::new();
        assert_eq!(unique_name(&mut taken, Emotion::Sad, "a"), "sad/a.wav");
        assert_eq!(unique_name(&mut taken, Emotion::Sad, "a"), "sad/a-2.wav");
        assert_eq!(unique_name(&mut taken, Emotion::Happy, "a"), "happy/a.wav");
        assert_eq!(unique_name(&mut taken, Emotion::Sad, "a"), "sad/a-3.wav");
    }

    #[test]
    fn a_missing_or_broken_split_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = format!("{:#}", test_split(dir.path()).unwrap_err());
        assert!(err.contains("test.json: cannot read"), "{err}");
        std::fs::write(dir.path().join("test.json"), r#"[{"painting": 3}]"#).unwrap();
        let err = format!("{:#}", test_split(dir.path()).unwrap_err());
        assert!(err.contains("not a JSON array"), "{err}");
        std::fs::write(dir.path().join("test.json"), "[]").unwrap();
        let err = format!("{:#}", test_split(dir.path()).unwrap_err());
        assert!(err.contains("the test split is empty"), "{err}");
    }

    #[test]
    fn rows_resolve_against_the_data_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("test.json"),
            r#"[{"painting": "/p/sad/x.jpg", "emotion": "sad", "audio": "clips/sad/m-0.wav"},
                {"painting": "/q/sad/x.png", "emotion": "sad", "audio": "clips/sad/m-1.wav"}]"#,
        )
        .unwrap();
        let items = test_split(dir.path()).unwrap();
        assert_eq!(items[0].relative, "sad/x.wav");
        assert_eq!(items[1].relative, "sad/x-2.wav");
        assert_eq!(items[1].clip, dir.path().join("clips/sad/m-1.wav"));
    }
}
