//! Reading a PANNs checkpoint's state dict: the published `.pth` is a dict whose `"model"` entry
//! is the state dict (legacy or zip `torch.save`); a bare state dict, as `.pth` or
//! `.safetensors`, is taken too. The reading itself is [`crate::eval::torch_state_dict`]'s.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::error::Result;
use crate::eval::torch_state_dict;

/// The entry of the published checkpoint dict that holds the state dict.
pub const STATE_DICT_ENTRY: &str = "model";

/// The checkpoint's tensors by state-dict key, on `device` in the dtypes saved. Every failure
/// names the file.
pub fn read_state_dict(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let what = "PANNs CNN14 checkpoint (.pth or .safetensors)";
    torch_state_dict::read_state_dict(path, what, Some(STATE_DICT_ENTRY))?
        .into_iter()
        .map(|(name, tensor)| Ok((name, tensor.to_device(device)?)))
        .collect()
}
