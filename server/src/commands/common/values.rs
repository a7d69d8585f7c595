//! Flag values several commands read the same way: a variant by name.

use ekphrasis_shared::domain::Variant;

/// A variant by its name (`emotive`, `narrative`, `lyrical`, `optimized`), for clap.
pub fn parse_variant(text: &str) -> Result<Variant, String> {
    Variant::ALL
        .into_iter()
        .find(|v| v.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<_> = Variant::ALL.iter().map(|v| v.as_str()).collect();
            format!("unknown variant `{text}`: choose {}", names.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_read_by_name_and_others_named() {
        for variant in Variant::ALL {
            assert_eq!(parse_variant(variant.as_str()), Ok(variant));
        }
        let err = parse_variant("baroque").unwrap_err();
        assert!(err.contains("baroque") && err.contains("lyrical"), "{err}");
    }
}
