//! The tiny BLIP: `Salesforce/blip-image-captioning-large`'s config with every size shrunk
//! (32-pixel images in 8-pixel patches), its image processor at that size, and a BERT WordPiece
//! tokenizer from the word list. As in the real checkpoint the text vocabulary is the
//! tokenizer's plus `[DEC]` (the config's `bos_token_id`, not in tokenizer.json) and `[ENC]`.

use std::path::Path;

use candle_core::Device;
use serde_json::{Value, json};

use super::{ImageTextFiles, parse, tokenizers, with_changes, write_image_text_model};
use crate::blip::{Blip, Config};
use crate::error::Result;

/// The image side the tiny BLIP takes.
pub const IMAGE_SIZE: usize = 32;

/// Writes a tiny BLIP (`config.json`, `preprocessor_config.json`, `tokenizer.json`,
/// `model.safetensors`) into `dir`.
pub fn write_blip(dir: &Path, seed: u64) -> Result<()> {
    let tokenizer = tokenizers::bert_wordpiece(tokenizers::WORDS);
    let config_json = config(tokenizer.vocab_size);
    let config: Config = parse(dir, "config.json", &config_json)?;
    let files = ImageTextFiles {
        config: config_json,
        preprocessor: preprocessor(),
        tokenizer: tokenizer.json,
    };
    write_image_text_model(dir, seed, files, |tokenizer, processor, vb| {
        Blip::new(config, Some(tokenizer), processor, vb, &Device::Cpu)?;
        Ok(())
    })
}

/// blip-image-captioning-large's `config.json` with the sizes shrunk; `[DEC]` and `[ENC]`
/// follow the tokenizer's `tokenizer_vocab` ids.
fn config(tokenizer_vocab: usize) -> Value {
    let published: Value = serde_json::from_str(include_str!("../../presets/blip-large.json"))
        .expect("the compiled-in blip-large config parses");
    with_changes(
        published,
        &json!({
            "projection_dim": 16,
            "image_text_hidden_size": 16,
            "text_config": {
                "vocab_size": tokenizer_vocab + 2, "bos_token_id": tokenizer_vocab,
                "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                "num_attention_heads": 4, "max_position_embeddings": 64,
                "encoder_hidden_size": 32, "projection_dim": 32
            },
            "vision_config": {
                "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                "num_attention_heads": 4, "image_size": IMAGE_SIZE, "patch_size": 8,
                "projection_dim": 16
            }
        }),
    )
}

/// blip-image-captioning-large's image processor settings at [`IMAGE_SIZE`].
fn preprocessor() -> Value {
    let published: Value =
        serde_json::from_str(include_str!("../../presets/blip-large-preprocessor.json"))
            .expect("the compiled-in BLIP processor config parses");
    with_changes(
        published,
        &json!({
            "processor_class": "BlipProcessor",
            "size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
        }),
    )
}
