//! Byte-level BPE tokenizer.json files as CLIP and GPT-2 (Falcon-RW) publish them, from an
//! explicit word list: the vocabulary is the 256 byte symbols (and, for CLIP, each with the
//! `</w>` end-of-word mark), then the merges that build every listed word, in order. The merges
//! are chosen by running BPE itself over each word with the merges so far and joining what it
//! leaves, so every listed word comes out as one token and anything else is spelt in bytes.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::{TokenizerFile, added_token};

/// GPT-2's printable stand-ins for the 256 bytes, in its vocabulary order: the printable bytes
/// map to themselves, the others (space, control bytes …) to characters from U+0100 on
/// (space is `Ġ`, newline `Ċ`). Returns `(byte, symbol)` pairs.
pub fn byte_symbols() -> Vec<(u8, char)> {
    let printable = |b: u8| matches!(b, 33..=126 | 161..=172 | 174..=255);
    let mut pairs: Vec<(u8, char)> = (0..=255u8)
        .filter(|&b| printable(b))
        .map(|b| (b, char::from(b)))
        .collect();
    let others = (0..=255u8).filter(|&b| !printable(b));
    for (code, b) in (256u32..).zip(others) {
        pairs.push((
            b,
            char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
        ));
    }
    pairs
}

/// A text's bytes as byte symbols.
fn symbols_of(text: &str) -> Vec<String> {
    let table: HashMap<u8, char> = byte_symbols().into_iter().collect();
    text.bytes()
        .map(|b| table.get(&b).copied().unwrap_or('?').to_string())
        .collect()
}

type Ranks = HashMap<(String, String), usize>;

/// BPE as the tokenizers library runs it: repeatedly join the leftmost occurrence of the pair
/// with the lowest rank, until no pair has one.
fn segment(symbols: &[String], ranks: &Ranks) -> Vec<String> {
    let mut pieces = symbols.to_vec();
    loop {
        let best = pieces
            .windows(2)
            .enumerate()
            .filter_map(|(i, w)| ranks.get(&(w[0].clone(), w[1].clone())).map(|&r| (r, i)))
            .min();
        let Some((_, i)) = best else {
            return pieces;
        };
        let right = pieces.remove(i + 1);
        pieces[i].push_str(&right);
    }
}

/// Merges that make each word (given as its starting symbols) one token, appended in order.
fn learn_merges(words: &[Vec<String>]) -> Vec<(String, String)> {
    let mut merges = Vec::new();
    let mut ranks = Ranks::new();
    for word in words {
        loop {
            let pieces = segment(word, &ranks);
            if pieces.len() < 2 {
                break;
            }
            let pair = (pieces[0].clone(), pieces[1].clone());
            ranks.insert(pair.clone(), merges.len());
            merges.push(pair);
        }
    }
    merges
}

/// The vocabulary: `base` symbols, then each merge's result not seen before, then `specials`.
fn vocabulary(base: Vec<String>, merges: &[(String, String)], specials: &[&str]) -> Vec<String> {
    let mut seen: BTreeSet<String> = base.iter().cloned().collect();
    let mut vocab = base;
    for (left, right) in merges {
        let joined = format!("{left}{right}");
        if seen.insert(joined.clone()) {
            vocab.push(joined);
        }
    }
    vocab.extend(specials.iter().map(|s| s.to_string()));
    vocab
}

fn vocab_json(vocab: &[String]) -> Value {
    let map: serde_json::Map<String, Value> = vocab
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), json!(id)))
        .collect();
    Value::Object(map)
}

fn merges_json(merges: &[(String, String)]) -> Value {
    merges
        .iter()
        .map(|(l, r)| json!(format!("{l} {r}")))
        .collect()
}

/// A CLIP tokenizer (`openai/clip-vit-base-patch32`'s layout): NFC, whitespace runs to one
/// space and lowercase; split into letter runs, digits and punctuation; byte-level BPE with `</w>`
/// ending each word; `<|startoftext|>` … `<|endoftext|>` around a text. As in the real file,
/// `<|endoftext|>` is the last and largest id (CLIP pools its text at the largest id) and is
/// also the unknown token.
pub fn clip_bpe(words: &[&str]) -> TokenizerFile {
    const MARK: &str = "</w>";
    let symbols: Vec<String> = byte_symbols().iter().map(|(_, c)| c.to_string()).collect();
    let mut base = symbols.clone();
    base.extend(symbols.iter().map(|s| format!("{s}{MARK}")));
    let starts: Vec<Vec<String>> = unique(words.iter().map(|w| w.to_lowercase()))
        .into_iter()
        .map(|w| {
            let mut s = symbols_of(&w);
            if let Some(last) = s.last_mut() {
                last.push_str(MARK);
            }
            s
        })
        .collect();
    let merges = learn_merges(&starts);
    let vocab = vocabulary(base, &merges, &["<|startoftext|>", "<|endoftext|>"]);
    let (sot, eot) = (vocab.len() - 2, vocab.len() - 1);
    let byte_level = json!({
        "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true
    });
    let mut start_token = added_token(sot, "<|startoftext|>");
    start_token["normalized"] = json!(true);
    let json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [start_token, added_token(eot, "<|endoftext|>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"}
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {
                "type": "Split",
                "pattern": {"Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
                "behavior": "Removed",
                "invert": true
            },
            byte_level
        ]},
        "post_processor": {
            "type": "RobertaProcessing",
            "sep": ["<|endoftext|>", eot],
            "cls": ["<|startoftext|>", sot],
            "trim_offsets": false,
            "add_prefix_space": false
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": "<|endoftext|>",
            "continuing_subword_prefix": "", "end_of_word_suffix": MARK, "fuse_unk": false,
            "byte_fallback": false, "vocab": vocab_json(&vocab), "merges": merges_json(&merges)
        }
    });
    TokenizerFile {
        json,
        vocab_size: vocab.len(),
    }
}

