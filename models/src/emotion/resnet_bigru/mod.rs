//! The paper's emotion labeller: a ResNet-50 backbone with ImageNet weights, then a head of two
//! bidirectional GRU layers over the 7×7 feature map read as 49 steps, multi-head
//! self-attention, mean pooling, dropout and a linear layer to happy, angry, sad, fun, neutral.
//! The head's weight names are those of the PyTorch modules (`torch.nn.GRU`,
//! `torch.nn.MultiheadAttention`, `torch.nn.Linear`) under `head.`; the fixture script
//! `models/fixtures/make_emotion_head_fixtures.py` is the reference it is tested against.
//!
//! - [`config`]: the emotion model's `config.json` and the head's sizes.
//! - [`gru`]: the bidirectional multi-layer GRU.
//! - [`attention`]: PyTorch-layout multi-head self-attention.
//! - [`head`]: the head assembled.
//! - [`model`]: the backbone and head as one model directory ([`EmotionModel`]).

pub mod attention;
pub mod config;
pub mod gru;
pub mod head;
pub mod model;

pub use config::HeadConfig;
pub use head::{EmotionHead, HeadTrace, NUM_EMOTIONS, probabilities};
pub use model::{EmotionModel, EmotionModelConfig};

use candle_core::Tensor;
use ekphrasis_shared::domain::EmotionProbabilities;

use crate::error::{Error, Result};

/// The five probabilities of one row of a (B, 5) probability tensor.
pub fn emotion_probabilities(probs: &Tensor, row: usize) -> Result<EmotionProbabilities> {
    let values: Vec<f32> = probs
        .get(row)?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1()?;
    let [happy, angry, sad, fun, neutral] = values[..] else {
        return Err(Error::Input(format!(
            "expected {NUM_EMOTIONS} probabilities, got {}",
            values.len()
        )));
    };
    Ok(EmotionProbabilities {
        happy,
        angry,
        sad,
        fun,
        neutral,
    })
}
