//! Identifiers: uploaded images (content hashes), gallery items, jobs and tracks.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An uploaded image: the SHA-256 of its bytes as 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageId(String);

impl ImageId {
    /// Length of the hex text.
    pub const LEN: usize = 64;

    /// Wraps a hex digest, refusing anything but 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let ok = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::Image)
        }
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A gallery item: a short slug of lowercase letters, digits and dashes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GalleryId(String);

impl GalleryId {
    /// Longest slug accepted.
    pub const MAX_LEN: usize = 64;

    /// Wraps a slug, refusing empty, long or non-slug text.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let ok = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::Gallery)
        }
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A finished track: a random 128-bit value as 22 characters of URL-safe base64 (no padding).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackId(String);

impl TrackId {
    /// Length of the text form.
    pub const LEN: usize = 22;

    /// Where the server serves the track's WAV: `/api/tracks/{id}/audio.wav`.
    pub fn wav_path(&self) -> String {
        format!("/api/tracks/{self}/audio.wav")
    }

    /// Where the server serves the track's Ogg Vorbis: `/api/tracks/{id}/audio.ogg`.
    pub fn ogg_path(&self) -> String {
        format!("/api/tracks/{self}/audio.ogg")
    }

    const ALPHABET: &'static [u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// The text form of 128 random bits.
    pub fn from_bits(bits: u128) -> Self {
        // 22 six-bit digits hold 132 bits; the first digit carries only the top 2 bits.
        let text = (0..Self::LEN)
            .rev()
            .map(|i| {
                let digit = (bits >> (6 * i)) & 0x3f;
                char::from(Self::ALPHABET[digit as usize])
            })
            .collect();
        Self(text)
    }

    /// Wraps text, refusing anything that is not 22 URL-safe base64 characters.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let ok = text.len() == Self::LEN
            && text.bytes().all(|b| Self::ALPHABET.contains(&b))
            && Self::ALPHABET[..4].contains(&text.as_bytes()[0]);
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::Track)
        }
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A job on the server's queue, unique within one server run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub u64);

/// Which image a `Generate` request is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageRef {
    /// An image uploaded through `POST /api/images`.
    Upload(ImageId),
    /// An item of the server's gallery.
    Gallery(GalleryId),
}

/// Why a piece of text is not a valid identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an image id is 64 lowercase hexadecimal digits (the SHA-256 of the image)")]
    Image,
    #[error("a gallery id is 1 to 64 lowercase letters, digits or dashes")]
    Gallery,
    #[error("a track id is 22 URL-safe base64 characters")]
    Track,
}

macro_rules! text_id {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                Self::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

text_id!(ImageId, GalleryId, TrackId);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_id_text_round_trips_and_is_url_safe() {
        for bits in [
            0u128,
            1,
            u128::MAX,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ] {
            let id = TrackId::from_bits(bits);
            assert_eq!(id.as_str().len(), TrackId::LEN);
            assert_eq!(TrackId::parse(id.as_str()), Ok(id.clone()));
        }
        assert_eq!(TrackId::from_bits(0).as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(
            TrackId::from_bits(u128::MAX).as_str(),
            "D_____________________"
        );
        assert_ne!(TrackId::from_bits(1), TrackId::from_bits(2));
    }

    #[test]
    fn ids_refuse_malformed_text() {
        assert!(ImageId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(ImageId::parse(&"A".repeat(64)), Err(IdError::Image));
        assert_eq!(ImageId::parse("abc"), Err(IdError::Image));
        assert_eq!(GalleryId::parse(""), Err(IdError::Gallery));
        assert_eq!(GalleryId::parse("../etc"), Err(IdError::Gallery));
        assert!(GalleryId::parse("starry-night-1889").is_ok());
        // 22 characters whose first digit would carry more than 128 bits.
        assert_eq!(
            TrackId::parse("E_____________________"),
            Err(IdError::Track)
        );
        assert_eq!(TrackId::parse("short"), Err(IdError::Track));
    }

    #[test]
    fn image_ref_is_externally_tagged() {
        let r = ImageRef::Gallery(GalleryId::parse("sunflowers").unwrap());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"gallery":"sunflowers"}"#
        );
        let back: ImageRef = serde_json::from_str(r#"{"gallery":"sunflowers"}"#).unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<ImageRef>(r#"{"upload":"nothex"}"#).is_err());
    }
}
