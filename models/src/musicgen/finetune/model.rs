//! MusicGen's decoder and text projection as fine-tuning runs them: the weights of a published
//! checkpoint loaded as variables (what trains) or plain tensors (what stays frozen), and a
//! forward pass over whole sequences (no KV cache) made only of operations candle can
//! differentiate: `ops::softmax`, `ops::layer_norm_slow`, `gelu_erf`, matrix products, gathers.
//! (candle's `softmax_last_dim`, `ops::layer_norm` and `LayerNorm::forward`'s fast path have no
//! backward: gradients would stop there without a word.) Dropout follows the checkpoint's config
//! when training. The layout and the arithmetic are transformers' `MusicgenForConditionalGeneration`
//! with `labels=` and precomputed text states.

use std::path::Path;
use std::sync::Mutex;

use candle_core::{D, DType, Device, IndexOp, Result, Tensor, Var, bail};
use candle_nn::VarBuilder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::super::config::{Config, DecoderConfig};
use super::super::decoder::sinusoidal_positions;
use crate::checkpoint::CheckpointDir;

/// The torch default LayerNorm epsilon, which MusicGen's decoder uses.
const LAYER_NORM_EPS: f32 = 1e-5;

/// What fine-tuning leaves untouched besides T5 and EnCodec (which it never trains).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Freeze {
    /// With L ≥ 1, the codebook embeddings and decoder layers `0..L` stay frozen too.
    pub layers: usize,
}

/// A weight and its optional bias.
#[derive(Debug, Clone)]
struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// `xs · weightᵀ (+ bias)` over the last dimension of `xs`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let dims = xs.dims().to_vec();
        let last = dims[dims.len() - 1];
        let rows = xs.elem_count() / last.max(1);
        let ys = xs.reshape((rows, last))?.matmul(&self.weight.t()?)?;
        let ys = match &self.bias {
            Some(bias) => ys.broadcast_add(bias)?,
            None => ys,
        };
        let mut out = dims;
        let n = out.len();
        out[n - 1] = self.weight.dim(0)?;
        ys.reshape(out)
    }
}

#[derive(Debug, Clone)]
struct Norm {
    weight: Tensor,
    bias: Tensor,
}

impl Norm {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm_slow(xs, &self.weight, &self.bias, LAYER_NORM_EPS)
    }
}

#[derive(Debug, Clone)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

#[derive(Debug, Clone)]
struct Layer {
    self_attn: Attention,
    self_attn_norm: Norm,
    cross_attn: Attention,
    cross_attn_norm: Norm,
    fc1: Linear,
    fc2: Linear,
    final_norm: Norm,
}

/// Reads checkpoint tensors by their published names, as variables where they train.
struct Loader<'a> {
    vb: VarBuilder<'a>,
    trainable: Vec<(String, Var)>,
}

impl Loader<'_> {
    fn get(&mut self, name: &str, shape: &[usize], train: bool) -> Result<Tensor> {
        let tensor = self.vb.get(shape, name)?.to_dtype(DType::F32)?;
        if !train {
            return Ok(tensor);
        }
        let var = Var::from_tensor(&tensor)?;
        let tensor = var.as_tensor().clone();
        self.trainable.push((name.to_string(), var));
        Ok(tensor)
    }

    fn linear(
        &mut self,
        prefix: &str,
        dims: (usize, usize),
        bias: bool,
        train: bool,
    ) -> Result<Linear> {
        let (out, inp) = dims;
        Ok(Linear {
            weight: self.get(&format!("{prefix}.weight"), &[out, inp], train)?,
            bias: if bias {
                Some(self.get(&format!("{prefix}.bias"), &[out], train)?)
            } else {
                None
            },
        })
    }

    fn norm(&mut self, prefix: &str, h: usize, train: bool) -> Result<Norm> {
        Ok(Norm {
            weight: self.get(&format!("{prefix}.weight"), &[h], train)?,
            bias: self.get(&format!("{prefix}.bias"), &[h], train)?,
        })
    }

    fn attention(&mut self, prefix: &str, h: usize, train: bool) -> Result<Attention> {
        Ok(Attention {
            q: self.linear(&format!("{prefix}.q_proj"), (h, h), false, train)?,
            k: self.linear(&format!("{prefix}.k_proj"), (h, h), false, train)?,
            v: self.linear(&format!("{prefix}.v_proj"), (h, h), false, train)?,
            out: self.linear(&format!("{prefix}.out_proj"), (h, h), false, train)?,
        })
    }
}

