//! HTTP range requests (RFC 9110 §14): reading a `Range: bytes=…` header against a file's size.
//! One range is served as asked; several ranges or an unreadable header get the whole file, as
//! the RFC allows.

use std::ops::Range;

/// What to send for a request's `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// The whole file (200).
    Whole,
    /// These bytes (206).
    Part(Range<u64>),
    /// Nothing of the file is in the range (416).
    Unsatisfiable,
}

/// Reads `header` (the `Range` value, if any) for a file of `size` bytes.
pub fn wanted(header: Option<&str>, size: u64) -> Wanted {
    // The unit is case-insensitive (RFC 9110 §14.1): `BYTES=0-9` asks for the same bytes.
    let Some(spec) = header.and_then(|h| {
        let h = h.trim();
        h.get(..6)
            .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
            .map(|_| &h[6..])
    }) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |text: &str| text.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parse(last) {
            Some(0) => Wanted::Unsatisfiable,
            Some(_) if size == 0 => Wanted::Unsatisfiable,
            Some(n) => Wanted::Part(size.saturating_sub(n)..size),
            None => Wanted::Whole,
        },
        // bytes=A- : from A to the end.
        (false, true) => match parse(first) {
            Some(a) if a < size => Wanted::Part(a..size),
            Some(_) => Wanted::Unsatisfiable,
            None => Wanted::Whole,
        },
        // bytes=A-B, B clamped to the end.
        (false, false) => match (parse(first), parse(last)) {
            (Some(a), Some(b)) if a > b => Wanted::Whole,
            (Some(a), Some(_)) if a >= size => Wanted::Unsatisfiable,
            (Some(a), Some(b)) => Wanted::Part(a..b.min(size - 1) + 1),
            _ => Wanted::Whole,
        },
        (true, true) => Wanted::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_the_rfc_says() {
        let cases: [(Option<&str>, Wanted); 14] = [
            (None, Wanted::Whole),
            (Some("bytes=0-0"), Wanted::Part(0..1)),
            (Some("bytes=0-99"), Wanted::Part(0..100)),
            (Some("bytes=10-"), Wanted::Part(10..100)),
            (Some("bytes=90-500"), Wanted::Part(90..100)),
            (Some("bytes=-10"), Wanted::Part(90..100)),
            (Some("bytes=-1000"), Wanted::Part(0..100)),
            (Some("bytes=100-"), Wanted::Unsatisfiable),
            (Some("bytes=-0"), Wanted::Unsatisfiable),
            (Some("bytes=0-1,5-6"), Wanted::Whole),
            (Some("bytes=5-2"), Wanted::Whole),
            (Some("items=0-1"), Wanted::Whole),
            (Some("BYTES=0-9"), Wanted::Part(0..10)),
            (Some("Bytes=-10"), Wanted::Part(90..100)),
        ];
        for (header, expected) in cases {
            assert_eq!(wanted(header, 100), expected, "{header:?}");
        }
        assert_eq!(wanted(Some("bytes=-5"), 0), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=x-"), 10), Wanted::Whole);
    }
}
