//! The text each generated file is judged against by CLAP: its entry in `--texts FILE.json` (an
//! object from relative path to text), else `--prompt` with `{emotion}` filled in from the
//! file's first folder (the paper's Fig. 3 uses "{emotion} song").

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

use super::audio_sets::AudioFile;

/// The default `--prompt`, the paper's Fig. 3.
pub const DEFAULT_PROMPT: &str = "{emotion} song";

/// Where CLAP texts come from.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    by_path: BTreeMap<String, String>,
    prompt: String,
}

impl Texts {
    /// `--texts` (if given) over `prompt`.
    pub fn new(texts: Option<&Path>, prompt: &str) -> anyhow::Result<Self> {
        let by_path = match texts {
            None => BTreeMap::new(),
            Some(path) => {
                let raw = std::fs::read_to_string(path)
                    .with_context(|| format!("{}: cannot read", path.display()))?;
                serde_json::from_str(&raw).with_context(|| {
                    format!(
                        "{}: not a JSON object from relative path to text",
                        path.display()
                    )
                })?
            }
        };
        Ok(Self {
            by_path,
            prompt: prompt.to_string(),
        })
    }

    /// The text for `file`; an error naming the file when it has none.
    pub fn for_file(&self, file: &AudioFile) -> anyhow::Result<String> {
        if let Some(text) = self.by_path.get(&file.relative) {
            return Ok(text.clone());
        }
        if !self.prompt.contains("{emotion}") {
            return Ok(self.prompt.clone());
        }
        match file.emotion() {
            Some(emotion) => Ok(self.prompt.replace("{emotion}", emotion)),
            None => bail!(
                "{}: no CLAP text: it is not in an emotion folder (happy/…) and --texts names no \
                 text for it",
                file.relative
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn file(relative: &str) -> AudioFile {
        AudioFile {
            relative: relative.into(),
            path: PathBuf::from(relative),
        }
    }

    #[test]
    fn a_listed_text_wins_over_the_prompt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(&path, r#"{"sad/a.wav": "a slow cello"}"#).unwrap();
        let texts = Texts::new(Some(&path), DEFAULT_PROMPT).unwrap();
        assert_eq!(texts.for_file(&file("sad/a.wav")).unwrap(), "a slow cello");
        assert_eq!(texts.for_file(&file("sad/b.wav")).unwrap(), "sad song");
        let err = texts.for_file(&file("b.wav")).unwrap_err().to_string();
        assert!(err.starts_with("b.wav: no CLAP text"), "{err}");
    }

    #[test]
    fn a_broken_texts_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(&path, "[1, 2]").unwrap();
        let err = format!("{:#}", Texts::new(Some(&path), DEFAULT_PROMPT).unwrap_err());
        assert!(err.contains("t.json: not a JSON object"), "{err}");
    }
}
