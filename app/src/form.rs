//! The compose form's values as typed, and the `Generate` and `Describe` requests built from
//! them: every value is read and checked against the shared ranges before anything is sent.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

use ekphrasis_shared::{GenerateRequest, ImageRef, Settings, Variant};

/// What the person has chosen; number fields are kept as typed so that they can be corrected.
#[derive(Clone, Debug, PartialEq)]
pub struct ComposeForm {
    pub variant: Variant,
    /// The slider's value, in seconds.
    pub seconds: f32,
    /// Empty for a seed chosen by the server.
    pub seed: String,
    pub top_k: String,
    pub temperature: String,
    pub guidance: String,
    /// The musical description as the person edited it, once the painting has been read;
    /// `None` lets the language model write it while composing.
    pub description: Option<String>,
}

impl Default for ComposeForm {
    fn default() -> Self {
        Self {
            variant: Variant::default(),
            seconds: 15.0,
            seed: String::new(),
            top_k: "250".to_owned(),
            temperature: "1.0".to_owned(),
            guidance: "3.0".to_owned(),
            description: None,
        }
    }
}

/// Whether a variant composes from the musical description (so that the person's own is used).
pub fn uses_description(variant: Variant) -> bool {
    matches!(variant, Variant::Lyrical | Variant::Optimized)
}

/// A form value that cannot be sent, naming its field as the wire does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldProblem {
    pub field: &'static str,
    /// The whole sentence, starting with the field's label.
    pub message: String,
}

/// The checked values of the form, ready to go into a request.
struct Choices {
    seconds: f32,
    seed: Option<u64>,
    top_k: u32,
    temperature: f32,
    guidance: f32,
    description: Option<String>,
}

impl ComposeForm {
    /// The request for `image` with these settings, or the first value that is wrong.
    pub fn request(&self, image: ImageRef) -> Result<GenerateRequest, FieldProblem> {
        let choices = self.checked()?;
        Ok(GenerateRequest {
            image,
            variant: Some(self.variant),
            seconds: Some(choices.seconds),
            seed: choices.seed,
            top_k: Some(choices.top_k),
            temperature: Some(choices.temperature),
            guidance: Some(choices.guidance),
            description: choices.description,
        })
    }

    /// The request that reads the painting (emotion, caption, description) before composing:
    /// these settings, with a variant that writes a description.
    pub fn describe_request(&self, image: ImageRef) -> Result<GenerateRequest, FieldProblem> {
        let mut request = self.request(image)?;
        if !uses_description(self.variant) {
            request.variant = Some(Variant::Lyrical);
        }
        request.description = None;
        Ok(request)
    }

    /// A form holding `settings`, to make a piece again (the caller clears the seed for a new
    /// one).
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            variant: settings.variant,
            seconds: settings.seconds.round().clamp(1.0, 120.0),
            seed: settings.seed.to_string(),
            top_k: settings.top_k.to_string(),
            temperature: settings.temperature.to_string(),
            guidance: settings.guidance.to_string(),
            description: settings.description.clone(),
        }
    }

    /// The first value that cannot be sent, if any.
    pub fn problem(&self) -> Option<FieldProblem> {
        self.checked().err()
    }

    fn checked(&self) -> Result<Choices, FieldProblem> {
        let seconds = in_range("seconds", self.seconds, &Settings::SECONDS)?;
        let seed = match self.seed.trim() {
            "" => None,
            typed => Some(in_range(
                "seed",
                parse_whole("seed", typed)?,
                &(0..=Settings::MAX_SEED),
            )?),
        };
        let top_k = in_range(
            "top_k",
            parse_whole("top_k", &self.top_k)?,
            &Settings::TOP_K,
        )?;
        let temperature = in_range(
            "temperature",
            parse_decimal("temperature", &self.temperature)?,
            &Settings::TEMPERATURE,
        )?;
        let guidance = in_range(
            "guidance",
            parse_decimal("guidance", &self.guidance)?,
            &Settings::GUIDANCE,
        )?;
        let description = match self.description.as_deref().map(str::trim) {
            _ if !uses_description(self.variant) => None,
            None | Some("") => None,
            Some(text) if text.chars().count() > Settings::MAX_DESCRIPTION_CHARS => {
                return Err(FieldProblem {
                    field: "description",
                    message: format!(
                        "The description must be at most {} characters.",
                        Settings::MAX_DESCRIPTION_CHARS
                    ),
                });
            }
            Some(text) => Some(text.to_owned()),
        };
        Ok(Choices {
            seconds,
            seed,
            top_k,
            temperature,
            guidance,
            description,
        })
    }
}

/// The label the form shows for a field named as on the wire.
pub fn field_label(field: &str) -> Option<&'static str> {
    match field {
        "variant" => Some("Variant"),
        "seconds" => Some("Length"),
        "seed" => Some("Seed"),
        "top_k" => Some("Top-k"),
        "temperature" => Some("Temperature"),
        "guidance" => Some("Guidance"),
        "description" => Some("Description"),
        _ => None,
    }
}

