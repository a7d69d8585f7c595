//! The Falcon-RW network (`FalconForCausalLM` in transformers with Falcon-RW's flags; Penedo et
//! al., "The RefinedWeb Dataset for Falcon LLM", 2023): word embeddings, pre-norm layers of
//! causal self-attention with ALiBi and a GELU MLP, run in turn, a final LayerNorm and the output
//! head tied to the embeddings. Keys follow the published checkpoint (`transformer.h.{i}.…`); the
//! fused `query_key_value` projection is interleaved per head (REFERENCE-NOTES trap 2).
//!
//! Batches may be left-padded: every call says which new positions are real, key positions for
//! ALiBi count real tokens only, and padded keys are masked. Keys and values are cached, so
//! generation feeds one position per step.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::kv_cache::KvCache;
use candle_nn::{Embedding, LayerNorm, VarBuilder};

use super::alibi;
use super::config::Config;
use crate::kernels::dense::{Dense, Quantization};

/// Positions a fresh key/value cache holds before it grows (by as many again).
const KV_CACHE_BLOCK: usize = 256;

/// Which cached keys each batch row may attend to, and their ALiBi positions.
#[derive(Debug, Clone, Default)]
struct Keys {
    /// Per row and cached position: the position among the row's real tokens, or `None` for a
    /// padding position.
    positions: Vec<Vec<Option<u32>>>,
}

impl Keys {
    fn len(&self) -> usize {
        self.positions.first().map_or(0, Vec::len)
    }

