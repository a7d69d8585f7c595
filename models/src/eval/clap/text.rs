//! CLAP's text tower as transformers' `ClapTextModel`: a RoBERTa encoder (candle-transformers'
//! `xlm_roberta`, which numbers positions from `pad_token_id + 1` and skips padding as RoBERTa
//! does) and the BERT pooler (`tanh(dense(first token))`). Weight names as published
//! (`text_model.*`).

use std::sync::Arc;

use candle_core::{DType, IndexOp, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use candle_transformers::models::xlm_roberta::{Config as RobertaConfig, XLMRobertaModel};

use super::config::ClapTextConfig;

/// The text encoder up to its pooled output (`ClapTextModel.pooler_output`).
#[derive(Clone)]
pub struct TextEncoder {
    roberta: Arc<XLMRobertaModel>,
    pooler: Linear,
}

impl std::fmt::Debug for TextEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEncoder").finish_non_exhaustive()
    }
}

impl TextEncoder {
    /// Builds the encoder from `text_model`.
    pub fn new(config: &ClapTextConfig, vb: VarBuilder) -> Result<Self> {
        let roberta = Arc::new(XLMRobertaModel::new(&roberta_config(config), vb.clone())?);
        let pooler = candle_nn::linear(
            config.hidden_size,
            config.hidden_size,
            vb.pp("pooler.dense"),
        )?;
        Ok(Self { roberta, pooler })
    }

    /// The pooled output `(batch, hidden_size)` of `ids` `(batch, tokens)` (u32) with their
    /// attention mask (1 for tokens, 0 for padding).
    pub fn forward(&self, ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let token_types = ids.zeros_like()?;
        let mask = attention_mask.to_dtype(DType::F32)?;
        let states = self
            .roberta
            .forward(ids, &mask, &token_types, None, None, None)?;
        self.pooler.forward(&states.i((.., 0))?)?.tanh()
    }
}

fn roberta_config(c: &ClapTextConfig) -> RobertaConfig {
    RobertaConfig {
        hidden_size: c.hidden_size,
        layer_norm_eps: c.layer_norm_eps,
        attention_probs_dropout_prob: 0.0,
        hidden_dropout_prob: 0.0,
        num_attention_heads: c.num_attention_heads,
        position_embedding_type: "absolute".into(),
        intermediate_size: c.intermediate_size,
        hidden_act: c.hidden_act,
        num_hidden_layers: c.num_hidden_layers,
        vocab_size: c.vocab_size,
        max_position_embeddings: c.max_position_embeddings,
        type_vocab_size: c.type_vocab_size,
        pad_token_id: c.pad_token_id,
    }
}
