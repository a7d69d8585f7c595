//! A weight source that invents seeded random weights of whatever shape a model asks for, so a
//! full-size model can be built from its config alone (benchmarks, demo models) through the same
//! `Model::new(&cfg, vb)` code that loads real checkpoints. Values follow common initialisations:
//! norms at one, biases near zero, matrices scaled by 1/√fan-in.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Seeded random weights, the same for the same seed, name and shape.
#[derive(Debug, Clone, Copy)]
pub struct RandomWeights {
    seed: u64,
}

impl RandomWeights {
    /// A source for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// A `VarBuilder` over these weights.
    pub fn var_builder(self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self), dtype, device.clone())
    }

    fn rng_for(&self, name: &str) -> StdRng {
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        StdRng::seed_from_u64(self.seed ^ hasher.finish())
    }
}

/// How a parameter is filled, judged by its name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fill {
    Const(f32),
    /// Uniform with this standard deviation.
    Spread(f32),
}

fn fill_for(name: &str, shape: &Shape) -> Fill {
    let leaf = name.rsplit('.').next().unwrap_or(name);
    let dims = shape.dims();
    // `layer_norm`, BERT's `LayerNorm`, CLIP's `pre_layrnorm`, Falcon's `ln_f`, GPT's `ln_1`.
    let is_norm = (name.to_ascii_lowercase().contains("norm")
        || name.split('.').any(|part| part.starts_with("ln_")))
        && !name.contains("weight_v");
    if leaf == "weight_g" || (is_norm && leaf == "weight") {
        return Fill::Const(1.0);
    }
    // `bias`, GRU `bias_ih_l0`, `torch.nn.MultiheadAttention`'s `in_proj_bias`; T5's
    // `relative_attention_bias` is a table of embeddings, not a bias.
    let is_bias =
        leaf == "bias" || leaf.starts_with("bias_") || (leaf.ends_with("_bias") && dims.len() == 1);
    if is_bias {
        return Fill::Spread(0.01);
    }
    // BatchNorm statistics: a variance must stay positive.
    if leaf == "running_var" {
        return Fill::Const(1.0);
    }
    if leaf == "running_mean" {
        return Fill::Spread(0.01);
    }
    // Convolution kernels (out, in, kh, kw) scale by fan-in, even in a ResNet "embedder".
    if dims.len() == 4 {
        let fan_in: usize = dims.iter().skip(1).product::<usize>().max(1);
        return Fill::Spread(1.0 / (fan_in as f32).sqrt());
    }
    if name.contains("codebook") {
        return Fill::Spread(1.0);
    }
    if name.contains("embed") || name.contains("shared") || leaf == "relative_attention_bias" {
        return Fill::Spread(0.5);
    }
    let fan_in: usize = dims.iter().skip(1).product::<usize>().max(1);
    Fill::Spread(1.0 / (fan_in as f32).sqrt())
}

impl SimpleBackend for RandomWeights {
    fn get(&self, shape: Shape, name: &str, _: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let count = shape.elem_count();
        let values: Vec<f32> = match fill_for(name, &shape) {
            Fill::Const(value) => vec![value; count],
            Fill::Spread(std) => {
                let half_width = std * 3f32.sqrt();
                let mut rng = self.rng_for(name);
                (0..count)
                    .map(|_| rng.random_range(-half_width..=half_width))
                    .collect()
            }
        };
        Tensor::from_vec(values, shape, dev)?.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        candle_core::bail!("random weights need a shape for `{name}`")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_weights_and_sensible_fills() {
        let a = RandomWeights::new(1).var_builder(DType::F32, &Device::Cpu);
        let b = RandomWeights::new(1).var_builder(DType::F32, &Device::Cpu);
        let w1 = a.get((4, 16), "layer.fc1.weight").unwrap();
        let w2 = b.get((4, 16), "layer.fc1.weight").unwrap();
        assert_eq!(w1.to_vec2::<f32>().unwrap(), w2.to_vec2::<f32>().unwrap());
        let other = a.get((4, 16), "layer.fc2.weight").unwrap();
        assert_ne!(
            w1.to_vec2::<f32>().unwrap(),
            other.to_vec2::<f32>().unwrap()
        );
        let max = crate::test_util::max_abs(&w1);
        assert!(
            max <= 3f32.sqrt() / 4.0 + 1e-6,
            "scaled by 1/sqrt(fan_in): {max}"
        );
        let norm = a.get(8, "decoder.layer_norm.weight").unwrap();
        assert_eq!(norm.to_vec1::<f32>().unwrap(), vec![1.0; 8]);
        let var = a.get(8, "stage.normalization.running_var").unwrap();
        assert_eq!(var.to_vec1::<f32>().unwrap(), vec![1.0; 8]);
        for name in [
            "text_decoder.bert.encoder.layer.0.output.LayerNorm.weight",
            "transformer.ln_f.weight",
            "vision_model.pre_layrnorm.weight",
        ] {
            let norm = a.get(8, name).unwrap();
            assert_eq!(norm.to_vec1::<f32>().unwrap(), vec![1.0; 8], "{name}");
        }
        for name in [
            "head.attention.in_proj_bias",
            "head.gru.bias_hh_l0_reverse",
            "layer.LayerNorm.bias",
        ] {
            let bias = a.get(64, name).unwrap();
            let max = bias.abs().unwrap().max_all().unwrap();
            assert!(max.to_scalar::<f32>().unwrap() < 0.02, "{name} is small");
        }
        let table = a
            .get((32, 4), "block.0.relative_attention_bias.weight")
            .unwrap();
        let max = table.abs().unwrap().max_all().unwrap();
        assert!(
            max.to_scalar::<f32>().unwrap() > 0.1,
            "an embedding table, not a bias"
        );
        let g = a.get((3, 1, 1), "conv.weight_g").unwrap();
        assert_eq!(
            g.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            vec![1.0; 3]
        );
    }
}