    /// Records the new positions of every row; `real[b][j]` says whether new position j is a token.
    fn push(&mut self, real: &[Vec<bool>]) {
        if self.positions.is_empty() {
            self.positions = vec![Vec::new(); real.len()];
        }
        for (row, new) in self.positions.iter_mut().zip(real) {
            let mut next = row.iter().flatten().count() as u32;
            for &is_real in new {
                row.push(is_real.then(|| {
                    next += 1;
                    next - 1
                }));
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Attention {
    query_key_value: Dense,
    dense: Dense,
    num_heads: usize,
    head_dim: usize,
    kv_cache: KvCache,
}

impl Attention {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            query_key_value: Dense::new(h, 3 * h, cfg.bias, vb.pp("query_key_value"))?,
            dense: Dense::new(h, h, cfg.bias, vb.pp("dense"))?,
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
            kv_cache: KvCache::new(2, KV_CACHE_BLOCK),
        })
    }

    /// `xs` (b, t, hidden) → (b, t, hidden), attending over the cache and the new positions.
    fn forward(&mut self, xs: &Tensor, bias: &Bias) -> Result<Tensor> {
        let (b, t, _) = xs.dims3()?;
        let (heads, hd) = (self.num_heads, self.head_dim);
        // The fused projection holds, per head, its query, key and value rows in turn.
        let qkv = self
            .query_key_value
            .forward(xs)?
            .reshape((b, t, heads, 3, hd))?;
        let part = |i: usize| -> Result<Tensor> {
            qkv.narrow(3, i, 1)?
                .squeeze(3)?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (part(0)?, part(1)?, part(2)?);
        let (k, v) = self.kv_cache.append(&k, &v)?;
        let total = k.dim(2)?;
        let scale = 1.0 / (hd as f64).sqrt();
        let fast = match &bias.per_key {
            Some(per_key) => self.single_query(&q, per_key, total, scale)?,
            None => None,
        };
        let out = match fast {
            Some(out) => out,
            None => {
                let (alibi, mask) = bias.tensors(q.device())?;
                // The cache views are strided; GPU matrix products want them packed.
                let k = k.contiguous()?;
                let scores = (q.matmul(&k.t()?)?.to_dtype(DType::F32)? * scale)?;
                let scores = scores.broadcast_add(&alibi)?.broadcast_add(&mask)?;
                let probs = candle_nn::ops::softmax_last_dim(&scores)?.to_dtype(v.dtype())?;
                probs.matmul(&v.contiguous()?)?
            }
        };
        let out = out.transpose(1, 2)?.reshape((b, t, heads * hd))?;
        self.dense.forward(&out)
    }

    /// One new position per row, f32 on the CPU: reads the cache buffers in place.
    fn single_query(
        &self,
        q: &Tensor,
        per_key: &[f32],
        total: usize,
        scale: f64,
    ) -> Result<Option<Tensor>> {
        let (Some(keys), Some(values)) = (
            self.kv_cache.k_cache().all_data(),
            self.kv_cache.v_cache().all_data(),
        ) else {
            return Ok(None);
        };
        let q = (q * scale)?;
        crate::kernels::attention::single_query(&q, keys, values, total, Some(per_key))
    }
}

/// The additive attention bias of one call, f32: ALiBi (already divided by √head_dim, as
/// transformers folds it into the mask) plus the causal and padding masks.
struct Bias {
    /// (b, heads, 1, total): each head's ALiBi term for each key (0 for padding keys).
    alibi: Vec<f32>,
    /// (b, 1, t, total): 0 where the query may see the key, the finite minimum elsewhere (a
    /// fully masked padding row must not give NaN).
    mask: Vec<f32>,
    dims: [usize; 4],
    /// With one new position: (b, heads, total) of both together, −∞ for keys it may not see.
    per_key: Option<Vec<f32>>,
}

impl Bias {
    /// The two parts as tensors that broadcast over (b, heads, t, total).
    fn tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        let [b, heads, t, total] = self.dims;
        let alibi = Tensor::from_slice(&self.alibi, (b, heads, 1, total), device)?;
        let mask = Tensor::from_slice(&self.mask, (b, 1, t, total), device)?;
        Ok((alibi, mask))
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    dense_h_to_4h: Dense,
    dense_4h_to_h: Dense,
}

impl Mlp {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let (h, ffn) = (cfg.hidden_size, cfg.ffn_hidden_size());
        Ok(Self {
            dense_h_to_4h: Dense::new(h, ffn, cfg.bias, vb.pp("dense_h_to_4h"))?,
            dense_4h_to_h: Dense::new(ffn, h, cfg.bias, vb.pp("dense_4h_to_h"))?,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.dense_4h_to_h
            .forward(&self.dense_h_to_4h.forward(xs)?.gelu_erf()?)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    input_layernorm: LayerNorm,
    self_attention: Attention,
    post_attention_layernorm: LayerNorm,
    mlp: Mlp,
}

impl Layer {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let norm =
            |name| candle_nn::layer_norm(cfg.hidden_size, cfg.layer_norm_epsilon, vb.pp(name));
        Ok(Self {
            input_layernorm: norm("input_layernorm")?,
            self_attention: Attention::new(cfg, vb.pp("self_attention"))?,
            post_attention_layernorm: norm("post_attention_layernorm")?,
            mlp: Mlp::new(cfg, vb.pp("mlp"))?,
        })
    }

    fn forward(&mut self, xs: &Tensor, bias: &Bias) -> Result<Tensor> {
        let attended = self
            .self_attention
            .forward(&xs.apply(&self.input_layernorm)?, bias)?;
        let xs = (xs + attended)?;
        let fed = self
            .mlp
            .forward(&xs.apply(&self.post_attention_layernorm)?)?;
        xs + fed
    }
}

/// The Falcon-RW network with its key/value cache.
#[derive(Debug, Clone)]
pub struct Model {
    word_embeddings: Embedding,
    /// The output head: the word embedding matrix (tied; not stored in the checkpoint).
    lm_head: Dense,
    layers: Vec<Layer>,
    ln_f: LayerNorm,
    slopes: Vec<f32>,
    head_dim: usize,
    keys: Keys,
}

impl Model {
    /// Loads from the checkpoint's top level (`transformer.*`); an `lm_head.weight` in the file is
    /// not read, the head is the embedding matrix.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let inner = vb.pp("transformer");
        let h = cfg.hidden_size;
        let embeddings = inner
            .pp("word_embeddings")
            .get((cfg.vocab_size, h), "weight")?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::new(cfg, inner.pp("h").pp(i)))
            .collect::<Result<_>>()?;
        Ok(Self {
            word_embeddings: Embedding::new(embeddings.clone(), h),
            lm_head: Dense::from_weights(embeddings, None),
            layers,
            ln_f: candle_nn::layer_norm(h, cfg.layer_norm_epsilon, inner.pp("ln_f"))?,
            slopes: alibi::slopes(cfg.num_attention_heads),
            head_dim: cfg.head_dim(),
            keys: Keys::default(),
        })
    }

    /// Forgets every cached position.
    pub fn clear_kv_cache(&mut self) {
        self.keys = Keys::default();
        for layer in &mut self.layers {
            layer.self_attention.kv_cache = KvCache::new(2, KV_CACHE_BLOCK);
        }
    }

    /// Positions in the cache (padding included).
    pub fn cached_len(&self) -> usize {
        self.keys.len()
    }

    /// Stores every layer's weight matrices and the output head quantized (the embedding lookup
    /// keeps its float table); on a CPU this cuts what each step reads by 4–7×.
    pub fn quantize(&mut self, quantization: Quantization) -> Result<()> {
        for l in &mut self.layers {
            l.self_attention.query_key_value.quantize(quantization)?;
            l.self_attention.dense.quantize(quantization)?;
            l.mlp.dense_h_to_4h.quantize(quantization)?;
            l.mlp.dense_4h_to_h.quantize(quantization)?;
        }
        self.lm_head.quantize(quantization)
    }

    /// How the weight matrices are stored (`None`: as loaded).
    pub fn quantization(&self) -> Option<Quantization> {
        self.lm_head.quantization()
    }

    /// Bytes of weights one decoder step reads: every layer and the output head (the embedding
    /// lookup reads one row).
    pub fn weight_bytes_per_step(&self) -> usize {
        let layers: usize = self
            .layers
            .iter()
            .map(|l| {
                l.self_attention.query_key_value.weight_bytes()
                    + l.self_attention.dense.weight_bytes()
                    + l.mlp.dense_h_to_4h.weight_bytes()
                    + l.mlp.dense_4h_to_h.weight_bytes()
            })
            .sum();
        layers + self.lm_head.weight_bytes()
    }

    /// Runs new positions after the cached ones: `ids` (b, t) u32; `real[b][j]` says whether new
    /// position j of row b is a token (false for left padding), `None` when all are. Returns the
    /// final hidden states (b, t, hidden), after `ln_f`.
    pub fn forward(&mut self, ids: &Tensor, real: Option<&[Vec<bool>]>) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if t == 0 {
            candle_core::bail!("no new positions");
        }
        let all_real = vec![vec![true; t]; b];
        let real = real.unwrap_or(&all_real);
        if real.len() != b || real.iter().any(|r| r.len() != t) {
            candle_core::bail!("the mask must be (batch {b}, positions {t})");
        }
        if !self.keys.positions.is_empty() && self.keys.positions.len() != b {
            candle_core::bail!(
                "the cache holds {} rows, not {b}",
                self.keys.positions.len()
            );
        }
        let offset = self.keys.len();
        self.keys.push(real);
        let bias = self.bias(b, t, offset);
        let mut xs = self.word_embeddings.forward(ids)?;
        for layer in &mut self.layers {
            xs = layer.forward(&xs, &bias)?;
        }
        xs.apply(&self.ln_f)
    }

