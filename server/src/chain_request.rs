//! The pipeline request for a piece: the paper's stage options (greedy captions, a sampled
//! two-line description, MusicGen's top-k sampling with guidance), one seed for every sampler.
//! The command line and the server's jobs build their requests here.

use ekphrasis_models::blip::CaptionOptions;
use ekphrasis_models::falcon_rw;
use ekphrasis_models::musicgen::{GenerateOptions, Sampling};
use ekphrasis_models::pipeline::Request;
use ekphrasis_shared::Settings;
use ekphrasis_shared::domain::Variant;

/// A request for `variant` with `frames` audio frames and MusicGen's `sampling` and `guidance`.
pub fn build(
    variant: Variant,
    frames: usize,
    sampling: Sampling,
    guidance: f64,
    seed: u64,
    description: Option<String>,
) -> Request {
    Request {
        variant,
        caption: CaptionOptions::default(),
        describe: falcon_rw::GenerateOptions {
            seed,
            ..falcon_rw::GenerateOptions::default()
        },
        compose: GenerateOptions {
            frames,
            guidance,
            sampling,
            seed,
            ..GenerateOptions::default()
        },
        description,
    }
}

/// The request for resolved settings (a server job).
pub fn for_settings(settings: &Settings) -> Request {
    build(
        settings.variant,
        settings.frames() as usize,
        Sampling::TopK {
            top_k: settings.top_k as usize,
            temperature: f64::from(settings.temperature),
        },
        f64::from(settings.guidance),
        settings.seed,
        settings.description.clone(),
    )
}

#[cfg(test)]
mod tests {
    use ekphrasis_shared::GenerateRequest;
    use ekphrasis_shared::ids::{GalleryId, ImageRef};

    use super::*;

    #[test]
    fn settings_reach_every_stage() {
        let mut request = GenerateRequest::new(ImageRef::Gallery(GalleryId::parse("a").unwrap()));
        request.seconds = Some(2.0);
        request.top_k = Some(10);
        request.guidance = Some(1.0);
        request.seed = Some(9);
        request.description = Some("  slow strings ".into());
        let settings = request.resolve(|| unreachable!()).unwrap();
        let built = for_settings(&settings);
        assert_eq!(built.compose.frames, 100);
        assert_eq!(built.compose.guidance, 1.0);
        assert_eq!(built.compose.seed, 9);
        assert_eq!(built.describe.seed, 9);
        assert_eq!(
            built.compose.sampling,
            Sampling::TopK {
                top_k: 10,
                temperature: 1.0
            }
        );
        assert_eq!(built.description.as_deref(), Some("slow strings"));
    }
}
