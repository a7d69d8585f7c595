//! The paper's chain for one painting: emotion → caption → musical description → music. Each
//! stage's result goes to the caller the moment it exists, and the music as PCM chunks while
//! MusicGen composes it; a cancel flag is checked between stages and at every decoder step. The
//! command line, the server and the benchmarks all run music through [`Pipeline::run`]. Captions
//! and descriptions (the models' and people's) are made [`plain`] before anything uses them.
//!
//! The variants (paper, Fig. 2) differ in the text MusicGen is given and in its weights:
//! emotive (the emotion word), narrative (the caption), lyrical (the description) and optimized
//! (the description, composed by a fine-tuned MusicGen). A variant runs only the stages its text
//! needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ekphrasis_shared::domain::{Stage, Variant};
use ekphrasis_shared::text::plain;
use image::DynamicImage;

use crate::blip::{self, Blip, Caption, CaptionOptions};
use crate::emotion::{Labeller, Reading};
use crate::encodec_stream::{StreamOptions, StreamingDecoder};
use crate::error::{Error, Result};
use crate::falcon_rw::{self, Description, FalconRw};
use crate::image_prep::to_rgb;
use crate::musicgen::{GenerateOptions, MusicGen};

/// The loaded models. Only the labeller is always needed: a command that runs some stages loads
/// only their models, and a stage whose model is absent fails naming it.
pub struct Models {
    pub labeller: Labeller,
    pub blip: Option<Blip>,
    pub falcon: Option<FalconRw>,
    pub musicgen: Option<MusicGen>,
    /// Fine-tuned MusicGens, each composing one variant: the optimized variant needs one; the
    /// others compose with the base MusicGen unless they have their own.
    pub tuned: Vec<(Variant, MusicGen)>,
}

impl Models {
    /// The MusicGen that composes `variant`: its own tuned one, else (but for the optimized
    /// variant) the base one.
    pub fn composer(&self, variant: Variant) -> Option<&MusicGen> {
        match self.tuned.iter().find(|(v, _)| *v == variant) {
            Some((_, musicgen)) => Some(musicgen),
            None if variant == Variant::Optimized => None,
            None => self.musicgen.as_ref(),
        }
    }

    fn composer_mut(&mut self, variant: Variant) -> Option<&mut MusicGen> {
        match self.tuned.iter_mut().find(|(v, _)| *v == variant) {
            Some((_, musicgen)) => Some(musicgen),
            None if variant == Variant::Optimized => None,
            None => self.musicgen.as_mut(),
        }
    }

    /// Whether `variant` composes with a tuned MusicGen of its own.
    pub fn is_tuned(&self, variant: Variant) -> bool {
        self.tuned.iter().any(|(v, _)| *v == variant)
    }
}

/// Whether a variant's text needs (the caption, the description) before composing.
pub fn needs(variant: Variant) -> (bool, bool) {
    match variant {
        Variant::Emotive => (false, false),
        Variant::Narrative => (true, false),
        Variant::Lyrical | Variant::Optimized => (true, true),
    }
}

/// What to make from one painting.
#[derive(Debug, Clone)]
pub struct Request {
    pub variant: Variant,
    pub caption: CaptionOptions,
    pub describe: falcon_rw::GenerateOptions,
    pub compose: GenerateOptions,
    /// A description the person wrote or edited: used instead of Falcon's (lyrical, optimized).
    pub description: Option<String>,
}

