//! Every protocol message survives JSON encoding unchanged, and its wire form is as documented.

use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::protocol::SampleEncoding;
use ekphrasis_shared::{
    ClientMsg, Emotion, EmotionProbabilities, ErrorCode, GenerateRequest, ImageRef, JobId,
    ServerMsg, Stage, StageResult, StageState, TrackId, Variant,
};
use serde_json::json;

fn settings() -> ekphrasis_shared::Settings {
    GenerateRequest::new(ImageRef::Gallery(GalleryId::parse("sunflowers").unwrap()))
        .resolve(|| 9)
        .unwrap()
}

fn server_messages() -> Vec<ServerMsg> {
    let job = JobId(3);
    let probabilities = EmotionProbabilities {
        happy: 0.5,
        angry: 0.125,
        sad: 0.125,
        fun: 0.25,
        neutral: 0.0,
    };
    vec![
        ServerMsg::Hello {
            protocol: 1,
            server: "ekphrasis/0.1.0".into(),
        },
        ServerMsg::Accepted {
            job,
            position: 2,
            settings: settings(),
        },
        ServerMsg::Queued { job, position: 1 },
        ServerMsg::Stage {
            job,
            stage: Stage::Emotion,
            state: StageState::Started,
            result: None,
        },
        ServerMsg::Stage {
            job,
            stage: Stage::Emotion,
            state: StageState::Done,
            result: Some(StageResult::Emotion {
                label: Emotion::Happy,
                probabilities,
                labeller: "clip-zero-shot".into(),
            }),
        },
        ServerMsg::Stage {
            job,
            stage: Stage::Caption,
            state: StageState::Done,
            result: Some(StageResult::Caption {
                text: "a happy painting of sunflowers".into(),
            }),
        },
        ServerMsg::Stage {
            job,
            stage: Stage::Enhance,
            state: StageState::Done,
            result: Some(StageResult::Description {
                text: "Bright folk, 120 bpm.\nA rising flute melody.".into(),
                fallback: false,
            }),
        },
        ServerMsg::AudioFormat {
            job,
            sample_rate: 32_000,
            channels: 1,
            encoding: SampleEncoding::S16le,
        },
        ServerMsg::Done {
            job,
            track: TrackId::from_bits(77),
            share_path: format!("/t/{}", TrackId::from_bits(77)),
            seconds: 15.0,
            reused: false,
        },
        ServerMsg::Described { job },
        ServerMsg::Restarted { job, attempt: 2 },
        ServerMsg::Error {
            code: ErrorCode::ModelsUnavailable,
            message: "no models".into(),
            job: Some(job),
        },
    ]
}

#[test]
fn server_messages_round_trip() {
    for msg in server_messages() {
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(
            serde_json::from_str::<ServerMsg>(&text).unwrap(),
            msg,
            "{text}"
        );
    }
}

#[test]
fn client_messages_round_trip() {
    let mut full = GenerateRequest::new(ImageRef::Gallery(GalleryId::parse("x").unwrap()));
    full.variant = Some(Variant::Optimized);
    full.seconds = Some(30.0);
    full.seed = Some(1234);
    full.top_k = Some(50);
    full.temperature = Some(0.9);
    full.guidance = Some(4.0);
    full.description = Some("slow strings in a minor key".into());
    for msg in [
        ClientMsg::Hello {
            protocol: 1,
            agent: "t".into(),
        },
        ClientMsg::Describe(full.clone()),
        ClientMsg::Generate(full),
        ClientMsg::Cancel,
        ClientMsg::Resume {
            job: JobId(9),
            from_frame: 4,
        },
    ] {
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(
            serde_json::from_str::<ClientMsg>(&text).unwrap(),
            msg,
            "{text}"
        );
    }
}

#[test]
fn wire_forms_match_docs_protocol_md() {
    let generate: ClientMsg = serde_json::from_value(json!({
        "type": "generate",
        "image": {"upload": "0".repeat(64)},
        "variant": "narrative",
        "seconds": 20
    }))
    .unwrap();
    let ClientMsg::Generate(req) = generate else {
        panic!("not a generate message")
    };
    assert_eq!(req.variant, Some(Variant::Narrative));
    assert_eq!(req.seconds, Some(20.0));
    assert_eq!(req.seed, None);

    let stage = ServerMsg::Stage {
        job: JobId(1),
        stage: Stage::Caption,
        state: StageState::Done,
        result: Some(StageResult::Caption { text: "c".into() }),
    };
    assert_eq!(
        serde_json::to_value(&stage).unwrap(),
        json!({"type": "stage", "job": 1, "stage": "caption", "state": "done",
               "result": {"kind": "caption", "text": "c"}})
    );
    let format = ServerMsg::AudioFormat {
        job: JobId(1),
        sample_rate: 32_000,
        channels: 1,
        encoding: SampleEncoding::S16le,
    };
    assert_eq!(
        serde_json::to_value(&format).unwrap(),
        json!({"type": "audio_format", "job": 1, "sample_rate": 32000, "channels": 1, "encoding": "s16le"})
    );

    let describe: ClientMsg = serde_json::from_value(json!({
        "type": "describe",
        "image": {"upload": "0".repeat(64)},
        "variant": "lyrical",
        "seed": 42
    }))
    .unwrap();
    assert!(matches!(describe, ClientMsg::Describe(ref r) if r.seed == Some(42)));
    assert_eq!(
        serde_json::to_value(ServerMsg::Described { job: JobId(7) }).unwrap(),
        json!({"type": "described", "job": 7})
    );
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    for text in [
        "",
        "null",
        "{}",
        r#"{"type":"generate"}"#,
        r#"{"type":"generate","image":{"upload":"zz"}}"#,
        r#"{"type":"hello","protocol":-1}"#,
        r#"{"type":"launch_rockets"}"#,
    ] {
        assert!(serde_json::from_str::<ClientMsg>(text).is_err(), "{text}");
    }
}
