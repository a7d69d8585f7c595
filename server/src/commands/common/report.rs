//! How the commands print a stage's result: the emotion reading as a line or as JSON, the
//! chain's stages as they finish (on stderr, so stdout stays for `--json`), the JSON object of a
//! described painting, and the line saying a model was loaded.

use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use ekphrasis_models::device::kind_name;
use ekphrasis_models::emotion::Reading;
use ekphrasis_models::pipeline::{Described, Event};
use ekphrasis_shared::domain::{Emotion, EmotionProbabilities};
use serde::Serialize;
use serde_json::{Value, json};

/// The JSON of an emotion reading, exactly `{"label", "probabilities", "labeller"}`.
#[derive(Debug, Serialize)]
pub struct ReadingJson {
    pub label: Emotion,
    pub probabilities: EmotionProbabilities,
    pub labeller: &'static str,
}

impl From<&Reading> for ReadingJson {
    fn from(reading: &Reading) -> Self {
        Self {
            label: reading.label,
            probabilities: reading.probabilities,
            labeller: reading.labeller_name(),
        }
    }
}

/// "sad (0.41, resnet-bigru): happy 0.10, angry 0.20, …".
pub fn human_line(reading: &Reading) -> String {
    let all: Vec<String> = reading
        .probabilities
        .iter()
        .map(|(emotion, p)| format!("{emotion} {p:.3}"))
        .collect();
    format!(
        "{} ({:.3}, {}): {}",
        reading.label,
        reading.probabilities.get(reading.label),
        reading.labeller_name(),
        all.join(", ")
    )
}

/// Stage results as lines on stderr (stdout stays for `--json`); nothing when `quiet`.
pub fn stage_lines(quiet: bool) -> impl FnMut(Event<'_>) {
    move |event| {
        if quiet {
            return;
        }
        match event {
            Event::Started(stage) => eprintln!("{stage:?}…"),
            Event::Emotion(reading) => eprintln!("  {}", human_line(reading)),
            Event::Caption(caption) => eprintln!("  caption: {}", caption.text),
            Event::Description(description) => eprintln!(
                "  description{}: {}",
                if description.fallback {
                    " (fallback)"
                } else {
                    ""
                },
                description.text
            ),
            Event::Composing(text) => eprintln!("  composing from: {text}"),
            Event::Audio(_) => {}
        }
    }
}

/// A described painting as `{"emotion", "caption", "description", "description_fallback",
/// "seed"}`.
pub fn described_json(described: &Described, seed: u64) -> Value {
    json!({
        "emotion": ReadingJson::from(&described.reading),
        "caption": described.caption.as_ref().map(|c| &c.text),
        "description": described.description.as_ref().map(|d| &d.text),
        "description_fallback": described.description.as_ref().map(|d| d.fallback),
        "seed": seed,
    })
}

/// "loaded DIR on cpu in 1.2 s", on stderr.
pub fn loaded(dir: &Path, device: &Device, started: Instant) {
    eprintln!(
        "loaded {} on {} in {:.1} s",
        dir.display(),
        kind_name(device),
        started.elapsed().as_secs_f64()
    );
}
