//! The paper's prompt for the musical description (Table I) and the cleaning of what the model
//! writes back.
//!
//! Table I gives Falcon-RW-1B three parts: a system message, an instruction, and the response
//! the model writes. The prompt is those parts in turn, each after its role label:
//!
//! ```text
//! System Message: You are an enhanced description generator. You will be given with image description and you have to enhance those in musical terms.
//! Instruction: Generate a musical theme description for the following image description: "{caption}". Include details like mood, genre, tempo, and melody in 2 lines.
//! Response:
//! ```
//!
//! The template has no slot for the emotion: in the paper the caption already carries it (BLIP is
//! conditioned on the emotion, e.g. "sad man in a sailor's hat sitting at a table"), so the
//! emotion enters through the caption, as in the paper. It is used here only to build the
//! fallback description.
//!
//! The caption is put on one line (whitespace runs become one space, double quotes become single
//! ones so the quoted caption stays one quotation) and cut at a word boundary after
//! [`MAX_CAPTION_CHARS`] characters.

use ekphrasis_shared::domain::Emotion;

use crate::error::{Error, Result};

/// The system message of the paper's Table I, word for word.
pub const SYSTEM_MESSAGE: &str = "You are an enhanced description generator. You will be given \
                                  with image description and you have to enhance those in \
                                  musical terms.";

/// The longest caption the prompt takes, in characters; a longer one is cut at a word boundary.
pub const MAX_CAPTION_CHARS: usize = 300;

/// Role labels that start a new turn: the model writing one has finished its answer.
const ROLE_LABELS: [&str; 8] = [
    "system message:",
    "system:",
    "instruction:",
    "response:",
    "user:",
    "assistant:",
    "image description:",
    "###",
];

/// A musical description and how it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// At most two non-empty lines.
    pub text: String,
    /// The ids the model generated (eos included when generated), even when `fallback` is true.
    pub token_ids: Vec<u32>,
    /// True when the model's output was unusable and `text` was built from the emotion and the
    /// caption instead.
    pub fallback: bool,
}

