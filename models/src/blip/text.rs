//! BLIP's text decoder (`BlipTextLMHeadModel` in transformers, after BLIP's `med.py`): BERT
//! embeddings (words and learned positions, LayerNorm), post-norm layers of causal
//! self-attention, cross-attention over the image and a GELU feed-forward, then BERT's
//! prediction head whose output matrix is the word embeddings (tied; the published file does
//! not store it). Keys follow the published checkpoint (`text_decoder.bert.*`,
//! `text_decoder.cls.predictions.*`).
//!
//! The self-attention keeps a key/value cache with one row per running sequence (beam), which
//! [`TextDecoder::reorder_cache`] permutes; the cross-attention's keys and values are computed
//! once per image ([`TextDecoder::cross_kv`]) and shared by every row.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{LayerNorm, VarBuilder};

use super::config::{Activation, Config, TextConfig};
use crate::kernels::dense::Dense;

/// One layer's cross-attention keys and values over an image: (heads, positions, head_dim) each.
#[derive(Debug, Clone)]
pub struct CrossKv {
    k: Tensor,
    v: Tensor,
}

/// Query, key and value projections of one attention block (`attention.self` or
/// `crossattention.self`) with its output projection and post-norm (`….output`).
#[derive(Debug, Clone)]
struct Attention {
    query: Dense,
    key: Dense,
    value: Dense,
    dense: Dense,
    layer_norm: LayerNorm,
    num_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(cfg: &TextConfig, kv_input: usize, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let inner = vb.pp("self");
        let output = vb.pp("output");
        Ok(Self {
            query: Dense::new(h, h, true, inner.pp("query"))?,
            key: Dense::new(kv_input, h, true, inner.pp("key"))?,
            value: Dense::new(kv_input, h, true, inner.pp("value"))?,
            dense: Dense::new(h, h, true, output.pp("dense"))?,
            layer_norm: candle_nn::layer_norm(h, cfg.layer_norm_eps, output.pp("LayerNorm"))?,
            num_heads: cfg.num_attention_heads,
            head_dim: h / cfg.num_attention_heads,
        })
    }

