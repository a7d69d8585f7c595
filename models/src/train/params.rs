//! Trainable head parameters: a `VarBuilder` backend that creates each weight the model asks for
//! as a `Var`, drawn from a seeded generator following the initialisation hint the model gives
//! (PyTorch's defaults), and remembers it by name for the optimiser and for saving.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The trainable weights created so far, by full name (`head.gru.weight_ih_l0`, …).
#[derive(Clone, Debug, Default)]
pub struct Params {
    vars: Arc<Mutex<BTreeMap<String, Var>>>,
}

impl Params {
    /// A `VarBuilder` whose every `get` creates a seeded trainable weight in this set.
    pub fn var_builder(&self, seed: u64, device: &Device) -> VarBuilder<'static> {
        let backend = SeededVars {
            seed,
            vars: self.vars.clone(),
        };
        VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone())
    }

    /// The weights, for the optimiser.
    pub fn vars(&self) -> Vec<Var> {
        self.lock().values().cloned().collect()
    }

    /// A detached copy of every weight's current value, by name.
    pub fn snapshot(&self) -> candle_core::Result<BTreeMap<String, Tensor>> {
        self.lock()
            .iter()
            .map(|(name, var)| Ok((name.clone(), var.as_tensor().copy()?.detach())))
            .collect()
    }

    /// Sets every weight to the values of a snapshot.
    pub fn restore(&self, snapshot: &BTreeMap<String, Tensor>) -> candle_core::Result<()> {
        for (name, var) in self.lock().iter() {
            match snapshot.get(name) {
                Some(value) => var.set(value)?,
                None => candle_core::bail!("the snapshot has no `{name}`"),
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Var>> {
        // A panic while the lock was held cannot leave the map half-written: recover it.
        self.vars
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct SeededVars {
    seed: u64,
    vars: Arc<Mutex<BTreeMap<String, Var>>>,
}

impl SeededVars {
    fn values(&self, name: &str, count: usize, init: Init) -> candle_core::Result<Vec<f32>> {
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        let mut rng = StdRng::seed_from_u64(self.seed ^ hasher.finish());
        match init {
            Init::Const(value) => Ok(vec![value as f32; count]),
            Init::Uniform { lo, up } if lo < up => Ok((0..count)
                .map(|_| rng.random_range(lo..up) as f32)
                .collect()),
            Init::Uniform { lo, .. } => Ok(vec![lo as f32; count]),
            Init::Randn { mean, stdev } => Ok((0..count)
                .map(|_| {
                    // Box–Muller from two uniform draws.
                    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                    let u2: f64 = rng.random();
                    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                    (mean + stdev * z) as f32
                })
                .collect()),
            Init::Kaiming { .. } => {
                candle_core::bail!("`{name}`: give a uniform or constant initialisation hint")
            }
        }
    }
}

impl SimpleBackend for SeededVars {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut vars = self.vars.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(var) = vars.get(name) {
            if var.shape() != &shape {
                candle_core::bail!(
                    "`{name}` asked for with two shapes: {:?} and {shape:?}",
                    var.shape()
                );
            }
            return Ok(var.as_tensor().clone());
        }
        let values = self.values(name, shape.elem_count(), init)?;
        let tensor = Tensor::from_vec(values, shape, dev)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&tensor)?;
        let out = var.as_tensor().clone();
        vars.insert(name.to_string(), var);
        Ok(out)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("trainable weights need a shape for `{name}`")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_by_name_and_hint_and_recorded() {
        let a = Params::default();
        let vb = a.var_builder(7, &Device::Cpu);
        let init = Init::Uniform { lo: -0.5, up: 0.5 };
        let w = vb.get_with_hints((3, 4), "layer.weight", init).unwrap();
        let bias = vb
            .get_with_hints(3, "layer.bias", Init::Const(0.0))
            .unwrap();
        assert_eq!(bias.to_vec1::<f32>().unwrap(), [0.0; 3]);
        let values = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(values.iter().all(|v| (-0.5..0.5).contains(v)));
        let b = Params::default();
        let again = b
            .var_builder(7, &Device::Cpu)
            .get_with_hints((3, 4), "layer.weight", init)
            .unwrap();
        assert_eq!(
            values,
            again.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        assert_eq!(a.vars().len(), 2);

        let snapshot = a.snapshot().unwrap();
        a.vars()[1]
            .set(&Tensor::ones((3, 4), DType::F32, &Device::Cpu).unwrap())
            .unwrap();
        a.restore(&snapshot).unwrap();
        let restored = a.snapshot().unwrap();
        assert_eq!(
            restored["layer.weight"]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            values
        );
    }
}
