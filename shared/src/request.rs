//! A `Generate` request as a client sends it, and its resolution into checked, defaulted
//! [`Settings`]: every value the pipeline sees is in range, and every out-of-range value is
//! refused with an error naming its field.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::domain::Variant;
use crate::ids::ImageRef;

/// What a client asks for; everything but the image is optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The painting: an uploaded image or a gallery item.
    pub image: ImageRef,
    /// Which text feeds MusicGen (and which weights); defaults to [`Variant::Lyrical`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    /// Length of the music in seconds, 1 to 120; defaults to 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f32>,
    /// Sampling seed: the same seed and settings give the same music. Chosen by the server when
    /// absent. At most 2^53 − 1, so that JavaScript numbers carry it exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Sample among the k most likely audio tokens, 1 to 2048; defaults to 250.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Sampling temperature, 0.05 to 5; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Classifier-free guidance scale, 1 (none) to 10; defaults to 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<f32>,
    /// A musical description the person wrote or edited, used instead of the language model's
    /// (lyrical and optimized variants): 1 to 1000 characters after trimming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl GenerateRequest {
    /// A request for an image with every setting left to its default.
    pub fn new(image: ImageRef) -> Self {
        Self {
            image,
            variant: None,
            seconds: None,
            seed: None,
            top_k: None,
            temperature: None,
            guidance: None,
            description: None,
        }
    }

    /// Checks every field and fills in defaults; `pick_seed` supplies a seed when none was given.
    pub fn resolve(&self, pick_seed: impl FnOnce() -> u64) -> Result<Settings, RequestError> {
        let seconds = check_f32("seconds", self.seconds, Settings::SECONDS, 15.0)?;
        let temperature = check_f32("temperature", self.temperature, Settings::TEMPERATURE, 1.0)?;
        let guidance = check_f32("guidance", self.guidance, Settings::GUIDANCE, 3.0)?;
        let top_k = self.top_k.unwrap_or(250);
        if !Settings::TOP_K.contains(&top_k) {
            return Err(RequestError::out_of_range("top_k", top_k, &Settings::TOP_K));
        }
        let seed = match self.seed {
            Some(seed) if seed > Settings::MAX_SEED => {
                return Err(RequestError::out_of_range(
                    "seed",
                    seed,
                    &(0..=Settings::MAX_SEED),
                ));
            }
            Some(seed) => seed,
            None => pick_seed() & Settings::MAX_SEED,
        };
        let description = match self.description.as_deref().map(str::trim) {
            None => None,
            Some("") => {
                return Err(RequestError {
                    field: "description",
                    message: "is empty".into(),
                });
            }
            Some(text) if text.chars().count() > Settings::MAX_DESCRIPTION_CHARS => {
                return Err(RequestError {
                    field: "description",
                    message: format!(
                        "is longer than {} characters",
                        Settings::MAX_DESCRIPTION_CHARS
                    ),
                });
            }
            Some(text) => Some(text.to_owned()),
        };
        Ok(Settings {
            image: self.image.clone(),
            variant: self.variant.unwrap_or_default(),
            seconds: quantise_to_frames(seconds),
            seed,
            top_k,
            temperature,
            guidance,
            description,
        })
    }
}

/// A request after [`GenerateRequest::resolve`]: complete and within every range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub image: ImageRef,
    pub variant: Variant,
    /// Seconds of music, a whole number of 20 ms audio frames.
    pub seconds: f32,
    pub seed: u64,
    pub top_k: u32,
    pub temperature: f32,
    pub guidance: f32,
    /// The person's own musical description (trimmed), when they gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Settings {
    /// Accepted lengths of music, in seconds.
    pub const SECONDS: RangeInclusive<f32> = 1.0..=120.0;
    /// Accepted top-k values (MusicGen has 2048 codes per codebook).
    pub const TOP_K: RangeInclusive<u32> = 1..=2048;
    /// Accepted temperatures.
    pub const TEMPERATURE: RangeInclusive<f32> = 0.05..=5.0;
    /// Accepted classifier-free guidance scales.
    pub const GUIDANCE: RangeInclusive<f32> = 1.0..=10.0;
    /// Largest seed: JavaScript's largest exact integer.
    pub const MAX_SEED: u64 = (1 << 53) - 1;
    /// Longest accepted description, in characters.
    pub const MAX_DESCRIPTION_CHARS: usize = 1000;
    /// MusicGen's EnCodec frames per second.
    pub const FRAMES_PER_SECOND: u32 = 50;

    /// Number of EnCodec frames to generate.
    pub fn frames(&self) -> u32 {
        (self.seconds * Self::FRAMES_PER_SECOND as f32).round() as u32
    }
}

