//! The paper's emotion head (Fig. 1): a ResNet feature map (B, C, h, w) read as a sequence of
//! h·w positions (position = row·w + column) → two bidirectional GRU layers → multi-head
//! self-attention → mean over the positions → dropout → linear to the five emotions. Weight
//! names are the PyTorch module names: `gru.*`, `attention.*`, `classifier.*`.

use candle_core::{D, Result, Tensor};
use candle_nn::{Init, Linear, Module, VarBuilder};
use rand::Rng;

use super::attention::SelfAttention;
use super::config::HeadConfig;
use super::gru::BiGru;

/// The number of emotions the head scores (`Emotion::ALL`'s order).
pub const NUM_EMOTIONS: usize = 5;

/// Every intermediate result of one forward pass, for tests and inspection.
#[derive(Debug)]
pub struct HeadTrace {
    /// The feature map as a sequence (B, h·w, C).
    pub sequence: Tensor,
    /// The last GRU layer's output (B, h·w, 2H).
    pub gru: Tensor,
    /// The self-attention output (B, h·w, 2H).
    pub attention: Tensor,
    /// The mean over positions (B, 2H).
    pub pooled: Tensor,
    /// The five logits (B, 5).
    pub logits: Tensor,
}

/// The head: BiGRU, self-attention, mean, dropout, linear.
#[derive(Clone, Debug)]
pub struct EmotionHead {
    gru: BiGru,
    attention: SelfAttention,
    classifier: Linear,
    config: HeadConfig,
}

impl EmotionHead {
    /// Builds the head from weights under `vb` (the `head` prefix of an emotion model).
    pub fn new(config: &HeadConfig, vb: VarBuilder) -> Result<Self> {
        let width = 2 * config.gru_hidden;
        let gru = BiGru::new(
            config.feature_size,
            config.gru_hidden,
            config.gru_layers,
            vb.pp("gru"),
        )?;
        let attention = SelfAttention::new(width, config.attention_heads, vb.pp("attention"))?;
        // nn.Linear's initialisation, used when the builder creates weights (training).
        let bound = 1.0 / (width as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let cls = vb.pp("classifier");
        let classifier = Linear::new(
            cls.get_with_hints((NUM_EMOTIONS, width), "weight", init)?,
            Some(cls.get_with_hints(NUM_EMOTIONS, "bias", init)?),
        );
        Ok(Self {
            gru,
            attention,
            classifier,
            config: config.clone(),
        })
    }

    /// The head's settings.
    pub fn config(&self) -> &HeadConfig {
        &self.config
    }

    /// The logits (B, 5) for a feature map (B, C, h, w), dropout off (inference).
    pub fn forward(&self, features: &Tensor) -> Result<Tensor> {
        let pooled = self.pooled(&self.sequence(features)?)?;
        self.classifier.forward(&pooled)
    }

    /// The logits with dropout on (training): each pooled value is zeroed with the configured
    /// probability and the rest scaled by 1/(1 − p), drawn from `rng` so runs are repeatable.
    pub fn forward_train(&self, features: &Tensor, rng: &mut impl Rng) -> Result<Tensor> {
        let pooled = self.pooled(&self.sequence(features)?)?;
        let p = self.config.dropout;
        let pooled = if p > 0.0 {
            let keep = 1.0 - p;
            let mask: Vec<f32> = (0..pooled.elem_count())
                .map(|_| {
                    if rng.random::<f64>() < keep {
                        (1.0 / keep) as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            let mask = Tensor::from_vec(mask, pooled.shape(), pooled.device())?
                .to_dtype(pooled.dtype())?;
            (pooled * mask)?
        } else {
            pooled
        };
        self.classifier.forward(&pooled)
    }

    /// Every intermediate result of an inference pass.
    pub fn trace(&self, features: &Tensor) -> Result<HeadTrace> {
        let sequence = self.sequence(features)?;
        let gru = self.gru.forward(&sequence)?;
        let attention = self.attention.forward(&gru)?;
        let pooled = attention.mean(1)?;
        let logits = self.classifier.forward(&pooled)?;
        Ok(HeadTrace {
            sequence,
            gru,
            attention,
            pooled,
            logits,
        })
    }

    /// The GRU's first `layers` layers alone on a sequence (for layer-by-layer comparison).
    pub fn gru_layers(&self, sequence: &Tensor, layers: usize) -> Result<Tensor> {
        self.gru.forward_layers(sequence, layers)
    }

    /// (B, C, h, w) → (B, h·w, C), position = row·w + column.
    pub fn sequence(&self, features: &Tensor) -> Result<Tensor> {
        let (_, channels, _, _) = features.dims4()?;
        if channels != self.config.feature_size {
            candle_core::bail!(
                "the feature map has {channels} channels; the head expects {} (head.feature_size)",
                self.config.feature_size
            );
        }
        features.flatten_from(2)?.transpose(1, 2)?.contiguous()
    }

    fn pooled(&self, sequence: &Tensor) -> Result<Tensor> {
        let xs = self.gru.forward(sequence)?;
        self.attention.forward(&xs)?.mean(1)
    }
}

/// Softmax over the last dimension of logits (B, 5): the five probabilities per row.
pub fn probabilities(logits: &Tensor) -> Result<Tensor> {
    candle_nn::ops::softmax(logits, D::Minus1)
}
