//! Property tests: every message round-trips, and no input makes a decoder panic.

use ekphrasis_shared::frame::{AudioFrame, HEADER_LEN};
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{ClientMsg, GenerateRequest, ImageId, ImageRef, ServerMsg, Variant};
use proptest::prelude::*;

fn image_ref() -> impl Strategy<Value = ImageRef> {
    prop_oneof![
        "[0-9a-f]{64}".prop_map(|s| ImageRef::Upload(ImageId::parse(&s).unwrap())),
        "[a-z0-9-]{1,64}".prop_map(|s| ImageRef::Gallery(GalleryId::parse(&s).unwrap())),
    ]
}

fn generate_request() -> impl Strategy<Value = GenerateRequest> {
    (
        image_ref(),
        proptest::option::of(prop::sample::select(Variant::ALL.to_vec())),
        proptest::option::of(any::<f32>().prop_filter("finite", |f| f.is_finite())),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(-10.0f32..10.0),
        proptest::option::of(-10.0f32..20.0),
        proptest::option::of("\\PC{0,1200}"),
    )
        .prop_map(
            |(image, variant, seconds, seed, top_k, temperature, guidance, description)| {
                GenerateRequest {
                    image,
                    variant,
                    seconds,
                    seed,
                    top_k,
                    temperature,
                    guidance,
                    description,
                }
            },
        )
}

proptest! {
    #[test]
    fn audio_frames_round_trip(seq: u32, first: u64, samples in prop::collection::vec(any::<i16>(), 0..512)) {
        let frame = AudioFrame { seq, first_sample: first, samples };
        let bytes = frame.encode();
        prop_assert_eq!(bytes.len(), HEADER_LEN + 2 * frame.samples.len());
        prop_assert_eq!(AudioFrame::decode(&bytes), Ok(Some(frame)));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_frame_decoder(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = AudioFrame::decode(&bytes);
    }

    #[test]
    fn pcm_tagged_noise_decodes_or_is_refused(tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = vec![ekphrasis_shared::frame::TAG_PCM];
        bytes.extend(tail);
        let ok = bytes.len() >= HEADER_LEN && (bytes.len() - HEADER_LEN).is_multiple_of(2);
        prop_assert_eq!(AudioFrame::decode(&bytes).is_ok(), ok);
    }

    #[test]
    fn arbitrary_text_never_panics_the_json_decoders(text in ".{0,200}") {
        let _ = serde_json::from_str::<ClientMsg>(&text);
        let _ = serde_json::from_str::<ServerMsg>(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_json_decoders(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = serde_json::from_slice::<ClientMsg>(&bytes);
        let _ = serde_json::from_slice::<ServerMsg>(&bytes);
    }

    #[test]
    fn json_shaped_noise_never_panics(
        ty in prop::sample::select(vec!["hello", "generate", "cancel", "stage", "error", "accepted", "nope"]),
        field in "[a-z_]{1,12}",
        value in prop_oneof![Just("null".to_string()), Just("-1".to_string()), Just("1e400".to_string()), "\"[a-z]{0,8}\"", Just("{}".to_string()), Just("[]".to_string())],
    ) {
        let text = format!(r#"{{"type":"{ty}","{field}":{value}}}"#);
        let _ = serde_json::from_str::<ClientMsg>(&text);
        let _ = serde_json::from_str::<ServerMsg>(&text);
    }

    #[test]
    fn generate_requests_round_trip_and_resolve_without_panicking(req in generate_request()) {
        let msg = ClientMsg::Generate(req.clone());
        let text = serde_json::to_string(&msg).unwrap();
        prop_assert_eq!(serde_json::from_str::<ClientMsg>(&text).unwrap(), msg);
        if let Ok(settings) = req.resolve(|| 5) {
            prop_assert!((1.0..=120.0).contains(&settings.seconds));
            prop_assert!((1..=2048).contains(&settings.top_k));
            prop_assert!(settings.seed < (1 << 53));
        }
    }
}