fn quantise_to_frames(seconds: f32) -> f32 {
    let fps = Settings::FRAMES_PER_SECOND as f32;
    (seconds * fps).round() / fps
}

fn check_f32(
    field: &'static str,
    value: Option<f32>,
    range: RangeInclusive<f32>,
    default: f32,
) -> Result<f32, RequestError> {
    match value {
        None => Ok(default),
        Some(v) if v.is_finite() && range.contains(&v) => Ok(v),
        Some(v) => Err(RequestError::out_of_range(field, v, &range)),
    }
}

/// A request field whose value is refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    /// The field's name as it appears on the wire.
    pub field: &'static str,
    /// What is wrong, in plain words.
    pub message: String,
}

impl RequestError {
    fn out_of_range<T: std::fmt::Display>(
        field: &'static str,
        got: T,
        range: &RangeInclusive<T>,
    ) -> Self {
        Self {
            field,
            message: format!(
                "must be between {} and {}, got {got}",
                range.start(),
                range.end()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{GalleryId, ImageRef};

    fn request() -> GenerateRequest {
        GenerateRequest::new(ImageRef::Gallery(GalleryId::parse("sunflowers").unwrap()))
    }

    #[test]
    fn defaults_are_the_papers() {
        let settings = request().resolve(|| 42).unwrap();
        assert_eq!(settings.variant, Variant::Lyrical);
        assert_eq!(settings.seconds, 15.0);
        assert_eq!(settings.frames(), 750);
        assert_eq!(settings.seed, 42);
        assert_eq!(settings.top_k, 250);
        assert_eq!(settings.temperature, 1.0);
        assert_eq!(settings.guidance, 3.0);
    }

    #[test]
    fn given_values_are_kept_and_seconds_fall_on_frames() {
        let mut r = request();
        r.seconds = Some(2.009);
        r.seed = Some(7);
        r.top_k = Some(1);
        r.guidance = Some(1.0);
        let settings = r.resolve(|| unreachable!("a seed was given")).unwrap();
        assert_eq!(settings.seconds, 2.0);
        assert_eq!(settings.frames(), 100);
        assert_eq!(settings.seed, 7);
        assert_eq!(settings.top_k, 1);
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        type Change = fn(&mut GenerateRequest);
        let cases: [(Change, &str); 9] = [
            (|r| r.seconds = Some(0.5), "seconds"),
            (|r| r.seconds = Some(121.0), "seconds"),
            (|r| r.seconds = Some(f32::NAN), "seconds"),
            (|r| r.top_k = Some(0), "top_k"),
            (|r| r.top_k = Some(4096), "top_k"),
            (|r| r.temperature = Some(0.0), "temperature"),
            (|r| r.guidance = Some(f32::INFINITY), "guidance"),
            (|r| r.seed = Some(u64::MAX), "seed"),
            (|r| r.description = Some("  ".into()), "description"),
        ];
        for (change, field) in cases {
            let mut r = request();
            change(&mut r);
            let err = r.resolve(|| 1).unwrap_err();
            assert_eq!(err.field, field);
            assert!(err.to_string().starts_with(field), "{err}");
        }
    }

    #[test]
    fn picked_seeds_fit_javascript_numbers() {
        let settings = request().resolve(|| u64::MAX).unwrap();
        assert_eq!(settings.seed, Settings::MAX_SEED);
    }
}