/// Something the pipeline has to report.
#[derive(Debug)]
pub enum Event<'a> {
    /// A stage began.
    Started(Stage),
    /// The emotion is known.
    Emotion(&'a Reading),
    /// The caption is known.
    Caption(&'a Caption),
    /// The musical description is known (`fallback` says when it was not Falcon's own).
    Description(&'a Description),
    /// MusicGen starts composing from this text.
    Composing(&'a str),
    /// The next samples of the music, mono at MusicGen's rate.
    Audio(&'a [f32]),
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub reading: Reading,
    pub caption: Option<Caption>,
    pub description: Option<Description>,
    /// The text MusicGen was given.
    pub music_text: String,
    /// The codes, one list per codebook (after undoing the delay pattern).
    pub codes: Vec<Vec<u32>>,
    /// Samples sent in [`Event::Audio`] chunks, in all.
    pub samples: usize,
    pub sample_rate: u32,
}

/// The chain over loaded models.
pub struct Pipeline {
    models: Models,
}

impl Pipeline {
    /// A pipeline over `models`.
    pub fn new(models: Models) -> Self {
        Self { models }
    }

    /// The models, e.g. for their sample rate.
    pub fn models(&self) -> &Models {
        &self.models
    }

    /// Runs the stages before composing that `request.variant` needs (all three for lyrical and
    /// optimized), reporting each result through `on_event`.
    pub fn describe(
        &mut self,
        image: &DynamicImage,
        request: &Request,
        on_event: &mut dyn FnMut(Event<'_>),
        cancel: &AtomicBool,
    ) -> Result<Described> {
        let (want_caption, want_description) = needs(request.variant);
        let description_given = request.description.as_deref().map(str::trim);
        if description_given == Some("") {
            return Err(Error::Input("the description is empty".into()));
        }

        check(cancel)?;
        on_event(Event::Started(Stage::Emotion));
        let reading = self.models.labeller.label(&to_rgb(image))?;
        on_event(Event::Emotion(&reading));

        let caption = if want_caption {
            check(cancel)?;
            let blip = self
                .models
                .blip
                .as_mut()
                .ok_or_else(|| missing("caption", "BLIP"))?;
            on_event(Event::Started(Stage::Caption));
            let prompt = blip::emotion_prompt(reading.label);
            let mut caption = blip.caption(image, Some(&prompt), &request.caption, cancel)?;
            caption.text = plain(&caption.text);
            on_event(Event::Caption(&caption));
            Some(caption)
        } else {
            None
        };

        let description = match (want_description, description_given, &caption) {
            (false, _, _) => None,
            (true, Some(text), _) => Some(Description {
                text: plain(text),
                token_ids: Vec::new(),
                fallback: false,
            }),
            (true, None, Some(caption)) => {
                check(cancel)?;
                let falcon = self
                    .models
                    .falcon
                    .as_mut()
                    .ok_or_else(|| missing("musical description", "Falcon-RW"))?;
                on_event(Event::Started(Stage::Enhance));
                let mut description =
                    falcon.describe(&caption.text, reading.label, &request.describe, cancel)?;
                description.text = plain(&description.text);
                on_event(Event::Description(&description));
                Some(description)
            }
            (true, None, None) => unreachable!("a description is only wanted after a caption"),
        };
        Ok(Described {
            reading,
            caption,
            description,
        })
    }

    /// Runs every stage `request.variant` needs on `image`: [`Pipeline::describe`], then MusicGen
    /// on the variant's text, reporting the music as it is made.
    pub fn run(
        &mut self,
        image: &DynamicImage,
        request: &Request,
        on_event: &mut dyn FnMut(Event<'_>),
        cancel: &AtomicBool,
    ) -> Result<Outcome> {
        if self.models.composer(request.variant).is_none() {
            return Err(match request.variant {
                Variant::Optimized => no_fine_tuned_musicgen(),
                _ => missing("music", "MusicGen"),
            });
        }
        let described = self.describe(image, request, on_event, cancel)?;
        let music_text = described.music_text(request.variant);
        check(cancel)?;
        on_event(Event::Started(Stage::Compose));
        on_event(Event::Composing(&music_text));
        let musicgen = self
            .models
            .composer_mut(request.variant)
            .ok_or_else(|| missing("music", "MusicGen"))?;
        let (codes, samples) = compose(musicgen, &music_text, &request.compose, on_event, cancel)?;
        Ok(Outcome {
            reading: described.reading,
            caption: described.caption,
            description: described.description,
            music_text,
            codes,
            samples,
            sample_rate: musicgen.sample_rate(),
        })
    }
}

/// What the stages before composing produced.
#[derive(Debug, Clone)]
pub struct Described {
    pub reading: Reading,
    pub caption: Option<Caption>,
    pub description: Option<Description>,
}

impl Described {
    /// The text MusicGen is given in `variant`: the description, else the caption, else the
    /// emotion word.
    pub fn music_text(&self, variant: Variant) -> String {
        match (variant, &self.description, &self.caption) {
            (Variant::Lyrical | Variant::Optimized, Some(description), _) => {
                description.text.clone()
            }
            (Variant::Narrative | Variant::Lyrical | Variant::Optimized, _, Some(caption)) => {
                caption.text.clone()
            }
            _ => self.reading.label.as_str().to_string(),
        }
    }
}

/// MusicGen on `text`, each frame through the streaming decoder, each PCM chunk reported.
fn compose(
    musicgen: &mut MusicGen,
    text: &str,
    options: &GenerateOptions,
    on_event: &mut dyn FnMut(Event<'_>),
    cancel: &AtomicBool,
) -> Result<(Vec<Vec<u32>>, usize)> {
    let mut stream = StreamingDecoder::new(
        Arc::clone(musicgen.audio_decoder()),
        StreamOptions::default(),
    );
    let mut samples = 0;
    let mut stream_error = None;
    let codes = musicgen.generate(text, options, cancel, |_, frame| {
        if stream_error.is_some() {
            return;
        }
        match stream.push(frame) {
            Ok(pcm) if !pcm.is_empty() => {
                samples += pcm.len();
                on_event(Event::Audio(&pcm));
            }
            Ok(_) => {}
            Err(e) => stream_error = Some(e),
        }
    })?;
    if let Some(e) = stream_error {
        return Err(e.into());
    }
    let tail = stream.finish()?;
    if !tail.is_empty() {
        samples += tail.len();
        on_event(Event::Audio(&tail));
    }
    Ok((codes, samples))
}

/// Why the optimized variant cannot run: no fine-tuned MusicGen is configured.
pub fn no_fine_tuned_musicgen() -> Error {
    Error::Input(
        "the optimized variant needs a fine-tuned MusicGen checkpoint, and none is configured \
         (give --optimized-musicgen DIR or --variant-musicgen optimized=DIR, or choose another \
         variant)"
            .into(),
    )
}

fn missing(stage: &str, model: &str) -> Error {
    Error::Input(format!(
        "the {stage} stage needs {model}, and no {model} model is loaded"
    ))
}

fn check(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_runs_only_the_stages_its_text_needs() {
        assert_eq!(needs(Variant::Emotive), (false, false));
        assert_eq!(needs(Variant::Narrative), (true, false));
        assert_eq!(needs(Variant::Lyrical), (true, true));
        assert_eq!(needs(Variant::Optimized), (true, true));
    }
}