/// The caption as the prompt quotes it: one line, no double quotes, at most
/// [`MAX_CAPTION_CHARS`] characters (cut at a word boundary). Refuses an empty caption.
pub fn prompt_caption(caption: &str) -> Result<String> {
    let words: Vec<&str> = caption.split_whitespace().collect();
    if words.is_empty() {
        return Err(Error::Input("the caption is empty".into()));
    }
    let mut out = String::new();
    for word in words {
        let word = word.replace('"', "'");
        let extra = usize::from(!out.is_empty()) + word.chars().count();
        if out.chars().count() + extra > MAX_CAPTION_CHARS {
            if out.is_empty() {
                out = word.chars().take(MAX_CAPTION_CHARS).collect();
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    Ok(out)
}

/// The paper's prompt (Table I) for a caption; see the module documentation.
pub fn paper_prompt(caption: &str) -> Result<String> {
    let caption = prompt_caption(caption)?;
    Ok(format!(
        "System Message: {SYSTEM_MESSAGE}\nInstruction: Generate a musical theme description for \
         the following image description: \"{caption}\". Include details like mood, genre, \
         tempo, and melody in 2 lines.\nResponse:"
    ))
}

/// The model's answer cleaned to at most two non-empty lines, or `None` when nothing usable is
/// left. Cleaning: the answer ends where the model starts a new turn (a role label such as
/// `Instruction:` at the start of a line); lines that echo the prompt are dropped; a leading
/// `Response:`/`Description:` label and surrounding quotes are stripped; a last line cut off
/// mid-sentence (the token budget ran out) is cut back to its last full sentence when it has
/// one. Degenerate text (see [`is_degenerate`]) gives `None`.
pub fn clean_description(raw: &str, caption: &str) -> Option<String> {
    let (mut lines, _) = answer_lines(raw, caption);
    if let Some(last) = lines.last_mut()
        && !ends_sentence(last)
        && let Some(cut) = last_sentence_end(last)
    {
        last.truncate(cut);
    }
    let text = lines.join("\n");
    (!is_degenerate(&text)).then_some(text)
}

/// Whether the generated text already settles the cleaned answer: its finished lines (those
/// followed by a line break) give two answer lines, or the model has started a new turn after
/// at least one. Generation can stop there.
pub fn answer_is_complete(raw: &str, caption: &str) -> bool {
    let Some(end) = raw.rfind('\n') else {
        return false;
    };
    let (lines, new_turn) = answer_lines(&raw[..end], caption);
    lines.len() == 2 || (new_turn && !lines.is_empty())
}

/// The answer's first (at most) two lines after cleaning, and whether a new turn ended it.
fn answer_lines(raw: &str, caption: &str) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    for line in raw.lines() {
        let line = line.trim();
        if line.is_empty() || echoes_prompt(&line.to_lowercase(), caption) {
            continue;
        }
        let line = strip_label(line).trim_matches(|c: char| c == '"' || c.is_whitespace());
        if line.is_empty() {
            continue;
        }
        if starts_new_turn(&line.to_lowercase()) {
            return (lines, true);
        }
        lines.push(line.to_string());
        if lines.len() == 2 {
            break;
        }
    }
    (lines, false)
}

/// Text that cannot serve as a description: fewer than 12 letters or 3 words, one word making up
/// more than 40% of 6 or more, a word repeated 4 times in a row, or few distinct words in a long
/// text.
pub fn is_degenerate(text: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if letters < 12 || words.len() < 3 {
        return true;
    }
    let mut counts = std::collections::HashMap::new();
    for word in &words {
        *counts.entry(word.as_str()).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    if words.len() >= 6 && most * 5 > words.len() * 2 {
        return true;
    }
    if words.windows(4).any(|w| w.iter().all(|x| *x == w[0])) {
        return true;
    }
    words.len() >= 12 && counts.len() * 10 < words.len() * 3
}

/// A two-line description built from the emotion and the caption, for when the model's answer
/// is unusable.
pub fn fallback_description(emotion: Emotion, caption: &str) -> String {
    let (mood, genre, tempo, melody) = match emotion {
        Emotion::Happy => (
            "joyful, bright",
            "upbeat pop",
            "A lively tempo around 120 BPM",
            "a bouncy major-key melody on piano and acoustic guitar",
        ),
        Emotion::Angry => (
            "intense, aggressive",
            "hard rock",
            "A fast tempo around 150 BPM",
            "driving distorted guitar riffs over pounding drums",
        ),
        Emotion::Sad => (
            "melancholic, sorrowful",
            "slow piano ballad",
            "A slow tempo around 60 BPM",
            "a soft minor-key melody carried by strings",
        ),
        Emotion::Fun => (
            "playful, cheerful",
            "funky swing",
            "A bouncy tempo around 110 BPM",
            "a catchy melody traded between brass and clarinet",
        ),
        Emotion::Neutral => (
            "calm, balanced",
            "ambient",
            "A moderate tempo around 90 BPM",
            "a gentle, steady melody over soft pads",
        ),
    };
    let caption = prompt_caption(caption).unwrap_or_else(|_| "the painting".into());
    format!("A {mood} {genre} piece inspired by {caption}.\n{tempo}, with {melody}.")
}

fn starts_new_turn(lower: &str) -> bool {
    ROLE_LABELS.iter().any(|label| lower.starts_with(label))
}

fn echoes_prompt(lower: &str, caption: &str) -> bool {
    let system = SYSTEM_MESSAGE.to_lowercase();
    lower.contains("generate a musical theme description")
        || lower.contains("include details like mood")
        || (lower.len() > 20 && system.contains(lower))
        || lower.contains(&system[..40])
        || (lower.len() > 20 && lower == caption.trim().to_lowercase())
}

fn strip_label(line: &str) -> &str {
    for label in ["response:", "description:", "answer:", "output:"] {
        if line.len() >= label.len()
            && line.is_char_boundary(label.len())
            && line[..label.len()].eq_ignore_ascii_case(label)
        {
            return line[label.len()..].trim_start();
        }
    }
    line
}

fn ends_sentence(line: &str) -> bool {
    line.trim_end_matches(['"', '\'', ')', '*'])
        .ends_with(['.', '!', '?', '…'])
}

/// The byte index just after the last sentence end followed by more text, if any.
fn last_sentence_end(line: &str) -> Option<usize> {
    line.char_indices()
        .filter(|(i, c)| {
            matches!(c, '.' | '!' | '?' | '…')
                && line[i + c.len_utf8()..].starts_with(char::is_whitespace)
        })
        .map(|(i, c)| i + c.len_utf8())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_quotes_the_caption_in_the_papers_words() {
        let prompt = paper_prompt("sad man in a sailor's hat sitting at a table").unwrap();
        assert!(prompt.starts_with("System Message: You are an enhanced description generator."));
        assert!(prompt.contains(
            "image description: \"sad man in a sailor's hat sitting at a table\". Include details \
             like mood, genre, tempo, and melody in 2 lines.\nResponse:"
        ));
        assert!(prompt.ends_with("Response:"));
    }

    #[test]
    fn captions_are_one_line_without_double_quotes_and_bounded() {
        assert_eq!(
            prompt_caption("  a \"sad\"\n painting\tof  a boat ").unwrap(),
            "a 'sad' painting of a boat"
        );
        assert!(matches!(prompt_caption(" \n "), Err(Error::Input(_))));
        let long = "word ".repeat(200);
        let cut = prompt_caption(&long).unwrap();
        assert!(
            cut.len() <= MAX_CAPTION_CHARS && cut.ends_with("word"),
            "{cut}"
        );
        let one = "x".repeat(400);
        assert_eq!(prompt_caption(&one).unwrap().len(), MAX_CAPTION_CHARS);
    }

    #[test]
    fn cleaning_keeps_two_lines_and_drops_echoes_labels_and_new_turns() {
        let raw = " \"A melancholic piano ballad in a minor key.\"\n\nSlow tempo, around 60 BPM, \
                   with a lingering melody.\nInstruction: Generate a musical theme";
        assert_eq!(
            clean_description(raw, "a sad man").unwrap(),
            "A melancholic piano ballad in a minor key.\nSlow tempo, around 60 BPM, with a \
             lingering melody."
        );
        let echo = " Generate a musical theme description for the following image description: \
                    \"x\".\nResponse: A calm ambient piece with soft pads and a gentle pulse.";
        assert_eq!(
            clean_description(echo, "x").unwrap(),
            "A calm ambient piece with soft pads and a gentle pulse."
        );
        let cut = " A bright pop song with a bouncy rhythm. Fast tempo with a catchy";
        assert_eq!(
            clean_description(cut, "x").unwrap(),
            "A bright pop song with a bouncy rhythm."
        );
    }

    #[test]
    fn degenerate_output_is_refused() {
        for raw in [
            "",
            "\n\n",
            "123 456 !!!",
            " the the the the the the",
            " music music music music and more",
            "ok fine",
            "Instruction: nothing",
        ] {
            assert_eq!(clean_description(raw, "x"), None, "{raw:?}");
        }
    }

    #[test]
    fn fallbacks_name_the_caption_in_two_lines_for_every_emotion() {
        for emotion in Emotion::ALL {
            let text = fallback_description(emotion, "a \"quiet\" harbour at dusk");
            assert_eq!(text.lines().count(), 2, "{text}");
            assert!(text.contains("a 'quiet' harbour at dusk"), "{text}");
            assert!(!is_degenerate(&text), "{text}");
        }
    }

    #[test]
    fn an_answer_is_complete_after_two_finished_lines_or_a_new_turn() {
        let done = |raw| answer_is_complete(raw, "a sad man");
        assert!(!done(" A slow ballad.\nWith strings"));
        assert!(done(" A slow ballad.\nWith strings.\n"));
        assert!(done(" A slow ballad.\nInstruction: more\n"));
        assert!(!done("\n\n A slow ballad."));
        // An echo of the prompt is not a line of the answer.
        assert!(!done(
            " Include details like mood, genre.\nA slow ballad.\n"
        ));
        assert!(!done("Instruction: more\n"));
    }
}
