//! The emotion model's `config.json`: which labels, which backbone, the head's sizes, and what
//! training recorded. Foreign configs (a MusicGen or plain ResNet `config.json`) are refused with
//! the file and field named.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `model_type` an emotion model directory's `config.json` carries.
pub const MODEL_TYPE: &str = "ekphrasis-emotion";
/// The `architecture` this code implements.
pub const ARCHITECTURE: &str = "resnet-bigru-attention";

/// The head's sizes (`config.json` → `head`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadConfig {
    /// Channels of the backbone's feature map (2048 for ResNet-50).
    #[serde(default = "default_feature_size")]
    pub feature_size: usize,
    /// GRU hidden size H per direction; the GRU outputs 2H.
    #[serde(default = "default_gru_hidden")]
    pub gru_hidden: usize,
    /// Stacked bidirectional GRU layers.
    #[serde(default = "default_gru_layers")]
    pub gru_layers: usize,
    /// Self-attention heads; they must divide 2H.
    #[serde(default = "default_attention_heads")]
    pub attention_heads: usize,
    /// Dropout before the classifier during training (identity at inference).
    #[serde(default = "default_dropout")]
    pub dropout: f64,
}

fn default_feature_size() -> usize {
    2048
}
fn default_gru_hidden() -> usize {
    128
}
fn default_gru_layers() -> usize {
    2
}
fn default_attention_heads() -> usize {
    4
}
fn default_dropout() -> f64 {
    0.3
}

impl Default for HeadConfig {
    /// The paper's head on ResNet-50: H = 128, 2 layers, 4 heads, dropout 0.3.
    fn default() -> Self {
        Self {
            feature_size: default_feature_size(),
            gru_hidden: default_gru_hidden(),
            gru_layers: default_gru_layers(),
            attention_heads: default_attention_heads(),
            dropout: default_dropout(),
        }
    }
}

impl HeadConfig {
    /// Refuses sizes the head cannot be built with; `path` names the file in the error.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |field: &'static str, message: String| Error::Unsupported {
            path: path.to_owned(),
            field,
            message,
        };
        if self.feature_size == 0 {
            return Err(bad("head.feature_size", "must be above 0".into()));
        }
        if self.gru_hidden == 0 {
            return Err(bad("head.gru_hidden", "must be above 0".into()));
        }
        if self.gru_layers == 0 {
            return Err(bad("head.gru_layers", "must be above 0".into()));
        }
        if self.attention_heads == 0 || !(2 * self.gru_hidden).is_multiple_of(self.attention_heads)
        {
            return Err(bad(
                "head.attention_heads",
                format!(
                    "{} heads do not divide the attention width 2 × {} ",
                    self.attention_heads, self.gru_hidden
                ),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(bad(
                "head.dropout",
                format!("{} is not in [0, 1)", self.dropout),
            ));
        }
        Ok(())
    }
}

/// Checks that a parsed `config.json` is an emotion model's before its fields are read, so a
/// foreign file gets an error about what it is rather than about a missing field.
pub fn check_model_type(value: &serde_json::Value, path: &Path) -> Result<()> {
    match value.get("model_type").and_then(|v| v.as_str()) {
        Some(MODEL_TYPE) => Ok(()),
        Some(other) => Err(Error::Unsupported {
            path: path.to_owned(),
            field: "model_type",
            message: format!(
                "\"{other}\" is not an Ekphrasis emotion model (expected \"{MODEL_TYPE}\"; \
                 `ekphrasis train emotion` writes one)"
            ),
        }),
        None => Err(Error::Unsupported {
            path: path.to_owned(),
            field: "model_type",
            message: format!("missing (expected \"{MODEL_TYPE}\")"),
        }),
    }
}

/// Checks the `labels` list: exactly the five emotions in the labeller's order.
pub fn check_labels(labels: &[String], path: &Path) -> Result<()> {
    let want: Vec<&str> = ekphrasis_shared::domain::Emotion::ALL
        .iter()
        .map(|e| e.as_str())
        .collect();
    if labels.iter().map(String::as_str).eq(want.iter().copied()) {
        Ok(())
    } else {
        Err(Error::Unsupported {
            path: path.to_owned(),
            field: "labels",
            message: format!("{labels:?}: this labeller needs exactly {want:?}, in that order"),
        })
    }
}
