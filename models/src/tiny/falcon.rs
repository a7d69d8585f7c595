//! The tiny Falcon-RW: `tiiuae/falcon-rw-1b`'s config with every size shrunk (ALiBi, biases,
//! sequential attention, full multi-head, as published) and a GPT-2 byte-level BPE tokenizer
//! whose merges cover the word list and the words of the paper's prompt. As in the real
//! checkpoint the model's vocabulary is padded past the tokenizer's (to a multiple of 64), and
//! `bos_token_id`/`eos_token_id` are 1 and 2 while `<|endoftext|>` is the tokenizer's last id.

use std::path::Path;

use candle_core::Device;
use serde_json::{Value, json};

use super::recorder::RecordingWeights;
use super::{create_dir, parse, tokenizer_of, tokenizers, with_changes, write_json, write_weights};
use crate::error::Result;
use crate::falcon_rw::{Config, FalconRw, GenerationConfig, prompt};

/// Writes a tiny Falcon-RW (`config.json`, `generation_config.json`, `tokenizer.json`,
/// `model.safetensors`) into `dir`.
pub fn write_falcon(dir: &Path, seed: u64) -> Result<()> {
    let tokenizer = tokenizer_file();
    let config_json = config(tokenizer.vocab_size.next_multiple_of(64));
    let config: Config = parse(dir, "config.json", &config_json)?;
    let generation_json = json!({
        "_from_model_config": true,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "transformers_version": "4.31.0.dev0"
    });
    let generation: GenerationConfig = parse(dir, "generation_config.json", &generation_json)?;
    let recorder = RecordingWeights::new(seed);
    FalconRw::new(
        config,
        &generation,
        Some(tokenizer_of(dir, &tokenizer.json)?),
        recorder.var_builder(),
        &Device::Cpu,
    )?;
    create_dir(dir)?;
    write_json(dir, "config.json", &config_json)?;
    write_json(dir, "generation_config.json", &generation_json)?;
    write_json(dir, "tokenizer.json", &tokenizer.json)?;
    write_weights(dir, &recorder)
}

/// The tiny Falcon-RW's GPT-2-style tokenizer.
pub(crate) fn tokenizer_file() -> tokenizers::TokenizerFile {
    let words = words();
    let word_refs: Vec<&str> = words.iter().map(String::as_str).collect();
    tokenizers::gpt2_bpe(&word_refs)
}

/// The word list, then the words of the paper's prompt (for any caption) as written.
fn words() -> Vec<String> {
    let mut words: Vec<String> = tokenizers::WORDS.iter().map(|w| w.to_string()).collect();
    let text = prompt::paper_prompt("a painting").unwrap_or_default();
    words.extend(
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(String::from),
    );
    words
}

/// falcon-rw-1b's `config.json` with the sizes shrunk.
fn config(vocab_size: usize) -> Value {
    let published: Value = serde_json::from_str(include_str!("../../presets/falcon-rw-1b.json"))
        .expect("the compiled-in falcon-rw-1b config parses");
    with_changes(
        published,
        &json!({
            "_name_or_path": "ekphrasis models tiny",
            "hidden_size": 32, "num_attention_heads": 4, "num_kv_heads": 4,
            "num_hidden_layers": 2, "vocab_size": vocab_size
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use ::tokenizers::Tokenizer;

    use super::*;

    #[test]
    fn every_word_of_the_paper_prompt_is_one_token() {
        let words = words();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let file = tokenizers::gpt2_bpe(&refs);
        let tokenizer = Tokenizer::from_str(&file.json.to_string()).unwrap();
        let text = prompt::paper_prompt("a sad painting of the sea").unwrap();
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let encoding = tokenizer.encode(format!(" {word}"), false).unwrap();
            assert_eq!(encoding.len(), 1, "{word}: {:?}", encoding.get_tokens());
        }
        assert_eq!(
            config(file.vocab_size.next_multiple_of(64))["vocab_size"]
                .as_u64()
                .unwrap()
                % 64,
            0
        );
    }
}
