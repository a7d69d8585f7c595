//! A weight source that hands a model seeded random weights and remembers every tensor it handed
//! out, under the name and shape the model's loader asked for. Saving those tensors gives a
//! checkpoint in exactly the layout the loader reads: the published one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};

use crate::random_weights::RandomWeights;

/// Random weights whose every requested tensor is kept for saving.
#[derive(Debug, Clone)]
pub struct RecordingWeights {
    source: RandomWeights,
    taken: Arc<Mutex<BTreeMap<String, Tensor>>>,
}

impl RecordingWeights {
    /// Weights for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            source: RandomWeights::new(seed),
            taken: Arc::default(),
        }
    }

    /// A `VarBuilder` (f32, CPU) whose tensors this recorder keeps.
    pub fn var_builder(&self) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self.clone()), DType::F32, Device::Cpu)
    }

    /// Every tensor handed out so far, by name.
    pub fn tensors(&self) -> BTreeMap<String, Tensor> {
        self.taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SimpleBackend for RecordingWeights {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        dev: &Device,
    ) -> Result<Tensor> {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tensor) = taken.get(name) {
            if tensor.shape() != &shape {
                candle_core::bail!("`{name}` asked for as {shape:?} after {:?}", tensor.shape());
            }
            return tensor.to_dtype(dtype)?.to_device(dev);
        }
        let tensor = self
            .source
            .get(shape, name, init, DType::F32, &Device::Cpu)?;
        taken.insert(name.to_string(), tensor.clone());
        tensor.to_dtype(dtype)?.to_device(dev)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        candle_core::bail!("recorded random weights need a shape for `{name}`")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_hands_out_and_hands_it_out_again() {
        let recorder = RecordingWeights::new(3);
        let vb = recorder.var_builder();
        let first = vb.get((2, 3), "layer.weight").unwrap();
        let again = vb.get((2, 3), "layer.weight").unwrap();
        assert_eq!(
            first.to_vec2::<f32>().unwrap(),
            again.to_vec2::<f32>().unwrap()
        );
        assert!(vb.get((3, 2), "layer.weight").is_err());
        let tensors = recorder.tensors();
        assert_eq!(tensors.keys().collect::<Vec<_>>(), ["layer.weight"]);
    }
}
