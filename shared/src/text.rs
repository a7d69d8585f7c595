//! Text from a model or a person, made safe to store and show: control characters dropped (tabs
//! become spaces, line breaks stay), and the invisible characters that reorder or hide what
//! follows them (bidirectional embeddings, overrides and isolates; the byte-order mark) removed.
//! Right-to-left and left-to-right marks stay: they shape real text without hiding any.

/// `text` without control characters or bidirectional overrides; `\r\n`, `\r` and the Unicode
/// line and paragraph separators become `\n`, tabs become spaces.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\t' => out.push(' '),
            c if hides_text(c) || c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Whether `text` is already [`plain`].
pub fn is_plain(text: &str) -> bool {
    !text.chars().any(|c| {
        (c.is_control() && c != '\n') || hides_text(c) || matches!(c, '\u{2028}' | '\u{2029}')
    })
}

/// Characters that change how the text after them is ordered or shown.
fn hides_text(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_go_and_the_rest_stays() {
        let hostile =
            "a\u{0}b\u{7}c\td\r\ne\rf\u{1b}[31mg\u{202E}h\u{2067}i\u{2069}\u{feff}j\u{85}k";
        assert_eq!(plain(hostile), "abc d\ne\nf[31mghijk");
        assert!(is_plain(&plain(hostile)));
        assert!(!is_plain(hostile));
        let kept = "مرحبا \u{200F}— a sad man 🎻 <b>&amp;</b>\nline two";
        assert_eq!(plain(kept), kept);
        assert!(is_plain(kept));
    }
}
