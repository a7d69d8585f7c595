//! BLIP's vision encoder (`BlipVisionModel` in transformers; Li et al., "BLIP: Bootstrapping
//! Language-Image Pre-training", 2022): a ViT. Non-overlapping patches are embedded by a strided
//! convolution (computed here as one matrix product over the unfolded patches), a class token
//! and learned positions are added, then pre-norm layers of self-attention (one fused `qkv`
//! projection) and a GELU MLP, and a final LayerNorm. Keys follow the published checkpoint
//! (`vision_model.embeddings.*`, `vision_model.encoder.layers.N.*`, `vision_model.post_layernorm`).

use candle_core::{D, DType, Module, Result, Tensor};
use candle_nn::{LayerNorm, VarBuilder};

use super::config::{Activation, Config, VisionConfig};
use crate::kernels::dense::Dense;

#[derive(Debug, Clone)]
struct Embeddings {
    class_embedding: Tensor,
    /// The patch convolution's kernel as a matrix: (hidden, channels·ph·pw).
    patch_weight: Tensor,
    patch_bias: Tensor,
    position_embedding: Tensor,
    patch: (usize, usize),
    grid: (usize, usize),
}

impl Embeddings {
    fn new(cfg: &VisionConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let (ih, iw) = cfg.image_size.hw();
        let (ph, pw) = cfg.patch_size.hw();
        let grid = (ih / ph, iw / pw);
        let c = cfg.num_channels;
        let patch_weight = vb
            .pp("patch_embedding")
            .get((h, c, ph, pw), "weight")?
            .reshape((h, c * ph * pw))?;
        Ok(Self {
            class_embedding: vb.get((1, 1, h), "class_embedding")?,
            patch_weight,
            patch_bias: vb.pp("patch_embedding").get(h, "bias")?,
            position_embedding: vb.get((1, grid.0 * grid.1 + 1, h), "position_embedding")?,
            patch: (ph, pw),
            grid,
        })
    }

    /// `pixels` (b, c, H, W) → (b, 1 + patches, hidden).
    fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let (b, c, height, width) = pixels.dims4()?;
        let (ph, pw) = self.patch;
        let (gh, gw) = self.grid;
        if (height, width) != (gh * ph, gw * pw) {
            candle_core::bail!(
                "pixel values are {height}x{width}; this vision encoder takes {}x{}",
                gh * ph,
                gw * pw
            );
        }
        // (b, c, gh, ph, gw, pw) → (b, gh, gw, c, ph, pw): one row per patch, in the conv's order.
        let patches = pixels
            .reshape((b, c, gh, ph, gw, pw))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b * gh * gw, c * ph * pw))?;
        let embeds = patches
            .matmul(&self.patch_weight.t()?)?
            .broadcast_add(&self.patch_bias)?
            .reshape((b, gh * gw, ()))?;
        let hidden = embeds.dim(2)?;
        let class = self.class_embedding.broadcast_as((b, 1, hidden))?;
        Tensor::cat(&[&class, &embeds], 1)?.broadcast_add(&self.position_embedding)
    }
}

#[derive(Debug, Clone)]
struct Attention {
    qkv: Dense,
    projection: Dense,
    num_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(cfg: &VisionConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            qkv: Dense::new(h, 3 * h, true, vb.pp("qkv"))?,
            projection: Dense::new(h, h, true, vb.pp("projection"))?,
            num_heads: cfg.num_attention_heads,
            head_dim: h / cfg.num_attention_heads,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, t, h) = xs.dims3()?;
        // The fused projection is laid out (3, heads, head_dim) along its outputs.
        let qkv = self
            .qkv
            .forward(xs)?
            .reshape((b, t, 3, self.num_heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?;
        let scale = (self.head_dim as f64).powf(-0.5);
        let q = (qkv.get(0)? * scale)?.contiguous()?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let probs = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
        let out = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, t, h))?;
        self.projection.forward(&out)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    self_attn: Attention,
    layer_norm1: LayerNorm,
    fc1: Dense,
    fc2: Dense,
    layer_norm2: LayerNorm,
    act: Activation,
}

impl Layer {
    fn new(cfg: &VisionConfig, act: Activation, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let norm = |name| candle_nn::layer_norm(h, cfg.layer_norm_eps, vb.pp(name));
        Ok(Self {
            self_attn: Attention::new(cfg, vb.pp("self_attn"))?,
            layer_norm1: norm("layer_norm1")?,
            fc1: Dense::new(h, cfg.intermediate_size, true, vb.pp("mlp").pp("fc1"))?,
            fc2: Dense::new(cfg.intermediate_size, h, true, vb.pp("mlp").pp("fc2"))?,
            layer_norm2: norm("layer_norm2")?,
            act,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let attended = self.self_attn.forward(&xs.apply(&self.layer_norm1)?)?;
        let xs = (xs + attended)?;
        let hidden = self.fc1.forward(&xs.apply(&self.layer_norm2)?)?;
        let fed = self.fc2.forward(&self.act.apply(&hidden)?)?;
        xs + fed
    }
}

/// The vision encoder.
#[derive(Debug, Clone)]
pub struct VisionModel {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    post_layernorm: LayerNorm,
    dtype: DType,
}

impl VisionModel {
    /// Loads from the checkpoint's `vision_model` prefix.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let v = &cfg.vision_config;
        let act = cfg
            .vision_activation()
            .map_err(|u| candle_core::Error::Msg(u.to_string()))?;
        let layers = (0..v.num_hidden_layers)
            .map(|i| Layer::new(v, act, vb.pp("encoder").pp("layers").pp(i)))
            .collect::<Result<_>>()?;
        Ok(Self {
            embeddings: Embeddings::new(v, vb.pp("embeddings"))?,
            layers,
            post_layernorm: candle_nn::layer_norm(
                v.hidden_size,
                v.layer_norm_eps,
                vb.pp("post_layernorm"),
            )?,
            dtype: vb.dtype(),
        })
    }

    /// The patch and class embeddings with positions, before the layers: (b, 1 + patches, hidden).
    pub fn embeddings(&self, pixels: &Tensor) -> Result<Tensor> {
        self.embeddings.forward(&pixels.to_dtype(self.dtype)?)
    }

    /// `last_hidden_state` for `pixels` (b, 3, H, W): (b, 1 + patches, hidden), after the final
    /// LayerNorm. This is what the text decoder attends to.
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let mut xs = self.embeddings(pixels)?;
        for layer in &self.layers {
            xs = layer.forward(&xs)?;
        }
        xs.apply(&self.post_layernorm)
    }

    /// Patches along (height, width).
    pub fn grid(&self) -> (usize, usize) {
        self.embeddings.grid
    }
}

impl VisionModel {
    /// The number of positions a forward pass returns (class token and patches).
    pub fn positions(&self) -> Result<usize> {
        self.embeddings.position_embedding.dim(D::Minus2)
    }
}
