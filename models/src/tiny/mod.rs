//! Tiny random-weight model sets in the real checkpoint layouts, made in Rust: the same loaders
//! read them as the published checkpoints, so the whole product runs offline (demos, tests) with
//! captions, descriptions and music that are noise. A model's files are its `config.json` with
//! the real field names, a `model.safetensors` holding exactly the tensors its loader asks for
//! (recorded while its real constructor builds it from random weights), a small `tokenizer.json`
//! in the real tokenizer's format and, for image models, a `preprocessor_config.json` for small
//! images.
//!
//! One file a model: [`emotion`] (the trained-head directory `ekphrasis train emotion` writes),
//! [`clip`], [`blip`], [`falcon`], [`musicgen`]; [`write_all`] writes the set, one folder a model.

pub mod blip;
pub mod clip;
pub mod emotion;
pub mod falcon;
pub mod musicgen;
pub mod recorder;
pub mod tokenizers;

pub use blip::write_blip;
pub use clip::write_clip;
pub use emotion::write_emotion;
pub use falcon::write_falcon;
pub use musicgen::write_musicgen;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use recorder::RecordingWeights;

/// A writer of one tiny model into a folder, from a seed.
pub type Writer = fn(&Path, u64) -> Result<()>;

/// Every tiny model: its folder name under `--models DIR` and its writer, in the chain's order.
pub const MODELS: [(&str, Writer); 5] = [
    ("emotion", write_emotion),
    ("clip", write_clip),
    ("blip", write_blip),
    ("falcon", write_falcon),
    ("musicgen", write_musicgen),
];

/// Writes every tiny model into `out/<name>/`; returns the folders written.
pub fn write_all(out: &Path, seed: u64) -> Result<Vec<(&'static str, PathBuf)>> {
    MODELS
        .iter()
        .map(|&(name, write)| {
            let dir = out.join(name);
            write(&dir, seed)?;
            Ok((name, dir))
        })
        .collect()
}

/// The tiny set's tokenizers, for full-size models built from random weights (benchmarks): their
/// ids are valid in every full-size vocabulary, so only the weights need to be full size.
pub struct SmallTokenizers {
    /// BERT WordPiece, for BLIP.
    pub blip: ::tokenizers::Tokenizer,
    /// GPT-2 byte-level BPE, for Falcon-RW.
    pub falcon: ::tokenizers::Tokenizer,
    /// T5 Unigram, for MusicGen.
    pub t5: ::tokenizers::Tokenizer,
}

impl SmallTokenizers {
    /// Builds the three.
    pub fn new() -> Result<Self> {
        let load = |name: &str, json: &Value| {
            json.to_string()
                .parse::<::tokenizers::Tokenizer>()
                .map_err(|e| Error::Tokenizer {
                    path: PathBuf::from(name),
                    message: e.to_string(),
                })
        };
        Ok(Self {
            blip: load(
                "tiny BLIP tokenizer",
                &tokenizers::bert_wordpiece(tokenizers::WORDS).json,
            )?,
            falcon: load("tiny Falcon-RW tokenizer", &falcon::tokenizer_file().json)?,
            t5: load("tiny T5 tokenizer", &tokenizers::t5_unigram())?,
        })
    }
}

/// A config value as its loader's type, naming `file` in `dir` on failure.
fn parse<T: DeserializeOwned>(dir: &Path, file: &str, value: &Value) -> Result<T> {
    serde_json::from_value(value.clone()).map_err(|source| Error::Config {
        path: dir.join(file),
        source,
    })
}

/// `value` with the fields of `changes` (a JSON object, nested objects merged) replaced.
fn with_changes(mut value: Value, changes: &Value) -> Value {
    if let (Some(map), Some(changes)) = (value.as_object_mut(), changes.as_object()) {
        for (key, change) in changes {
            let merged = match map.remove(key) {
                Some(old) if old.is_object() && change.is_object() => with_changes(old, change),
                _ => change.clone(),
            };
            map.insert(key.clone(), merged);
        }
    }
    value
}

/// The JSON files of a model that reads an image and text.
struct ImageTextFiles {
    config: Value,
    preprocessor: Value,
    tokenizer: Value,
}

/// Writes `files` and the weights recorded while `build` constructs the model from their
/// tokenizer and preprocessing (through the model's own constructor, so the saved tensors are
/// exactly what its loader reads).
fn write_image_text_model(
    dir: &Path,
    seed: u64,
    files: ImageTextFiles,
    build: impl FnOnce(
        ::tokenizers::Tokenizer,
        crate::image_prep::ImageProcessorConfig,
        candle_nn::VarBuilder<'static>,
    ) -> Result<()>,
) -> Result<()> {
    let processor = crate::image_prep::ImageProcessorConfig::from_json(
        &files.preprocessor.to_string(),
        dir.join("preprocessor_config.json"),
    )?;
    let recorder = RecordingWeights::new(seed);
    build(
        tokenizer_of(dir, &files.tokenizer)?,
        processor,
        recorder.var_builder(),
    )?;
    create_dir(dir)?;
    write_json(dir, "config.json", &files.config)?;
    write_json(dir, "preprocessor_config.json", &files.preprocessor)?;
    write_json(dir, "tokenizer.json", &files.tokenizer)?;
    write_weights(dir, &recorder)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })
}

fn write_json(dir: &Path, name: &str, value: &Value) -> Result<()> {
    let path = dir.join(name);
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Config {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&path, text + "\n").map_err(|source| Error::Io { path, source })
}

fn write_weights(dir: &Path, recorder: &RecordingWeights) -> Result<()> {
    let path = dir.join("model.safetensors");
    let tensors: HashMap<String, candle_core::Tensor> = recorder.tensors().into_iter().collect();
    candle_core::safetensors::save(&tensors, &path)
        .map_err(|source| Error::Weights { path, source })
}

/// A tokenizer built from a tokenizer.json value, as a loader would read it from `dir`.
fn tokenizer_of(dir: &Path, json: &Value) -> Result<::tokenizers::Tokenizer> {
    use std::str::FromStr;
    ::tokenizers::Tokenizer::from_str(&json.to_string()).map_err(|e| Error::Tokenizer {
        path: dir.join("tokenizer.json"),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn changes_replace_fields_and_merge_sections() {
        let base = json!({"a": 1, "s": {"x": 1, "y": 2}, "keep": true});
        let changed = with_changes(base, &json!({"a": 2, "s": {"y": 3}, "new": [1]}));
        assert_eq!(
            changed,
            json!({"a": 2, "s": {"x": 1, "y": 3}, "keep": true, "new": [1]})
        );
    }
}
