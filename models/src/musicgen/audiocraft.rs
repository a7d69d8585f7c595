//! MusicGen weights from audiocraft, the authors' training library: an LM state dict as
//! `torch.save(model.lm.state_dict(), …)` writes it (a PyTorch zip pickle) renamed to the
//! published Hugging Face layout as transformers' `convert_musicgen_transformers.py` renames it:
//! `emb.k` → `model.decoder.embed_tokens.k`, `transformer` → `model.decoder`, `cross_attention`
//! → `encoder_attn`, `linear1/2` → `fc1/2`, `norm1` → `self_attn_layer_norm`, `norm_cross` →
//! `encoder_attn_layer_norm`, `norm2` → `final_layer_norm`, `out_norm` →
//! `model.decoder.layer_norm`, `linears` → `lm_heads`, the description conditioner's
//! `output_proj` → `enc_to_dec_proj`, and every fused `in_proj_weight` split into q, k and v.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Tensor;

use crate::error::{Error, Result};

/// audiocraft's name fragments and the published ones, in transformers' order of replacement.
const RENAMES: [(&str, &str); 11] = [
    ("emb", "model.decoder.embed_tokens"),
    ("transformer", "model.decoder"),
    ("cross_attention", "encoder_attn"),
    ("linear1", "fc1"),
    ("linear2", "fc2"),
    ("norm1", "self_attn_layer_norm"),
    ("norm_cross", "encoder_attn_layer_norm"),
    ("norm2", "final_layer_norm"),
    ("out_norm", "model.decoder.layer_norm"),
    ("linears", "lm_heads"),
    (
        "condition_provider.conditioners.description.output_proj",
        "enc_to_dec_proj",
    ),
];

/// An audiocraft LM name in the published layout (`decoder.` prefixed, except the projection).
pub fn published_name(name: &str) -> String {
    let mut name = name.to_string();
    for (from, to) in RENAMES {
        if name.contains(from) {
            name = name.replace(from, to);
        }
    }
    if name.starts_with("enc_to_dec_proj.") {
        name
    } else {
        format!("decoder.{name}")
    }
}

/// Reads an audiocraft LM state dict and returns its tensors under the published names, the
/// fused attention projections split (`hidden` rows each).
pub fn import_lm(path: &Path, hidden: usize) -> Result<BTreeMap<String, Tensor>> {
    let tensors = candle_core::pickle::read_all(path).map_err(|source| Error::Weights {
        path: path.to_owned(),
        source,
    })?;
    if tensors.is_empty() {
        return Err(Error::Input(format!(
            "{}: no tensors (an audiocraft LM state dict, as torch.save(model.lm.state_dict()) writes it, was expected)",
            path.display()
        )));
    }
    let mut out = BTreeMap::new();
    for (name, tensor) in tensors {
        let renamed = published_name(&name);
        if let Some(stem) = renamed.strip_suffix("in_proj_weight") {
            let rows = tensor.dim(0)?;
            if rows != 3 * hidden {
                return Err(Error::Input(format!(
                    "{}: {name} has {rows} rows, not 3 × {hidden}",
                    path.display()
                )));
            }
            for (k, part) in ["q", "k", "v"].iter().enumerate() {
                out.insert(
                    format!("{stem}{part}_proj.weight"),
                    tensor.narrow(0, k * hidden, hidden)?.contiguous()?,
                );
            }
        } else {
            out.insert(renamed, tensor);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_transformers_conversion() {
        for (audiocraft, published) in [
            (
                "emb.3.weight",
                "decoder.model.decoder.embed_tokens.3.weight",
            ),
            (
                "transformer.layers.5.cross_attention.out_proj.weight",
                "decoder.model.decoder.layers.5.encoder_attn.out_proj.weight",
            ),
            (
                "transformer.layers.0.norm_cross.bias",
                "decoder.model.decoder.layers.0.encoder_attn_layer_norm.bias",
            ),
            (
                "transformer.layers.1.linear2.weight",
                "decoder.model.decoder.layers.1.fc2.weight",
            ),
            ("out_norm.weight", "decoder.model.decoder.layer_norm.weight"),
            ("linears.2.weight", "decoder.lm_heads.2.weight"),
            (
                "condition_provider.conditioners.description.output_proj.bias",
                "enc_to_dec_proj.bias",
            ),
        ] {
            assert_eq!(published_name(audiocraft), published, "{audiocraft}");
        }
    }
}
