//! The emotion labeller as the rest of the product sees it: one image in, the five probabilities,
//! the top emotion and which labeller produced them out. The paper's ResNet-50 + BiGRU +
//! attention model is used when a trained one is configured; otherwise zero-shot CLIP.

use ekphrasis_shared::domain::{Emotion, EmotionProbabilities};
use image::RgbImage;

use super::clip_zero_shot::ClipZeroShot;
use super::resnet_bigru::EmotionModel;
use crate::error::Result;

/// Which labeller produced a reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabellerKind {
    /// The paper's ResNet-50 + BiGRU + attention model, trained by `ekphrasis train emotion`.
    ResNetBiGru,
    /// Zero-shot CLIP: the image against "a painting that feels {emotion}".
    ClipZeroShot,
}

impl LabellerKind {
    /// The name on the wire and on the command line: "resnet-bigru" or "clip-zero-shot".
    pub fn name(self) -> &'static str {
        match self {
            LabellerKind::ResNetBiGru => "resnet-bigru",
            LabellerKind::ClipZeroShot => "clip-zero-shot",
        }
    }
}

/// One labelled image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    /// The five probabilities.
    pub probabilities: EmotionProbabilities,
    /// The most probable emotion (the first in `Emotion::ALL` order on a tie).
    pub label: Emotion,
    /// Which labeller produced it.
    pub labeller: LabellerKind,
}

impl Reading {
    /// A reading from probabilities: the label is their most probable emotion.
    pub fn new(probabilities: EmotionProbabilities, labeller: LabellerKind) -> Self {
        let mut label = Emotion::ALL[0];
        for (emotion, p) in probabilities.iter() {
            if p > probabilities.get(label) {
                label = emotion;
            }
        }
        Self {
            probabilities,
            label,
            labeller,
        }
    }

    /// "resnet-bigru" or "clip-zero-shot".
    pub fn labeller_name(&self) -> &'static str {
        self.labeller.name()
    }
}

/// The emotion labeller, one of two models (boxed: they are large and of unequal size).
#[derive(Debug)]
pub enum Labeller {
    /// The paper's trained model.
    ResNetBiGru(Box<EmotionModel>),
    /// Zero-shot CLIP, until a trained model is configured.
    ClipZeroShot(Box<ClipZeroShot>),
}

impl Labeller {
    /// Which labeller this is.
    pub fn kind(&self) -> LabellerKind {
        match self {
            Labeller::ResNetBiGru(_) => LabellerKind::ResNetBiGru,
            Labeller::ClipZeroShot(_) => LabellerKind::ClipZeroShot,
        }
    }

    /// Labels an RGB image.
    pub fn label(&self, image: &RgbImage) -> Result<Reading> {
        let probabilities = match self {
            Labeller::ResNetBiGru(model) => model.classify(image)?,
            Labeller::ClipZeroShot(clip) => clip.classify(image)?,
        };
        Ok(Reading::new(probabilities, self.kind()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_is_the_most_probable_emotion() {
        let probabilities = EmotionProbabilities {
            happy: 0.1,
            angry: 0.2,
            sad: 0.4,
            fun: 0.2,
            neutral: 0.1,
        };
        let reading = Reading::new(probabilities, LabellerKind::ClipZeroShot);
        assert_eq!(reading.label, Emotion::Sad);
        assert_eq!(reading.labeller_name(), "clip-zero-shot");
        let tie = EmotionProbabilities {
            happy: 0.2,
            angry: 0.2,
            sad: 0.2,
            fun: 0.2,
            neutral: 0.2,
        };
        assert_eq!(
            Reading::new(tie, LabellerKind::ResNetBiGru).label,
            Emotion::Happy
        );
        assert_eq!(LabellerKind::ResNetBiGru.name(), "resnet-bigru");
    }
}