fn label(field: &'static str) -> &'static str {
    field_label(field).unwrap_or(field)
}

fn parse_whole<T: FromStr>(field: &'static str, typed: &str) -> Result<T, FieldProblem> {
    typed.trim().parse().map_err(|_| FieldProblem {
        field,
        message: format!("{} must be a whole number.", label(field)),
    })
}

fn parse_decimal(field: &'static str, typed: &str) -> Result<f32, FieldProblem> {
    typed
        .trim()
        .parse::<f32>()
        .ok()
        .filter(|value| value.is_finite())
        .ok_or_else(|| FieldProblem {
            field,
            message: format!("{} must be a number.", label(field)),
        })
}

fn in_range<T: PartialOrd + Display>(
    field: &'static str,
    value: T,
    range: &RangeInclusive<T>,
) -> Result<T, FieldProblem> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(FieldProblem {
            field,
            message: format!(
                "{} must be between {} and {}.",
                label(field),
                range.start(),
                range.end()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use ekphrasis_shared::ImageId;

    use super::*;

    fn image() -> ImageRef {
        ImageRef::Upload(ImageId::parse(&"ab".repeat(32)).expect("a valid id"))
    }

    #[test]
    fn the_default_form_asks_for_the_papers_defaults() {
        let request = ComposeForm::default().request(image()).expect("valid");
        let settings = request.resolve(|| 7).expect("in range");
        assert_eq!(settings.variant, Variant::Lyrical);
        assert_eq!(settings.seconds, 15.0);
        assert_eq!(settings.seed, 7);
        assert_eq!(settings.top_k, 250);
        assert_eq!(settings.temperature, 1.0);
        assert_eq!(settings.guidance, 3.0);
        assert_eq!(request.seed, None);
    }

    #[test]
    fn typed_values_are_sent() {
        let form = ComposeForm {
            variant: Variant::Emotive,
            seconds: 30.0,
            seed: " 42 ".to_owned(),
            top_k: "100".to_owned(),
            temperature: "0.7".to_owned(),
            guidance: "5".to_owned(),
            description: Some("ignored: emotive does not use it".to_owned()),
        };
        let request = form.request(image()).expect("valid");
        assert_eq!(request.variant, Some(Variant::Emotive));
        assert_eq!(request.seconds, Some(30.0));
        assert_eq!(request.seed, Some(42));
        assert_eq!(request.top_k, Some(100));
        assert_eq!(request.temperature, Some(0.7));
        assert_eq!(request.guidance, Some(5.0));
        assert_eq!(request.description, None);
    }

    #[test]
    fn the_edited_description_goes_with_the_variants_that_use_it() {
        let mut form = ComposeForm {
            description: Some("  slow strings, rain  ".to_owned()),
            ..ComposeForm::default()
        };
        let request = form.request(image()).expect("valid");
        assert_eq!(request.description.as_deref(), Some("slow strings, rain"));
        // Emptied: the language model writes it.
        form.description = Some("   ".to_owned());
        assert_eq!(form.request(image()).expect("valid").description, None);
        form.description = Some("x".repeat(1001));
        let problem = form.problem().expect("too long");
        assert_eq!(problem.field, "description");
        assert_eq!(
            problem.message,
            "The description must be at most 1000 characters."
        );
        form.variant = Variant::Narrative;
        assert_eq!(form.problem(), None, "narrative does not send it");
    }

    #[test]
    fn reading_the_painting_writes_a_description() {
        let form = ComposeForm {
            variant: Variant::Emotive,
            description: Some("mine".to_owned()),
            ..ComposeForm::default()
        };
        let request = form.describe_request(image()).expect("valid");
        assert_eq!(request.variant, Some(Variant::Lyrical));
        assert_eq!(request.description, None);
        let optimized = ComposeForm {
            variant: Variant::Optimized,
            ..ComposeForm::default()
        };
        let request = optimized.describe_request(image()).expect("valid");
        assert_eq!(request.variant, Some(Variant::Optimized));
    }

    #[test]
    fn settings_come_back_as_the_form_that_made_them() {
        let form = ComposeForm {
            variant: Variant::Narrative,
            seconds: 20.0,
            seed: "7".to_owned(),
            top_k: "100".to_owned(),
            temperature: "0.7".to_owned(),
            guidance: "5".to_owned(),
            description: None,
        };
        let settings = form
            .request(image())
            .expect("valid")
            .resolve(|| unreachable!("a seed was given"))
            .expect("in range");
        assert_eq!(ComposeForm::from_settings(&settings), form);
    }

    #[test]
    fn wrong_values_name_their_field() {
        type Change = fn(&mut ComposeForm);
        let cases: [(Change, &str, &str); 7] = [
            (
                |f| f.seed = "-1".into(),
                "seed",
                "Seed must be a whole number.",
            ),
            (
                |f| f.seed = "9007199254740992".into(),
                "seed",
                "Seed must be between 0 and 9007199254740991.",
            ),
            (
                |f| f.top_k = "".into(),
                "top_k",
                "Top-k must be a whole number.",
            ),
            (
                |f| f.top_k = "4096".into(),
                "top_k",
                "Top-k must be between 1 and 2048.",
            ),
            (
                |f| f.temperature = "warm".into(),
                "temperature",
                "Temperature must be a number.",
            ),
            (
                |f| f.guidance = "inf".into(),
                "guidance",
                "Guidance must be a number.",
            ),
            (
                |f| f.seconds = 0.0,
                "seconds",
                "Length must be between 1 and 120.",
            ),
        ];
        for (change, field, message) in cases {
            let mut form = ComposeForm::default();
            change(&mut form);
            let problem = form.problem().expect("refused");
            assert_eq!(problem.field, field);
            assert_eq!(problem.message, message);
            assert_eq!(form.request(image()), Err(problem));
        }
    }
}
