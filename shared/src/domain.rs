//! The domain words of the paper's chain: the five emotions, the four variants and the stages.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The five emotions the paper's labeller distinguishes, in the order of its output layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Emotion {
    Happy,
    Angry,
    Sad,
    Fun,
    Neutral,
}

impl Emotion {
    /// Every emotion, in the labeller's output order.
    pub const ALL: [Emotion; 5] = [
        Emotion::Happy,
        Emotion::Angry,
        Emotion::Sad,
        Emotion::Fun,
        Emotion::Neutral,
    ];

    /// The lowercase word used in prompts and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Happy => "happy",
            Emotion::Angry => "angry",
            Emotion::Sad => "sad",
            Emotion::Fun => "fun",
            Emotion::Neutral => "neutral",
        }
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The labeller's probability for each emotion.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmotionProbabilities {
    pub happy: f32,
    pub angry: f32,
    pub sad: f32,
    pub fun: f32,
    pub neutral: f32,
}

impl EmotionProbabilities {
    /// The probability of one emotion.
    pub fn get(&self, emotion: Emotion) -> f32 {
        match emotion {
            Emotion::Happy => self.happy,
            Emotion::Angry => self.angry,
            Emotion::Sad => self.sad,
            Emotion::Fun => self.fun,
            Emotion::Neutral => self.neutral,
        }
    }

    /// Pairs of emotion and probability, in the labeller's output order.
    pub fn iter(&self) -> impl Iterator<Item = (Emotion, f32)> + '_ {
        Emotion::ALL.into_iter().map(|e| (e, self.get(e)))
    }
}

/// The paper's four variants: which text conditions MusicGen, and with which weights.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// MusicGen is conditioned on the emotion word alone.
    Emotive,
    /// MusicGen is conditioned on the emotion-aware caption.
    Narrative,
    /// MusicGen is conditioned on the musical description written from the caption.
    #[default]
    Lyrical,
    /// The musical description, composed by a fine-tuned MusicGen checkpoint.
    Optimized,
}

impl Variant {
    /// Every variant, in the paper's order.
    pub const ALL: [Variant; 4] = [
        Variant::Emotive,
        Variant::Narrative,
        Variant::Lyrical,
        Variant::Optimized,
    ];

    /// The lowercase name used on the wire and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Emotive => "emotive",
            Variant::Narrative => "narrative",
            Variant::Lyrical => "lyrical",
            Variant::Optimized => "optimized",
        }
    }

    /// The variant named `name` (as [`Variant::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// One plain-language line saying what the variant does.
    pub fn explanation(self) -> &'static str {
        match self {
            Variant::Emotive => "Music from the painting's emotion alone.",
            Variant::Narrative => "Music from a caption of what the painting shows.",
            Variant::Lyrical => "Music from a musical description written from the caption.",
            Variant::Optimized => "The musical description, played by a fine-tuned composer.",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The four stages of the chain, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The image emotion labeller.
    Emotion,
    /// BLIP captioning conditioned on the emotion.
    Caption,
    /// Falcon-RW turning the caption into a musical description.
    Enhance,
    /// MusicGen composing, with audio streamed as it is made.
    Compose,
}

impl Stage {
    /// Every stage, in running order.
    pub const ALL: [Stage; 4] = [
        Stage::Emotion,
        Stage::Caption,
        Stage::Enhance,
        Stage::Compose,
    ];
}

/// Whether a stage has started or finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    Started,
    Done,
}

/// What a finished stage produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StageResult {
    /// The emotion label with the five probabilities and the labeller that produced them.
    Emotion {
        label: Emotion,
        probabilities: EmotionProbabilities,
        /// `resnet-bigru` or `clip-zero-shot`.
        labeller: String,
    },
    /// The emotion-conditioned caption.
    Caption { text: String },
    /// The musical description; `fallback` is true when it was built from the emotion and caption
    /// because the language model's output was unusable.
    Description {
        text: String,
        #[serde(default)]
        fallback: bool,
    },
}

impl StageResult {
    /// The same with its text made [`plain`](crate::text::plain).
    pub fn into_plain(self) -> Self {
        match self {
            StageResult::Caption { text } => StageResult::Caption {
                text: crate::text::plain(&text),
            },
            StageResult::Description { text, fallback } => StageResult::Description {
                text: crate::text::plain(&text),
                fallback,
            },
            emotion @ StageResult::Emotion { .. } => emotion,
        }
    }
}
