//! Small tokenizer.json files in the real tokenizers' formats, written from an explicit
//! vocabulary (never trained, so the same on every run): enough words of paintings, feelings and
//! music to tokenise what the product sends, with single characters to spell anything else.
//! T5's SentencePiece Unigram is here; [`bpe`] has CLIP's and GPT-2's byte-level BPE and
//! [`wordpiece`] BERT's WordPiece.

pub mod bpe;
pub mod wordpiece;

pub use bpe::{clip_bpe, gpt2_bpe};
pub use wordpiece::bert_wordpiece;

use serde_json::{Value, json};

/// A tokenizer.json value and the number of ids it uses (its added tokens included).
#[derive(Debug, Clone)]
pub struct TokenizerFile {
    /// The file's content.
    pub json: Value,
    /// Every id is below this.
    pub vocab_size: usize,
}

/// Words that get a piece of their own.
pub const WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "and",
    "with",
    "in",
    "on",
    "at",
    "by",
    "to",
    "for",
    "is",
    "painting",
    "picture",
    "portrait",
    "landscape",
    "sky",
    "sea",
    "tree",
    "trees",
    "flowers",
    "woman",
    "man",
    "people",
    "house",
    "river",
    "night",
    "sun",
    "light",
    "dark",
    "blue",
    "red",
    "green",
    "yellow",
    "happy",
    "angry",
    "sad",
    "fun",
    "neutral",
    "calm",
    "gentle",
    "bright",
    "slow",
    "fast",
    "music",
    "song",
    "melody",
    "piano",
    "strings",
    "guitar",
    "drums",
    "violin",
    "tempo",
    "mood",
    "genre",
    "ambient",
    "classical",
    "jazz",
    "folk",
    "soft",
    "warm",
    "cheerful",
    "melancholic",
    "upbeat",
    "bpm",
    "theme",
    "playful",
    "peaceful",
    "that",
    "feels",
    "feel",
    "like",
    "from",
    "this",
    "it",
    "as",
    "quiet",
    "dreamy",
    "lively",
    "mysterious",
    "orchestral",
    "sailor",
    "hat",
    "sitting",
    "table",
    "boat",
    "city",
    "mountains",
    "field",
    "garden",
    "rain",
    "storm",
    "cello",
    "flute",
    "synth",
    "beat",
];

/// Characters every text can fall back to.
const CHARACTERS: &str = "abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"-()";

/// The number of ids [`t5_unigram`] uses.
pub fn t5_vocab_size() -> usize {
    t5_pieces().len()
}

fn t5_pieces() -> Vec<(String, f64)> {
    let mut pieces: Vec<(String, f64)> = ["<pad>", "</s>", "<unk>"]
        .iter()
        .map(|s| (s.to_string(), 0.0))
        .collect();
    pieces.push(("▁".into(), -4.0));
    pieces.extend(WORDS.iter().map(|w| (format!("▁{w}"), -6.0)));
    pieces.extend(CHARACTERS.chars().map(|c| (c.to_string(), -9.0)));
    pieces
}

/// An `added_tokens` entry for a special token, as the published files write one.
fn added_token(id: usize, content: &str) -> Value {
    json!({
        "id": id, "content": content, "single_word": false, "lstrip": false,
        "rstrip": false, "normalized": false, "special": true
    })
}

/// A T5-style tokenizer (SentencePiece Unigram, `▁` word marks, `</s>` appended), as
/// musicgen-small's `tokenizer.json` is laid out: `<pad>` 0, `</s>` 1, `<unk>` 2.
pub fn t5_unigram() -> Value {
    let metaspace =
        json!({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true});
    let vocab: Vec<Value> = t5_pieces()
        .into_iter()
        .map(|(p, s)| json!([p, s]))
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [added_token(0, "<pad>"), added_token(1, "</s>"), added_token(2, "<unk>")],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [
                {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}
            ],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": 2, "vocab": vocab, "byte_fallback": false}
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tokenizers::Tokenizer;

    use super::*;

    #[test]
    fn t5_tokenizer_keeps_words_whole_spells_the_rest_and_ends_with_eos() {
        let tokenizer = Tokenizer::from_str(&t5_unigram().to_string()).unwrap();
        let encoding = tokenizer.encode("A sad Painting, xyz", true).unwrap();
        let tokens = encoding.get_tokens();
        assert_eq!(tokens[..3], ["▁a", "▁sad", "▁painting"]);
        assert!(tokens.contains(&"x".to_string()));
        assert_eq!(*encoding.get_ids().last().unwrap(), 1);
        assert!(
            encoding
                .get_ids()
                .iter()
                .all(|&id| (id as usize) < t5_vocab_size())
        );
        assert!(
            !encoding.get_ids()[..encoding.len() - 1].contains(&2),
            "no unknowns"
        );
    }
}
