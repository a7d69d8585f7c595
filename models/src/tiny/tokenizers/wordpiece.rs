//! A BERT WordPiece tokenizer.json as `bert-base-uncased` (and so BLIP) publishes it, from an
//! explicit vocabulary: the special tokens at bert-base-uncased's ids (`[PAD]` 0, `[unused0]` …
//! `[unused98]` 1–99, `[UNK]` 100, `[CLS]` 101, `[SEP]` 102, `[MASK]` 103), single characters,
//! their `##` continuations, then whole words.

use serde_json::{Value, json};

use super::{CHARACTERS, TokenizerFile, added_token};

/// The vocabulary in id order.
fn vocabulary(words: &[&str]) -> Vec<String> {
    let mut vocab = vec!["[PAD]".to_string()];
    vocab.extend((0..99).map(|i| format!("[unused{i}]")));
    vocab.extend(["[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(String::from));
    vocab.extend(CHARACTERS.chars().map(String::from));
    vocab.extend(
        CHARACTERS
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| format!("##{c}")),
    );
    for word in words {
        let word = word.to_lowercase();
        if !vocab.contains(&word) {
            vocab.push(word);
        }
    }
    vocab
}

/// BERT's uncased WordPiece: BERT normaliser (lowercase), BERT pre-tokenizer, `[CLS] … [SEP]`
/// around a text, `[UNK]` for what cannot be spelt.
pub fn bert_wordpiece(words: &[&str]) -> TokenizerFile {
    let vocab = vocabulary(words);
    let ids: serde_json::Map<String, Value> = vocab
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), json!(id)))
        .collect();
    let special = |name: &str| json!({"id": name, "ids": [vocab.iter().position(|t| t == name)], "tokens": [name]});
    let piece = |kind: &str, id: &str, type_id: u32| json!({kind: {"id": id, "type_id": type_id}});
    let json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
            added_token(0, "[PAD]"), added_token(100, "[UNK]"), added_token(101, "[CLS]"),
            added_token(102, "[SEP]"), added_token(103, "[MASK]")
        ],
        "normalizer": {
            "type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                piece("SpecialToken", "[CLS]", 0), piece("Sequence", "A", 0),
                piece("SpecialToken", "[SEP]", 0)
            ],
            "pair": [
                piece("SpecialToken", "[CLS]", 0), piece("Sequence", "A", 0),
                piece("SpecialToken", "[SEP]", 0), piece("Sequence", "B", 1),
                piece("SpecialToken", "[SEP]", 1)
            ],
            "special_tokens": {"[CLS]": special("[CLS]"), "[SEP]": special("[SEP]")}
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {
            "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": Value::Object(ids)
        }
    });
    TokenizerFile {
        json,
        vocab_size: vocab.len(),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tokenizers::Tokenizer;

    use super::*;
    use crate::tiny::tokenizers::WORDS;

    #[test]
    fn bert_ids_words_and_spelling() {
        let file = bert_wordpiece(WORDS);
        let tokenizer = Tokenizer::from_str(&file.json.to_string()).unwrap();
        assert_eq!(tokenizer.get_vocab_size(true), file.vocab_size);
        let encoding = tokenizer.encode("A sad Painting of", true).unwrap();
        assert_eq!(
            encoding.get_tokens(),
            ["[CLS]", "a", "sad", "painting", "of", "[SEP]"]
        );
        assert_eq!(encoding.get_ids()[0], 101);
        assert_eq!(*encoding.get_ids().last().unwrap(), 102);
        assert_eq!(tokenizer.token_to_id("[PAD]"), Some(0));
        assert_eq!(tokenizer.token_to_id("[UNK]"), Some(100));
        let spelt = tokenizer.encode("zqx, 42", false).unwrap();
        assert_eq!(spelt.get_tokens(), ["z", "##q", "##x", ",", "4", "##2"]);
        assert_eq!(tokenizer.decode(spelt.get_ids(), true).unwrap(), "zqx, 42");
    }
}
