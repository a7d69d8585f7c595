//! The MusicGen decoder (`MusicgenForCausalLM` in transformers, after Copet et al., "Simple and
//! Controllable Music Generation", 2023): the codebooks' embeddings summed, sinusoidal positions,
//! pre-norm layers of causal self-attention (with a KV cache), cross-attention over the text and
//! a GELU feed-forward, then one head per codebook. Keys follow the published checkpoint
//! (`decoder.model.decoder.*`, `decoder.lm_heads.*`).

use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::kv_cache::KvCache;
use candle_nn::{Embedding, LayerNorm, VarBuilder};

use crate::kernels::dense::Dense;
pub use crate::kernels::dense::Quantization;

use super::config::DecoderConfig;

/// The torch default LayerNorm epsilon, which MusicGen's decoder uses.
const LAYER_NORM_EPS: f64 = 1e-5;

/// Cross-attention keys and values of one layer, computed once per text.
#[derive(Debug, Clone)]
pub struct CrossKv {
    k: Tensor,
    v: Tensor,
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: Dense,
    k_proj: Dense,
    v_proj: Dense,
    out_proj: Dense,
    num_heads: usize,
    head_dim: usize,
    scale: f64,
    /// Keys and values of the positions so far, in buffers that grow by blocks (no copy of
    /// the whole cache at each step).
    kv_cache: KvCache,
    /// The cache's element type when it differs from the computation's (f16 for a quantized
    /// decoder on the CPU: half the bytes read at every step).
    cache_dtype: Option<DType>,
}

/// Positions a fresh self-attention cache holds before it grows (by as many again).
const KV_CACHE_BLOCK: usize = 512;

impl Attention {
    fn new(cfg: &DecoderConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let linear = |name| Dense::new(h, h, false, vb.pp(name));
        let head_dim = cfg.head_dim();
        Ok(Self {
            q_proj: linear("q_proj")?,
            k_proj: linear("k_proj")?,
            v_proj: linear("v_proj")?,
            out_proj: linear("out_proj")?,
            num_heads: cfg.num_attention_heads,
            head_dim,
            scale: (head_dim as f64).powf(-0.5),
            kv_cache: KvCache::new(2, KV_CACHE_BLOCK),
            cache_dtype: None,
        })
    }

    /// (b, t, hidden) → (b, heads, t, head_dim)
    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, t, _) = xs.dims3()?;
        xs.reshape((b, t, self.num_heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// (b, heads, t, head_dim) → (b, t, hidden) through the output projection.
    fn merge_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, _, t, _) = xs.dims4()?;
        xs.transpose(1, 2)?
            .reshape((b, t, self.num_heads * self.head_dim))?
            .apply(&self.out_proj)
    }

    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let scores = q.matmul(&k.t()?)?;
        let scores = match mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        candle_nn::ops::softmax_last_dim(&scores)?.matmul(v)
    }

    /// Causal self-attention over the cached positions and the new ones.
    fn self_attend(&mut self, xs: &Tensor) -> Result<Tensor> {
        let q = self.split_heads(&(xs.apply(&self.q_proj)? * self.scale)?)?;
        let k = self.split_heads(&xs.apply(&self.k_proj)?)?;
        let v = self.split_heads(&xs.apply(&self.v_proj)?)?;
        let (k, v) = match self.cache_dtype {
            Some(dtype) => (k.to_dtype(dtype)?, v.to_dtype(dtype)?),
            None => (k, v),
        };
        let (k, v) = self.kv_cache.append(&k, &v)?;
        let new = q.dim(2)?;
        let total = k.dim(2)?;
        if new == 1
            && let (Some(keys), Some(values)) = (
                self.kv_cache.k_cache().all_data(),
                self.kv_cache.v_cache().all_data(),
            )
            && let Some(out) =
                crate::kernels::attention::single_query(&q, keys, values, total, None)?
        {
            return self.merge_heads(&out);
        }
        let mask = (new > 1)
            .then(|| causal_mask(new, total - new, q.dtype(), q.device()))
            .transpose()?;
        let (k, v) = (k.to_dtype(q.dtype())?, v.to_dtype(q.dtype())?);
        let out = self.attend(&q, &k, &v, mask.as_ref())?;
        self.merge_heads(&out)
    }

    fn cross_kv(&self, memory: &Tensor) -> Result<CrossKv> {
        Ok(CrossKv {
            k: self.split_heads(&memory.apply(&self.k_proj)?)?,
            v: self.split_heads(&memory.apply(&self.v_proj)?)?,
        })
    }

    /// Attention over the text, whose keys and values were computed by [`Self::cross_kv`].
    fn cross_attend(&self, xs: &Tensor, kv: &CrossKv) -> Result<Tensor> {
        let q = self.split_heads(&(xs.apply(&self.q_proj)? * self.scale)?)?;
        let text_len = kv.k.dim(2)?;
        if let Some(out) =
            crate::kernels::attention::single_query(&q, &kv.k, &kv.v, text_len, None)?
        {
            return self.merge_heads(&out);
        }
        let out = self.attend(&q, &kv.k, &kv.v, None)?;
        self.merge_heads(&out)
    }
}

