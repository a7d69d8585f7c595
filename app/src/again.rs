//! Making a stored track again with a new seed: the same painting and settings, read from its
//! `TrackInfo`.

use ekphrasis_shared::api::{GalleryItem, TrackInfo};

use crate::form::ComposeForm;
use crate::painting::{Painting, image_id_from_url};

/// What the home page starts from to make a track again.
#[derive(Clone, Debug, PartialEq)]
pub struct Again {
    pub painting: Painting,
    /// The track's settings, with the seed left for the server to choose anew.
    pub form: ComposeForm,
}

/// The painting and settings of `info`; the painting is the gallery's item when the track was
/// made from one that `gallery` still has, else the stored image itself.
pub fn again(info: &TrackInfo, gallery: &[GalleryItem]) -> Option<Again> {
    let from_gallery = info
        .gallery
        .as_ref()
        .and_then(|id| gallery.iter().find(|item| &item.id == id))
        .cloned()
        .map(Painting::Gallery);
    let painting = match from_gallery {
        Some(painting) => painting,
        None => Painting::Stored {
            id: image_id_from_url(&info.image_url)?,
            url: info.image_url.clone(),
        },
    };
    let mut form = ComposeForm::from_settings(&info.settings);
    form.seed.clear();
    Some(Again { painting, form })
}

#[cfg(test)]
mod tests {
    use ekphrasis_shared::ids::GalleryId;
    use ekphrasis_shared::{
        Emotion, EmotionProbabilities, GenerateRequest, ImageId, ImageRef, TrackId, Variant,
    };

    use super::*;

    fn sha() -> String {
        "cd".repeat(32)
    }

    fn info(gallery: Option<&str>) -> TrackInfo {
        let image = ImageRef::Upload(ImageId::parse(&sha()).expect("an id"));
        let mut request = GenerateRequest::new(image);
        request.variant = Some(Variant::Narrative);
        request.seconds = Some(20.0);
        request.seed = Some(1234);
        TrackInfo {
            id: TrackId::from_bits(3),
            share_path: "/t/x".into(),
            settings: request.resolve(|| 0).expect("valid"),
            image_url: format!("/api/images/{}", sha()),
            gallery: gallery.map(|g| GalleryId::parse(g).expect("a slug")),
            emotion: Emotion::Neutral,
            probabilities: EmotionProbabilities {
                happy: 0.2,
                angry: 0.2,
                sad: 0.2,
                fun: 0.2,
                neutral: 0.2,
            },
            labeller: "clip-zero-shot".into(),
            caption: None,
            description: None,
            music_text: "neutral".into(),
            sample_rate: 32_000,
            seconds: 20.0,
            wav_url: String::new(),
            compressed_url: String::new(),
            model_revisions: Default::default(),
            demo: false,
            clap: None,
            created_at: 0,
        }
    }

    #[test]
    fn an_uploaded_painting_is_made_again_with_a_new_seed() {
        let again = again(&info(None), &[]).expect("possible");
        assert_eq!(
            again.painting.image(),
            Some(ImageRef::Upload(ImageId::parse(&sha()).expect("an id")))
        );
        assert_eq!(again.form.variant, Variant::Narrative);
        assert_eq!(again.form.seconds, 20.0);
        assert_eq!(again.form.seed, "", "the server picks a new seed");
        let request = again
            .form
            .request(again.painting.image().expect("an image"))
            .expect("valid");
        assert_eq!(request.seed, None);
    }

    #[test]
    fn a_gallery_painting_is_picked_from_the_gallery() {
        let item = crate::painting::tests::item();
        let again =
            again(&info(Some("moonlit-lake")), std::slice::from_ref(&item)).expect("possible");
        assert_eq!(again.painting, Painting::Gallery(item));
        // Gone from the gallery: the stored image still works.
        let gone = super::again(&info(Some("moonlit-lake")), &[]).expect("possible");
        assert!(matches!(gone.painting, Painting::Stored { .. }));
    }

    #[test]
    fn a_track_without_a_readable_image_cannot_be_made_again() {
        let mut broken = info(None);
        broken.image_url = "/somewhere/else".into();
        assert_eq!(again(&broken, &[]), None);
    }
}
