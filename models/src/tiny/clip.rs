//! The tiny CLIP: `openai/clip-vit-base-patch32`'s config with every size shrunk (32-pixel
//! images in 8-pixel patches), its image processor at that size, and a CLIP BPE tokenizer from
//! the word list (which has the prompts' words: "a painting that feels …").

use std::path::Path;

use candle_core::Device;
use serde_json::{Value, json};

use super::{ImageTextFiles, parse, tokenizers, with_changes, write_image_text_model};
use crate::emotion::clip_zero_shot::{ClipConfig, ClipZeroShot};
use crate::error::Result;

/// The image side the tiny CLIP takes.
pub const IMAGE_SIZE: usize = 32;

/// Writes a tiny CLIP (`config.json`, `preprocessor_config.json`, `tokenizer.json`,
/// `model.safetensors`) into `dir`.
pub fn write_clip(dir: &Path, seed: u64) -> Result<()> {
    let tokenizer = tokenizers::clip_bpe(tokenizers::WORDS);
    let config_json = config(tokenizer.vocab_size);
    let config: ClipConfig = parse(dir, "config.json", &config_json)?;
    let files = ImageTextFiles {
        config: config_json,
        preprocessor: preprocessor(),
        tokenizer: tokenizer.json,
    };
    write_image_text_model(dir, seed, files, |tokenizer, processor, vb| {
        ClipZeroShot::new(config, Some(tokenizer), processor, vb, &Device::Cpu)?;
        Ok(())
    })
}

/// clip-vit-base-patch32's `config.json` with the sizes shrunk.
fn config(vocab_size: usize) -> Value {
    let published: Value =
        serde_json::from_str(include_str!("../../presets/clip-vit-base-patch32.json"))
            .expect("the compiled-in clip-vit-base-patch32 config parses");
    let layers = json!({
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "projection_dim": 16
    });
    with_changes(
        published,
        &json!({
            "projection_dim": 16,
            "text_config": with_changes(layers.clone(), &json!({"vocab_size": vocab_size})),
            "vision_config": with_changes(layers, &json!({"image_size": IMAGE_SIZE, "patch_size": 8}))
        }),
    )
}

/// clip-vit-base-patch32's `preprocessor_config.json` at [`IMAGE_SIZE`].
fn preprocessor() -> Value {
    json!({
        "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "do_center_crop": true,
        "do_convert_rgb": true,
        "do_normalize": true,
        "do_rescale": true,
        "do_resize": true,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_processor_type": "CLIPImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "processor_class": "CLIPProcessor",
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {"shortest_edge": IMAGE_SIZE}
    })
}