/// A GPT-2 tokenizer (`tiiuae/falcon-rw-1b`'s layout): byte-level BPE without normalisation,
/// each listed word both after a space (`Ġword`) and alone (at the start of a line), and
/// `<|endoftext|>` as the last id.
pub fn gpt2_bpe(words: &[&str]) -> TokenizerFile {
    let base: Vec<String> = byte_symbols().iter().map(|(_, c)| c.to_string()).collect();
    let forms = words.iter().flat_map(|w| [format!(" {w}"), w.to_string()]);
    let starts: Vec<Vec<String>> = unique(forms).iter().map(|w| symbols_of(w)).collect();
    let merges = learn_merges(&starts);
    let vocab = vocabulary(base, &merges, &["<|endoftext|>"]);
    let byte_level = |prefix: bool, trim: bool| json!({"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": trim, "use_regex": true});
    let json = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [added_token(vocab.len() - 1, "<|endoftext|>")],
        "normalizer": null,
        "pre_tokenizer": byte_level(false, true),
        "post_processor": byte_level(true, false),
        "decoder": byte_level(true, true),
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false,
            "vocab": vocab_json(&vocab), "merges": merges_json(&merges)
        }
    });
    TokenizerFile {
        json,
        vocab_size: vocab.len(),
    }
}

/// The items in first-seen order, each once.
fn unique(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .filter(|item| !item.is_empty() && seen.insert(item.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tokenizers::Tokenizer;

    use super::*;
    use crate::tiny::tokenizers::WORDS;

    fn load(file: &TokenizerFile) -> Tokenizer {
        Tokenizer::from_str(&file.json.to_string()).unwrap()
    }

    #[test]
    fn byte_symbols_are_gpt2s() {
        let symbols = byte_symbols();
        assert_eq!(symbols.len(), 256);
        assert_eq!(symbols[0], (b'!', '!'));
        let find = |b: u8| symbols.iter().position(|&(byte, _)| byte == b).unwrap();
        assert_eq!(symbols[find(b' ')].1, 'Ġ');
        assert_eq!(symbols[find(b'\n')].1, 'Ċ');
        assert_eq!(find(b' '), 220, "GPT-2's id of `Ġ`");
    }

    #[test]
    fn clip_keeps_words_whole_and_ends_with_the_largest_id() {
        let file = clip_bpe(WORDS);
        let tokenizer = load(&file);
        let encoding = tokenizer
            .encode("A  painting that feels SAD", true)
            .unwrap();
        assert_eq!(
            encoding.get_tokens(),
            [
                "<|startoftext|>",
                "a</w>",
                "painting</w>",
                "that</w>",
                "feels</w>",
                "sad</w>",
                "<|endoftext|>"
            ]
        );
        let ids = encoding.get_ids();
        assert_eq!(ids[ids.len() - 1] as usize, file.vocab_size - 1);
        assert_eq!(tokenizer.get_vocab_size(true), file.vocab_size);
        // unknown words are spelt, never the unknown token (which is `<|endoftext|>`)
        let spelt = tokenizer.encode("zqx 42!", true).unwrap();
        let eot = (file.vocab_size - 1) as u32;
        assert_eq!(spelt.get_ids().iter().filter(|&&id| id == eot).count(), 1);
        assert_eq!(spelt.get_tokens()[1..4], ["z", "q", "x</w>"]);
    }

    #[test]
    fn gpt2_keeps_words_whole_and_round_trips_any_text() {
        let file = gpt2_bpe(&["a", "of", "the", "painting", "System", "sea"]);
        let tokenizer = load(&file);
        let encoding = tokenizer
            .encode("System: a painting of the sea\n", false)
            .unwrap();
        assert_eq!(
            encoding.get_tokens()[..4],
            ["System", ":", "Ġa", "Ġpainting"]
        );
        let text = "Ünïcode \"quotes\" and\n\tcontrol";
        let ids = tokenizer.encode(text, false).unwrap().get_ids().to_vec();
        assert_eq!(tokenizer.decode(&ids, false).unwrap(), text);
        assert_eq!(
            tokenizer.token_to_id("<|endoftext|>"),
            Some(file.vocab_size as u32 - 1)
        );
        assert_eq!(tokenizer.get_vocab_size(true), file.vocab_size);
    }

    #[test]
    fn every_listed_word_is_one_token() {
        let clip = load(&clip_bpe(WORDS));
        let gpt2 = load(&gpt2_bpe(WORDS));
        for word in WORDS {
            let c = clip.encode(*word, false).unwrap();
            assert_eq!(c.get_tokens(), [format!("{word}</w>")], "CLIP {word}");
            let g = gpt2.encode(format!("the {word}"), false).unwrap();
            assert_eq!(
                g.get_tokens().len(),
                2,
                "GPT-2 {word}: {:?}",
                g.get_tokens()
            );
        }
    }
}