/// MusicGen's decoder and text projection with trainable weights.
pub struct TrainableMusicGen {
    cfg: DecoderConfig,
    proj: Option<Linear>,
    embed: Vec<Tensor>,
    layers: Vec<Layer>,
    final_norm: Norm,
    heads: Vec<Linear>,
    positions: Tensor,
    trainable: Vec<(String, Var)>,
    training: bool,
    /// Whether backward recomputes each layer from its input instead of keeping every layer's
    /// graph (see [`super::grads`]).
    recompute: bool,
    /// Dropout masks on the CPU come from here, so that a seeded run repeats exactly (candle's
    /// CPU random numbers cannot be seeded); on a GPU the device's seeded generator is used.
    dropout_rng: Mutex<StdRng>,
    /// Draws one seed for each stage of a forward pass (the embeddings, then each layer), so
    /// that a layer recomputed for its backward pass draws the same masks again.
    stage_rng: Mutex<StdRng>,
}

impl std::fmt::Debug for TrainableMusicGen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainableMusicGen")
            .field("layers", &self.layers.len())
            .field("trainable", &self.trainable.len())
            .finish()
    }
}

impl TrainableMusicGen {
    /// Loads the decoder and `enc_to_dec_proj` of a MusicGen checkpoint directory in f32.
    pub fn load(dir: &Path, freeze: Freeze, device: &Device) -> crate::Result<Self> {
        let ckpt = CheckpointDir::open(dir)?;
        let config: Config = ckpt.read_config("config.json", Config::validate)?;
        let layers = config.decoder.num_hidden_layers;
        if freeze.layers > layers {
            return Err(crate::Error::Input(format!(
                "cannot freeze {} layers of a decoder with {layers}",
                freeze.layers
            )));
        }
        ckpt.build(DType::F32, device, |vb| Self::new(&config, freeze, vb))
    }