    /// (b, t, hidden) → (b, heads, t, head_dim)
    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, t, _) = xs.dims3()?;
        xs.reshape((b, t, self.num_heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// The scaled queries, (b, heads, t, head_dim).
    fn queries(&self, xs: &Tensor) -> Result<Tensor> {
        let q = self.query.forward(xs)?;
        self.split_heads(&(q * (self.head_dim as f64).powf(-0.5))?)
    }

    /// Merges heads of `context` (b, heads, t, head_dim), projects, adds `residual`, normalises.
    fn output(&self, context: &Tensor, residual: &Tensor) -> Result<Tensor> {
        let (b, _, t, _) = context.dims4()?;
        let merged = context
            .transpose(1, 2)?
            .reshape((b, t, self.num_heads * self.head_dim))?;
        (self.dense.forward(&merged)? + residual)?.apply(&self.layer_norm)
    }
}

/// Causal self-attention with its key/value cache (b, heads, positions, head_dim).
#[derive(Debug, Clone)]
struct SelfAttention {
    attention: Attention,
    cache: Option<(Tensor, Tensor)>,
}

impl SelfAttention {
    fn forward(&mut self, xs: &Tensor) -> Result<Tensor> {
        let a = &self.attention;
        let q = a.queries(xs)?;
        let k = a.split_heads(&a.key.forward(xs)?)?;
        let v = a.split_heads(&a.value.forward(xs)?)?;
        let (k, v) = match &self.cache {
            Some((ck, cv)) => (Tensor::cat(&[ck, &k], 2)?, Tensor::cat(&[cv, &v], 2)?),
            None => (k, v),
        };
        self.cache = Some((k.clone(), v.clone()));
        let new = q.dim(2)?;
        let total = k.dim(2)?;
        let context = match (new == 1)
            .then(|| crate::kernels::attention::single_query(&q, &k, &v, total, None))
            .transpose()?
            .flatten()
        {
            Some(context) => context,
            None => {
                let scores = q.matmul(&k.t()?)?;
                let scores = if new > 1 {
                    let mask = causal_mask(new, total - new, scores.dtype(), scores.device())?;
                    scores.broadcast_add(&mask)?
                } else {
                    scores
                };
                candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?
            }
        };
        a.output(&context, xs)
    }
}

/// An additive mask letting new position i (after `offset` cached ones) see positions ≤ offset + i.
fn causal_mask(new: usize, offset: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let total = new + offset;
    let values: Vec<f32> = (0..new)
        .flat_map(|i| {
            (0..total).map(move |j| {
                if j > i + offset {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Tensor::from_vec(values, (new, total), device)?.to_dtype(dtype)
}

#[derive(Debug, Clone)]
struct Layer {
    attention: SelfAttention,
    crossattention: Attention,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
    act: Activation,
}

impl Layer {
    fn new(
        cfg: &TextConfig,
        encoder_hidden: usize,
        act: Activation,
        vb: VarBuilder,
    ) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            attention: SelfAttention {
                attention: Attention::new(cfg, h, vb.pp("attention"))?,
                cache: None,
            },
            crossattention: Attention::new(cfg, encoder_hidden, vb.pp("crossattention"))?,
            intermediate: Dense::new(
                h,
                cfg.intermediate_size,
                true,
                vb.pp("intermediate").pp("dense"),
            )?,
            output: Dense::new(cfg.intermediate_size, h, true, vb.pp("output").pp("dense"))?,
            output_norm: candle_nn::layer_norm(
                h,
                cfg.layer_norm_eps,
                vb.pp("output").pp("LayerNorm"),
            )?,
            act,
        })
    }

    fn cross_kv(&self, image: &Tensor) -> Result<CrossKv> {
        let a = &self.crossattention;
        let k = a.split_heads(&a.key.forward(image)?)?.squeeze(0)?;
        let v = a.split_heads(&a.value.forward(image)?)?.squeeze(0)?;
        Ok(CrossKv { k, v })
    }

    /// Attention of every row over the one image: the rows' queries are stacked so that the
    /// image's keys and values are used once, whatever the number of beams.
    fn cross_attend(&self, xs: &Tensor, kv: &CrossKv) -> Result<Tensor> {
        let a = &self.crossattention;
        let q = a.queries(xs)?;
        let (b, heads, t, d) = q.dims4()?;
        let q = q.transpose(0, 1)?.reshape((heads, b * t, d))?;
        let probs = candle_nn::ops::softmax_last_dim(&q.matmul(&kv.k.t()?)?)?;
        let context = probs
            .matmul(&kv.v)?
            .reshape((heads, b, t, d))?
            .transpose(0, 1)?;
        a.output(&context, xs)
    }

    fn forward(&mut self, xs: &Tensor, cross: &CrossKv) -> Result<Tensor> {
        let xs = self.attention.forward(xs)?;
        let xs = self.cross_attend(&xs, cross)?;
        let hidden = self.act.apply(&self.intermediate.forward(&xs)?)?;
        (self.output.forward(&hidden)? + xs)?.apply(&self.output_norm)
    }
}

/// The text decoder with its prediction head.
#[derive(Debug, Clone)]
pub struct TextDecoder {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
    transform: Dense,
    transform_norm: LayerNorm,
    head: Dense,
    act: Activation,
    /// Positions already in the caches.
    offset: usize,
}

impl TextDecoder {
    /// Loads from the checkpoint's `text_decoder` prefix. The head's matrix is
    /// `cls.predictions.decoder.weight` when a file has it, else the word embeddings (tied);
    /// its bias is `cls.predictions.bias` (or `cls.predictions.decoder.bias`).
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let t = &cfg.text_config;
        let h = t.hidden_size;
        let act = cfg
            .text_activation()
            .map_err(|u| candle_core::Error::Msg(u.to_string()))?;
        let bert = vb.pp("bert");
        let embeddings = bert.pp("embeddings");
        let word_embeddings = embeddings
            .pp("word_embeddings")
            .get((t.vocab_size, h), "weight")?;
        let position_embeddings = embeddings
            .pp("position_embeddings")
            .get((t.max_position_embeddings, h), "weight")?;
        let layers = (0..t.num_hidden_layers)
            .map(|i| {
                Layer::new(
                    t,
                    cfg.encoder_hidden_size(),
                    act,
                    bert.pp("encoder").pp("layer").pp(i),
                )
            })
            .collect::<Result<_>>()?;
        let predictions = vb.pp("cls").pp("predictions");
        let decoder = predictions.pp("decoder");
        let head_weight = if decoder.contains_tensor("weight") {
            decoder.get((t.vocab_size, h), "weight")?
        } else {
            word_embeddings.clone()
        };
        let head_bias = if predictions.contains_tensor("bias") {
            predictions.get(t.vocab_size, "bias")?
        } else {
            decoder.get(t.vocab_size, "bias")?
        };
        let transform = predictions.pp("transform");
        Ok(Self {
            word_embeddings,
            position_embeddings,
            embeddings_norm: candle_nn::layer_norm(
                h,
                t.layer_norm_eps,
                embeddings.pp("LayerNorm"),
            )?,
            layers,
            transform: Dense::new(h, h, true, transform.pp("dense"))?,
            transform_norm: candle_nn::layer_norm(h, t.layer_norm_eps, transform.pp("LayerNorm"))?,
            head: Dense::from_weights(head_weight, Some(head_bias)),
            act,
            offset: 0,
        })
    }

    /// Every layer's cross-attention keys and values over `image` (1, positions, vision hidden).
    pub fn cross_kv(&self, image: &Tensor) -> Result<Vec<CrossKv>> {
        self.layers.iter().map(|l| l.cross_kv(image)).collect()
    }

    /// Positions in the cache.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The most positions the decoder can place.
    pub fn max_positions(&self) -> Result<usize> {
        self.position_embeddings.dim(0)
    }

    /// Forgets every cached position.
    pub fn clear_cache(&mut self) {
        self.offset = 0;
        for layer in &mut self.layers {
            layer.attention.cache = None;
        }
    }

    /// Keeps, as row i of every cache, the row `rows[i]` (beams chosen for the next step; rows
    /// may repeat, which also widens a one-row cache to several beams).
    pub fn reorder_cache(&mut self, rows: &[u32]) -> Result<()> {
        let Some(first) = self.layers.first() else {
            return Ok(());
        };
        let Some((k, _)) = &first.attention.cache else {
            return Ok(());
        };
        let index = Tensor::new(rows, k.device())?;
        for layer in &mut self.layers {
            if let Some((k, v)) = &layer.attention.cache {
                layer.attention.cache =
                    Some((k.index_select(&index, 0)?, v.index_select(&index, 0)?));
            }
        }
        Ok(())
    }

    /// Runs new positions `ids` (b, t) u32 after the cached ones and returns the last layer's
    /// hidden states (b, t, hidden).
    pub fn forward(&mut self, ids: &Tensor, cross: &[CrossKv]) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let max = self.position_embeddings.dim(0)?;
        if self.offset + t > max {
            candle_core::bail!("the text decoder can place at most {max} positions");
        }
        let words = self
            .word_embeddings
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, t, ()))?;
        let positions = self.position_embeddings.narrow(0, self.offset, t)?;
        let mut xs = words
            .broadcast_add(&positions)?
            .apply(&self.embeddings_norm)?;
        for (layer, kv) in self.layers.iter_mut().zip(cross) {
            xs = layer.forward(&xs, kv)?;
        }
        self.offset += t;
        Ok(xs)
    }

    /// The prediction head: hidden states (…, hidden) → logits (…, vocab).
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let xs = self.act.apply(&self.transform.forward(hidden)?)?;
        self.head.forward(&xs.apply(&self.transform_norm)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_mask_hides_the_future_after_the_cache() {
        let mask = causal_mask(2, 1, DType::F32, &Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(mask[0], [0.0, 0.0, f32::NEG_INFINITY]);
        assert_eq!(mask[1], [0.0, 0.0, 0.0]);
    }
}