    /// Logits (…, vocab) of hidden states (…, hidden).
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.lm_head.forward(hidden)
    }

    /// ALiBi and the causal and padding masks for `t` new positions after `offset` cached ones.
    fn bias(&self, b: usize, t: usize, offset: usize) -> Bias {
        let heads = self.slopes.len();
        let total = offset + t;
        let inv_sqrt = 1.0 / (self.head_dim as f64).sqrt() as f32;
        let mut alibi = Vec::with_capacity(b * heads * total);
        let mut mask = Vec::with_capacity(b * t * total);
        for row in &self.keys.positions {
            for &slope in &self.slopes {
                alibi.extend(
                    row.iter()
                        .map(|pos| pos.map_or(0.0, |p| alibi::bias(slope, p) * inv_sqrt)),
                );
            }
            for i in 0..t {
                mask.extend(row.iter().enumerate().map(|(j, pos)| {
                    if pos.is_some() && j <= offset + i {
                        0.0
                    } else {
                        f32::MIN
                    }
                }));
            }
        }
        let per_key = (t == 1).then(|| {
            alibi
                .chunks(total)
                .enumerate()
                .flat_map(|(bh, keys)| {
                    let row_mask = &mask[(bh / heads) * total..(bh / heads + 1) * total];
                    keys.iter()
                        .zip(row_mask)
                        .map(|(a, m)| if *m == 0.0 { *a } else { f32::NEG_INFINITY })
                })
                .collect()
        });
        Bias {
            alibi,
            mask,
            dims: [b, heads, t, total],
            per_key,
        }
    }
}

/// The last position's logits of every row as f32 vectors: `hidden` (b, t, hidden).
pub fn last_logits(model: &Model, hidden: &Tensor) -> Result<Vec<Vec<f32>>> {
    let t = hidden.dim(1)?;
    let last = hidden.narrow(1, t - 1, 1)?.squeeze(1)?;
    model.logits(&last)?.to_dtype(DType::F32)?.to_vec2::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions_count_real_tokens_only() {
        let mut keys = Keys::default();
        keys.push(&[vec![false, false, true], vec![true, true, true]]);
        keys.push(&[vec![true], vec![true]]);
        assert_eq!(
            keys.positions[0],
            [None, None, Some(0), Some(1)],
            "left padding takes no position"
        );
        assert_eq!(keys.positions[1], [Some(0), Some(1), Some(2), Some(3)]);
        assert_eq!(keys.len(), 4);
    }
}