/// An additive mask letting position i (after `offset` cached ones) see positions ≤ offset + i.
fn causal_mask(new: usize, offset: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let total = new + offset;
    let values: Vec<f32> = (0..new)
        .flat_map(|i| (0..total).map(move |j| if j > i + offset { f32::MIN } else { 0.0 }))
        .collect();
    Tensor::from_vec(values, (new, total), device)?.to_dtype(dtype)
}

#[derive(Debug, Clone)]
struct Layer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    encoder_attn: Attention,
    encoder_attn_layer_norm: LayerNorm,
    fc1: Dense,
    fc2: Dense,
    final_layer_norm: LayerNorm,
}

impl Layer {
    fn new(cfg: &DecoderConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let norm = |name| candle_nn::layer_norm(h, LAYER_NORM_EPS, vb.pp(name));
        Ok(Self {
            self_attn: Attention::new(cfg, vb.pp("self_attn"))?,
            self_attn_layer_norm: norm("self_attn_layer_norm")?,
            encoder_attn: Attention::new(cfg, vb.pp("encoder_attn"))?,
            encoder_attn_layer_norm: norm("encoder_attn_layer_norm")?,
            fc1: Dense::new(h, cfg.ffn_dim, false, vb.pp("fc1"))?,
            fc2: Dense::new(cfg.ffn_dim, h, false, vb.pp("fc2"))?,
            final_layer_norm: norm("final_layer_norm")?,
        })
    }

    fn forward(&mut self, xs: &Tensor, cross: &CrossKv) -> Result<Tensor> {
        let attended = self
            .self_attn
            .self_attend(&xs.apply(&self.self_attn_layer_norm)?)?;
        let xs = (xs + attended)?;
        let crossed = self
            .encoder_attn
            .cross_attend(&xs.apply(&self.encoder_attn_layer_norm)?, cross)?;
        let xs = (xs + crossed)?;
        let fed = xs
            .apply(&self.final_layer_norm)?
            .apply(&self.fc1)?
            .gelu_erf()?
            .apply(&self.fc2)?;
        xs + fed
    }
}

/// The decoder with its language-model heads.
#[derive(Debug, Clone)]
pub struct Decoder {
    embed_tokens: Vec<Embedding>,
    layers: Vec<Layer>,
    layer_norm: LayerNorm,
    lm_heads: Vec<Dense>,
    positions: Tensor,
    embed_scale: f64,
    /// Positions already in the KV cache.
    offset: usize,
}