    /// Builds from checkpoint tensors at the top level of `vb` (published key names).
    pub fn new(config: &Config, freeze: Freeze, vb: VarBuilder) -> Result<Self> {
        let cfg = config.decoder.clone();
        if cfg.layerdrop > 0.0 {
            bail!(
                "fine-tuning does not implement layerdrop ({})",
                cfg.layerdrop
            )
        }
        if cfg.scale_embedding {
            bail!("fine-tuning does not implement scale_embedding")
        }
        if freeze.layers > cfg.num_hidden_layers {
            bail!(
                "cannot freeze {} layers of a decoder with {}",
                freeze.layers,
                cfg.num_hidden_layers
            )
        }
        let device = vb.device().clone();
        let mut load = Loader {
            vb,
            trainable: Vec::new(),
        };
        let h = cfg.hidden_size;
        let d_text = config.text_encoder.d_model;
        let proj = if load.vb.contains_tensor("enc_to_dec_proj.weight") {
            Some(load.linear("enc_to_dec_proj", (h, d_text), true, true)?)
        } else if d_text == h {
            None
        } else {
            bail!("enc_to_dec_proj.weight is missing")
        };
        let inner = "decoder.model.decoder";
        let train_embed = freeze.layers == 0;
        let embed = (0..cfg.num_codebooks)
            .map(|k| {
                load.get(
                    &format!("{inner}.embed_tokens.{k}.weight"),
                    &[cfg.vocab_size + 1, h],
                    train_embed,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("{inner}.layers.{i}");
            let train = i >= freeze.layers;
            layers.push(Layer {
                self_attn: load.attention(&format!("{p}.self_attn"), h, train)?,
                self_attn_norm: load.norm(&format!("{p}.self_attn_layer_norm"), h, train)?,
                cross_attn: load.attention(&format!("{p}.encoder_attn"), h, train)?,
                cross_attn_norm: load.norm(&format!("{p}.encoder_attn_layer_norm"), h, train)?,
                fc1: load.linear(&format!("{p}.fc1"), (cfg.ffn_dim, h), false, train)?,
                fc2: load.linear(&format!("{p}.fc2"), (h, cfg.ffn_dim), false, train)?,
                final_norm: load.norm(&format!("{p}.final_layer_norm"), h, train)?,
            });
        }
        let final_norm = load.norm(&format!("{inner}.layer_norm"), h, true)?;
        let heads = (0..cfg.num_codebooks)
            .map(|k| {
                load.linear(
                    &format!("decoder.lm_heads.{k}"),
                    (cfg.vocab_size, h),
                    false,
                    true,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let positions = sinusoidal_positions(cfg.max_position_embeddings, h, &device)?;
        Ok(Self {
            cfg,
            proj,
            embed,
            layers,
            final_norm,
            heads,
            positions,
            trainable: load.trainable,
            training: true,
            recompute: false,
            dropout_rng: Mutex::new(StdRng::seed_from_u64(0)),
            stage_rng: Mutex::new(StdRng::seed_from_u64(0)),
        })
    }

    /// The trained tensors with their checkpoint names, in a fixed order.
    pub fn trainable(&self) -> &[(String, Var)] {
        &self.trainable
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        self.positions.device()
    }

    /// The decoder's configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.cfg
    }

    /// Recompute each layer during backward (much less memory, about a third more compute).
    pub fn set_recompute(&mut self, recompute: bool) {
        self.recompute = recompute;
    }

    /// Whether backward recomputes each layer.
    pub fn recomputes(&self) -> bool {
        self.recompute
    }

    /// Dropout on (training) or off (validation).
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// Seeds dropout: the same seed, the same masks.
    pub fn seed_dropout(&mut self, seed: u64) -> Result<()> {
        self.stage_rng = Mutex::new(StdRng::seed_from_u64(seed));
        self.reseed(seed)
    }

    /// One seed for each stage of the next forward pass: the embeddings, then every layer.
    pub(super) fn stage_seeds(&self) -> Result<Vec<u64>> {
        let mut rng = self
            .stage_rng
            .lock()
            .map_err(|_| candle_core::Error::Msg("the dropout generator was poisoned".into()))?;
        Ok((0..=self.layers.len()).map(|_| rng.random()).collect())
    }

    /// Makes the dropout masks that follow those of `seed`.
    pub(super) fn reseed(&self, seed: u64) -> Result<()> {
        *self
            .dropout_rng
            .lock()
            .map_err(|_| candle_core::Error::Msg("the dropout generator was poisoned".into()))? =
            StdRng::seed_from_u64(seed);
        let device = self.positions.device();
        if !device.is_cpu() {
            device.set_seed(seed)?;
        }
        Ok(())
    }

    fn dropout(&self, xs: &Tensor, p: f64) -> Result<Tensor> {
        if !self.training || p <= 0.0 {
            return Ok(xs.clone());
        }
        if !(0.0..1.0).contains(&p) {
            bail!("dropout probability {p} is not in [0, 1)")
        }
        if !xs.device().is_cpu() {
            return candle_nn::ops::dropout(xs, p as f32);
        }
        let scale = (1.0 / (1.0 - p)) as f32;
        let mask: Vec<f32> = {
            let mut rng = self.dropout_rng.lock().map_err(|_| {
                candle_core::Error::Msg("the dropout generator was poisoned".into())
            })?;
            (0..xs.elem_count())
                .map(|_| if rng.random::<f64>() >= p { scale } else { 0.0 })
                .collect()
        };
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        xs * mask
    }

    /// The text side: T5 states `(batch, text, d_text)` projected to the decoder's width and
    /// zeroed where `text_mask` `(batch, text)` is 0, as transformers does.
    pub fn memory(&self, states: &Tensor, text_mask: &Tensor) -> Result<Tensor> {
        let states = match &self.proj {
            Some(proj) => proj.forward(states)?,
            None => states.clone(),
        };
        states.broadcast_mul(&text_mask.to_dtype(DType::F32)?.unsqueeze(2)?)
    }

    /// Logits `(batch, codebooks, steps, vocab)` for decoder inputs `(batch, codebooks, steps)`
    /// (u32) attending to `states` `(batch, text, d_text)` under `text_mask` `(batch, text)`.
    pub fn forward(&self, states: &Tensor, text_mask: &Tensor, inputs: &Tensor) -> Result<Tensor> {
        let seeds = self.stage_seeds()?;
        let memory = self.memory(states, text_mask)?;
        let masks = self.masks(inputs, text_mask)?;
        self.reseed(seeds[0])?;
        let mut xs = self.embed(inputs)?;
        for (i, seed) in seeds[1..].iter().enumerate() {
            self.reseed(*seed)?;
            xs = self.layer_at(i, &xs, &memory, &masks)?;
        }
        self.head(&xs)
    }

    /// The decoder's layers.
    pub(super) fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// The attention biases of a batch: causal for the music, the text mask for the text.
    pub(super) fn masks(&self, inputs: &Tensor, text_mask: &Tensor) -> Result<Masks> {
        let steps = inputs.dim(2)?;
        Ok(Masks {
            causal: causal_mask(steps, inputs.device())?,
            cross: text_mask_bias(text_mask)?,
        })
    }

    /// The first stage: the codebooks' embeddings summed, the positions added, dropout.
    pub(super) fn embed(&self, inputs: &Tensor) -> Result<Tensor> {
        let (batch, codebooks, steps) = inputs.dims3()?;
        if codebooks != self.cfg.num_codebooks {
            bail!(
                "inputs have {codebooks} codebooks, the decoder {}",
                self.cfg.num_codebooks
            )
        }
        if steps > self.positions.dim(0)? {
            bail!(
                "{steps} steps do not fit the decoder's {} positions",
                self.positions.dim(0)?
            )
        }
        let mut xs: Option<Tensor> = None;
        for (k, embed) in self.embed.iter().enumerate() {
            let ids = inputs.i((.., k, ..))?.flatten_all()?;
            let e = embed
                .index_select(&ids, 0)?
                .reshape((batch, steps, self.cfg.hidden_size))?;
            xs = Some(match xs {
                Some(x) => (x + e)?,
                None => e,
            });
        }
        let Some(xs) = xs else {
            bail!("the decoder has no codebook")
        };
        let xs = xs.broadcast_add(&self.positions.narrow(0, 0, steps)?)?;
        self.dropout(&xs, self.cfg.dropout)
    }

    /// Layer `i` on `xs`.
    pub(super) fn layer_at(
        &self,
        i: usize,
        xs: &Tensor,
        memory: &Tensor,
        masks: &Masks,
    ) -> Result<Tensor> {
        self.layer(&self.layers[i], xs, memory, &masks.causal, &masks.cross)
    }

    /// The last stage: the final norm and one head per codebook, logits
    /// `(batch, codebooks, steps, vocab)`.
    pub(super) fn head(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.final_norm.forward(xs)?;
        let logits = self
            .heads
            .iter()
            .map(|head| head.forward(&xs))
            .collect::<Result<Vec<_>>>()?;
        Tensor::stack(&logits, 1)
    }

    fn layer(
        &self,
        layer: &Layer,
        xs: &Tensor,
        memory: &Tensor,
        causal: &Tensor,
        cross: &Tensor,
    ) -> Result<Tensor> {
        let h = layer.self_attn_norm.forward(xs)?;
        let attended = self.attend(&layer.self_attn, &h, &h, causal)?;
        let xs = (xs + self.dropout(&attended, self.cfg.dropout)?)?;
        let h = layer.cross_attn_norm.forward(&xs)?;
        let crossed = self.attend(&layer.cross_attn, &h, memory, cross)?;
        let xs = (xs + self.dropout(&crossed, self.cfg.dropout)?)?;
        let h = layer.final_norm.forward(&xs)?;
        let h = layer.fc1.forward(&h)?.gelu_erf()?;
        let h = self.dropout(&h, self.cfg.activation_dropout)?;
        let h = layer.fc2.forward(&h)?;
        xs + self.dropout(&h, self.cfg.dropout)?
    }

    /// Multi-head attention of `xs` over `kv` with an additive `bias` broadcast to the scores.
    fn attend(&self, attn: &Attention, xs: &Tensor, kv: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let heads = self.cfg.num_attention_heads;
        let head_dim = self.cfg.head_dim();
        let split = |t: Tensor| -> Result<Tensor> {
            let (b, n, _) = t.dims3()?;
            t.reshape((b, n, heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split((attn.q.forward(xs)? * (head_dim as f64).powf(-0.5))?)?;
        let k = split(attn.k.forward(kv)?)?;
        let v = split(attn.v.forward(kv)?)?;
        let scores = q.matmul(&k.t()?.contiguous()?)?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let probs = self.dropout(&probs, self.cfg.attention_dropout)?;
        let out = probs.matmul(&v)?;
        let (b, _, n, _) = out.dims4()?;
        attn.out
            .forward(&out.transpose(1, 2)?.reshape((b, n, heads * head_dim))?)
    }
}

/// The attention biases of one batch.
#[derive(Debug, Clone)]
pub(super) struct Masks {
    causal: Tensor,
    cross: Tensor,
}

/// `(steps, steps)`: 0 where a step may look, the lowest f32 above the diagonal.
fn causal_mask(steps: usize, device: &Device) -> Result<Tensor> {
    let values: Vec<f32> = (0..steps)
        .flat_map(|i| (0..steps).map(move |j| if j > i { f32::MIN } else { 0.0 }))
        .collect();
    Tensor::from_vec(values, (steps, steps), device)
}

/// `(batch, 1, 1, text)`: 0 where the text mask is 1, the lowest f32 where it is 0 (a row with
/// no text attends evenly to nothing but zeros, as in transformers).
fn text_mask_bias(text_mask: &Tensor) -> Result<Tensor> {
    let (batch, text) = text_mask.dims2()?;
    let mask = text_mask.to_dtype(DType::F32)?;
    let bias = ((mask.ones_like()? - mask)? * f64::from(f32::MIN))?;
    bias.reshape((batch, 1, 1, text))
}
