//! Flag values several commands read the same way: a variant and an emotion, by name.

use ekphrasis_shared::domain::Emotion;

/// A variant by its name, as `serve --variants` reads it.
pub use crate::config::flags::parse_variant;

/// An emotion by its name, in any case and with spaces around it.
pub fn parse_emotion(text: &str) -> Result<Emotion, String> {
    Emotion::ALL
        .into_iter()
        .find(|e| e.as_str().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = Emotion::ALL.iter().map(|e| e.as_str()).collect();
            format!("unknown emotion `{text}`: use one of {}", names.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ekphrasis_shared::domain::Variant;

    #[test]
    fn emotions_are_read_in_any_case_and_others_named() {
        assert_eq!(parse_emotion("Happy"), Ok(Emotion::Happy));
        assert_eq!(parse_emotion(" sad "), Ok(Emotion::Sad));
        assert_eq!(parse_emotion(" neutral "), Ok(Emotion::Neutral));
        let err = parse_emotion("melancholy").unwrap_err();
        assert!(err.contains("melancholy"), "{err}");
        assert!(err.contains("happy, angry, sad, fun, neutral"), "{err}");
    }

    #[test]
    fn variants_are_read_by_name_and_others_named() {
        for variant in Variant::ALL {
            assert_eq!(parse_variant(variant.as_str()), Ok(variant));
        }
        let err = parse_variant("baroque").unwrap_err();
        assert!(err.contains("baroque") && err.contains("lyrical"), "{err}");
    }
}