impl Decoder {
    /// Loads from the checkpoint's `decoder` prefix.
    pub fn new(cfg: &DecoderConfig, vb: VarBuilder) -> Result<Self> {
        let inner = vb.pp("model").pp("decoder");
        let h = cfg.hidden_size;
        let embed_tokens = (0..cfg.num_codebooks)
            .map(|k| candle_nn::embedding(cfg.vocab_size + 1, h, inner.pp("embed_tokens").pp(k)))
            .collect::<Result<_>>()?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::new(cfg, inner.pp("layers").pp(i)))
            .collect::<Result<_>>()?;
        let lm_heads = (0..cfg.num_codebooks)
            .map(|k| Dense::new(h, cfg.vocab_size, false, vb.pp("lm_heads").pp(k)))
            .collect::<Result<_>>()?;
        let positions = sinusoidal_positions(cfg.max_position_embeddings, h, vb.device())?
            .to_dtype(vb.dtype())?;
        Ok(Self {
            embed_tokens,
            layers,
            layer_norm: candle_nn::layer_norm(h, LAYER_NORM_EPS, inner.pp("layer_norm"))?,
            lm_heads,
            positions,
            embed_scale: if cfg.scale_embedding {
                (h as f64).sqrt()
            } else {
                1.0
            },
            offset: 0,
        })
    }

    /// Keys and values of every layer's cross-attention over `memory` (b, s, hidden).
    pub fn cross_kv(&self, memory: &Tensor) -> Result<Vec<CrossKv>> {
        self.layers
            .iter()
            .map(|layer| layer.encoder_attn.cross_kv(memory))
            .collect()
    }

    /// Stores every weight matrix of the layers and heads quantized; activations stay in f32.
    /// On the CPU the self-attention caches then hold f16.
    pub fn quantize(&mut self, quantization: Quantization) -> Result<()> {
        let cache_dtype = self.positions.device().is_cpu().then_some(DType::F16);
        for layer in &mut self.layers {
            layer.self_attn.cache_dtype = cache_dtype;
            for attention in [&mut layer.self_attn, &mut layer.encoder_attn] {
                for proj in [
                    &mut attention.q_proj,
                    &mut attention.k_proj,
                    &mut attention.v_proj,
                    &mut attention.out_proj,
                ] {
                    proj.quantize(quantization)?;
                }
            }
            layer.fc1.quantize(quantization)?;
            layer.fc2.quantize(quantization)?;
        }
        for head in &mut self.lm_heads {
            head.quantize(quantization)?;
        }
        Ok(())
    }

    /// How the weight matrices are stored (`None`: as loaded).
    pub fn quantization(&self) -> Option<Quantization> {
        self.lm_heads.first().and_then(Dense::quantization)
    }

    /// Forgets the generated positions (the KV cache).
    pub fn clear_kv_cache(&mut self) {
        self.offset = 0;
        for layer in &mut self.layers {
            layer.self_attn.kv_cache = KvCache::new(2, KV_CACHE_BLOCK);
        }
    }

    /// Runs new positions: `ids` is (b, codebooks, t) u32; returns logits (b, codebooks, t, vocab).
    pub fn forward(&mut self, ids: &Tensor, cross: &[CrossKv]) -> Result<Tensor> {
        let (_, codebooks, t) = ids.dims3()?;
        let mut xs = self.embed_tokens[0].forward(&ids.i((.., 0, ..))?)?;
        for k in 1..codebooks {
            xs = (xs + self.embed_tokens[k].forward(&ids.i((.., k, ..))?)?)?;
        }
        if self.embed_scale != 1.0 {
            xs = (xs * self.embed_scale)?;
        }
        let max = self.positions.dim(0)?;
        if self.offset + t > max {
            candle_core::bail!("MusicGen can place at most {max} positions");
        }
        let positions = self.positions.narrow(0, self.offset, t)?;
        xs = xs.broadcast_add(&positions)?;
        for (layer, kv) in self.layers.iter_mut().zip(cross) {
            xs = layer.forward(&xs, kv)?;
        }
        self.offset += t;
        let xs = xs.apply(&self.layer_norm)?;
        let logits = self
            .lm_heads
            .iter()
            .map(|head| xs.apply(head))
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&logits, 1)
    }
}

/// transformers' `MusicgenSinusoidalPositionalEmbedding`: for i < half, frequency
/// `exp(-i·ln(10000)/(half−1))`, laid out as [cos(p·f) | sin(p·f)].
pub fn sinusoidal_positions(count: usize, dim: usize, device: &Device) -> Result<Tensor> {
    let half = dim / 2;
    let step = (10_000f64).ln() / (half as f64 - 1.0);
    let freqs: Vec<f64> = (0..half).map(|i| (-(i as f64) * step).exp()).collect();
    let mut table = Vec::with_capacity(count * dim);
    for p in 0..count {
        let angles = freqs.iter().map(|f| p as f64 * f);
        table.extend(angles.clone().map(|a| a.cos() as f32));
        table.extend(angles.map(|a| a.sin() as f32));
        if dim % 2 == 1 {
            table.push(0.0);
        }
    }
    Tensor::from_vec(table, (count, dim), device)
}

impl Decoder {
    /// The logits of the last position as f32 rows: `[batch][codebook][vocab]`.
    pub fn last_logits(logits: &Tensor) -> Result<Vec<Vec<Vec<f32>>>> {
        let t = logits.dim(2)?;
        logits
            .narrow(2, t - 1, 1)?
            .squeeze(2)?
            .to_dtype(DType::F32)?
            .to_vec3()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_start_with_cos_then_sin() {
        let table = sinusoidal_positions(3, 6, &Device::Cpu).unwrap();
        let rows = table.to_vec2::<f32>().unwrap();
        assert_eq!(rows[0], [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
        // half = 3: frequencies 1, 10000^(-1/2), 10000^(-1).
        let f = [1.0f64, 0.01, 0.0001];
        for (i, fi) in f.iter().enumerate() {
            assert!((rows[2][i] as f64 - (2.0 * fi).cos()).abs() < 1e-6);
            assert!((rows[2][3 + i] as f64 - (2.0 * fi).sin()).abs() < 1e-6);
        }
    }

    #[test]
    fn causal_mask_hides_the_future_after_the_cache() {
        let mask = causal_mask(2, 1, DType::F32, &Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(mask[0], [0.0, 0.0, f32::MIN]);
        assert_eq!(mask[1], [0.0, 0.0, 0.0]);
    }
}
