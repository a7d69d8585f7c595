//! Making music through the server with the tiny demo models: the stages as they happen, audio
//! streamed as it is made and stored exactly as sent, identical requests answered from the
//! stored track, describe-then-edit, cancelling, the queue, the time limit, and tracks that
//! survive a restart while a half-made one never appears.

use std::time::Duration;

use ekphrasis_e2e::ws::JobTranscript;
use ekphrasis_e2e::{TestServer, WsClient, images, pieces, pieces::request};
use ekphrasis_shared::api::{TrackInfo, UploadedImage};
use ekphrasis_shared::domain::{Stage, StageResult, StageState, Variant};
use ekphrasis_shared::{ClientMsg, ErrorCode, GenerateRequest, ImageRef, ServerMsg, TrackId};
use reqwest::StatusCode;

async fn upload(server: &TestServer) -> UploadedImage {
    pieces::upload_noisy(server.url("/api/images")).await
}

/// `GET /api/tracks/{track}`.
async fn track_info(server: &TestServer, track: &TrackId) -> TrackInfo {
    reqwest::get(server.url(&format!("/api/tracks/{track}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The track of a transcript that ended in `done`.
fn done(transcript: &JobTranscript) -> (TrackId, bool) {
    match transcript.last() {
        ServerMsg::Done { track, reused, .. } => (track.clone(), *reused),
        other => panic!("expected done, got {other:?}"),
    }
}

async fn wav_samples(server: &TestServer, track: &TrackId) -> Vec<i16> {
    let bytes = reqwest::get(server.url(&format!("/api/tracks/{track}/audio.wav")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    bytes[44..]
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect()
}

async fn metric(server: &TestServer, line_start: &str) -> Option<f64> {
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn a_painting_becomes_music_streamed_stored_and_shared() {
    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 2.0, 7)))
        .await;
    let job = client.collect_job().await;

    let ServerMsg::Accepted {
        position, settings, ..
    } = &job.messages[0]
    else {
        panic!("first comes accepted: {:?}", job.messages[0])
    };
    assert_eq!(
        (*position, settings.seed, settings.variant),
        (0, 7, Variant::Lyrical)
    );
    // Every stage of the lyrical variant starts, then reports its result, in order.
    let stages: Vec<(Stage, StageState)> = job
        .messages
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Stage { stage, state, .. } => Some((*stage, *state)),
            _ => None,
        })
        .collect();
    use {Stage::*, StageState::*};
    assert_eq!(
        stages,
        [
            (Emotion, Started),
            (Emotion, Done),
            (Caption, Started),
            (Caption, Done),
            (Enhance, Started),
            (Enhance, Done),
            (Compose, Started),
            (Compose, Done)
        ]
    );
    let format_at = job
        .messages
        .iter()
        .position(|m| matches!(m, ServerMsg::AudioFormat { .. }))
        .expect("an audio_format message");
    assert!(matches!(
        job.messages[format_at],
        ServerMsg::AudioFormat {
            sample_rate: 32_000,
            channels: 1,
            ..
        }
    ));
    // Frames are numbered in order and contiguous.
    let mut next = 0;
    for (i, frame) in job.frames.iter().enumerate() {
        assert_eq!(frame.seq, i as u32);
        assert_eq!(frame.first_sample, next);
        next += frame.samples.len() as u64;
    }
    assert!(job.frames.len() > 1, "audio arrives in several frames");
    let (track, reused) = done(&job);
    assert!(!reused);
    let received = job.samples();
    assert_eq!(received.len(), 64_000, "2 s at 32 kHz");

    // What was stored is exactly what was streamed.
    assert_eq!(wav_samples(&server, &track).await, received);
    let info = track_info(&server, &track).await;
    assert_eq!(info.settings, *settings);
    assert!(info.demo);
    assert_eq!(info.seconds, 2.0);
    let description = info.description.clone().expect("a description");
    assert_eq!(info.music_text, description);
    assert!(info.caption.is_some());
    assert!(info.model_revisions.contains_key("musicgen"));
    let image_bytes = reqwest::get(server.url(&info.image_url)).await.unwrap();
    assert_eq!(image_bytes.status(), StatusCode::OK);
    assert_eq!(
        image_bytes.bytes().await.unwrap(),
        images::noisy_png(48, 32)
    );

    // The compressed download and range requests.
    let ogg = reqwest::get(server.url(&info.compressed_url))
        .await
        .unwrap();
    assert_eq!(ogg.headers()["content-type"], "audio/ogg");
    assert_eq!(&ogg.bytes().await.unwrap()[..4], b"OggS");
    let part = reqwest::Client::new()
        .get(server.url(&info.wav_url))
        .header("range", "bytes=44-47")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 44-47/128044");
    let bytes = part.bytes().await.unwrap();
    assert_eq!(
        [
            i16::from_le_bytes([bytes[0], bytes[1]]),
            i16::from_le_bytes([bytes[2], bytes[3]])
        ],
        [received[0], received[1]]
    );
    let beyond = reqwest::Client::new()
        .get(server.url(&info.wav_url))
        .header("range", "bytes=999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // The share page carries a link preview.
    let page = reqwest::get(server.url(&info.share_path)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("og:title"), "{html}");
    assert!(html.contains(&format!("{}/api/tracks/{track}/audio.wav", server.url(""))));

    // The metrics saw it.
    assert_eq!(
        metric(&server, r#"ekphrasis_jobs_total{outcome="done"}"#).await,
        Some(1.0)
    );
    assert_eq!(
        metric(&server, "ekphrasis_time_to_first_audio_seconds_count").await,
        Some(1.0)
    );
}

#[tokio::test]
async fn an_identical_request_gets_the_stored_track_and_another_seed_new_music() {
    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 3)))
        .await;
    let first = client.collect_job().await;
    let (track, _) = done(&first);

    let mut other = WsClient::handshake(&server.ws_url()).await;
    other
        .send(&ClientMsg::Generate(request(&image, 1.0, 3)))
        .await;
    let again = other.collect_job().await;
    assert_eq!(done(&again), (track.clone(), true));
    assert_eq!(again.samples(), first.samples());
    // The same stage results, replayed.
    let results = |t: &JobTranscript| -> Vec<StageResult> {
        t.messages
            .iter()
            .filter_map(|m| match m {
                ServerMsg::Stage { result, .. } => result.clone(),
                _ => None,
            })
            .collect()
    };
    assert_eq!(results(&again), results(&first));

    other
        .send(&ClientMsg::Generate(request(&image, 1.0, 4)))
        .await;
    let fresh = other.collect_job().await;
    let (fresh_track, reused) = done(&fresh);
    assert!(!reused);
    assert_ne!(fresh_track, track);
    assert_ne!(
        fresh.samples(),
        first.samples(),
        "another seed, other music"
    );
}

#[tokio::test]
async fn describe_then_compose_from_an_edited_description() {
    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Describe(request(&image, 1.0, 5)))
        .await;
    let described = client.collect_job().await;
    assert!(matches!(described.last(), ServerMsg::Described { .. }));
    assert!(described.frames.is_empty(), "describe makes no music");
    assert!(described.messages.iter().any(|m| matches!(
        m,
        ServerMsg::Stage {
            result: Some(StageResult::Description { .. }),
            ..
        }
    )));

    let mut edited = request(&image, 1.0, 5);
    edited.description = Some("slow cello under soft rain, 60 bpm".into());
    client.send(&ClientMsg::Generate(edited)).await;
    let job = client.collect_job().await;
    let (track, _) = done(&job);
    // Falcon-RW does not run: the person's description is the music's text.
    assert!(!job.messages.iter().any(|m| matches!(
        m,
        ServerMsg::Stage {
            stage: Stage::Enhance,
            ..
        }
    )));
    let info = track_info(&server, &track).await;
    assert_eq!(info.music_text, "slow cello under soft rain, 60 bpm");
    assert_eq!(
        info.settings.description.as_deref(),
        Some("slow cello under soft rain, 60 bpm")
    );
}

#[tokio::test]
async fn cancel_stops_a_job_mid_music_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 120.0, 1)))
        .await;
    // Wait for the first audio, then cancel.
    loop {
        match client.recv().await {
            ekphrasis_e2e::ws::Received::Binary(_) => break,
            ekphrasis_e2e::ws::Received::Msg(ServerMsg::Done { .. }) => {
                panic!("two minutes of music finished before the cancel")
            }
            _ => {}
        }
    }
    client.send(&ClientMsg::Cancel).await;
    let rest = client.collect_job().await;
    match rest.last() {
        ServerMsg::Error { code, job, .. } => {
            assert_eq!(*code, ErrorCode::Cancelled);
            assert!(job.is_some());
        }
        other => panic!("expected cancelled, got {other:?}"),
    }
    assert!(rest.samples().len() < 120 * 32_000);
    // Nothing was stored, and the connection takes the next piece.
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 2)))
        .await;
    let next = client.collect_job().await;
    done(&next);
    assert_eq!(
        metric(&server, r#"ekphrasis_jobs_total{outcome="cancelled"}"#).await,
        Some(1.0)
    );
}

/// Without a grace (`--resume-grace-secs 0`) a client that leaves stops its job at once; with
/// one, the job waits for the client to come back (`tests/tests/resume.rs`).
#[tokio::test]
async fn without_a_grace_a_client_that_leaves_stops_its_job() {
    let server = TestServer::start_with(|config| config.resume_grace_secs = 0).await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 120.0, 1)))
        .await;
    loop {
        if let ekphrasis_e2e::ws::Received::Binary(_) = client.recv().await {
            break;
        }
    }
    drop(client);
    let mut cancelled = None;
    for _ in 0..100 {
        cancelled = metric(&server, r#"ekphrasis_jobs_total{outcome="cancelled"}"#).await;
        if cancelled.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        cancelled,
        Some(1.0),
        "the job stopped soon after the client left"
    );
    assert_eq!(metric(&server, "ekphrasis_jobs_running").await, Some(0.0));
}

#[tokio::test]
async fn one_job_per_connection_and_the_queue_tells_its_place() {
    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut first = WsClient::handshake(&server.ws_url()).await;
    first
        .send(&ClientMsg::Generate(request(&image, 120.0, 1)))
        .await;
    assert!(matches!(
        first.recv().await,
        ekphrasis_e2e::ws::Received::Msg(ServerMsg::Accepted { position: 0, .. })
    ));
    first
        .send(&ClientMsg::Generate(request(&image, 1.0, 2)))
        .await;
    // The busy refusal comes among the running job's messages.
    loop {
        match first.recv().await {
            ekphrasis_e2e::ws::Received::Msg(ServerMsg::Error {
                code, job: None, ..
            }) => {
                assert_eq!(code, ErrorCode::Busy);
                break;
            }
            ekphrasis_e2e::ws::Received::Msg(ServerMsg::Done { .. }) => panic!("finished early"),
            _ => {}
        }
    }

    let mut second = WsClient::handshake(&server.ws_url()).await;
    second
        .send(&ClientMsg::Generate(request(&image, 1.0, 3)))
        .await;
    assert!(matches!(
        second.recv().await,
        ekphrasis_e2e::ws::Received::Msg(ServerMsg::Accepted { position: 1, .. })
    ));
    first.send(&ClientMsg::Cancel).await;
    // Once the first is cancelled the second runs: told place 0, then finishes.
    let job = second.collect_job().await;
    assert!(
        job.messages
            .iter()
            .any(|m| matches!(m, ServerMsg::Queued { position: 0, .. }))
    );
    done(&job);
}

#[tokio::test]
async fn a_full_queue_refuses_in_plain_words() {
    let server = TestServer::start_with(|config| config.queue_capacity = 1).await;
    let image = upload(&server).await;
    // One finished job, so the server knows how long a job takes.
    let mut first = WsClient::handshake(&server.ws_url()).await;
    first
        .send(&ClientMsg::Generate(request(&image, 1.0, 9)))
        .await;
    done(&first.collect_job().await);
    let mut running = WsClient::handshake(&server.ws_url()).await;
    running
        .send(&ClientMsg::Generate(request(&image, 120.0, 1)))
        .await;
    running.recv().await;
    let mut waiting = WsClient::handshake(&server.ws_url()).await;
    waiting
        .send(&ClientMsg::Generate(request(&image, 1.0, 2)))
        .await;
    // The first may not have left the queue yet; wait until the second waits.
    assert!(matches!(
        waiting.recv().await,
        ekphrasis_e2e::ws::Received::Msg(ServerMsg::Accepted { .. })
    ));
    let mut third = WsClient::handshake(&server.ws_url()).await;
    third
        .send(&ClientMsg::Generate(request(&image, 1.0, 3)))
        .await;
    let (code, message) = third.recv_error().await;
    assert_eq!(code, ErrorCode::QueueFull, "{message}");
    assert!(
        message.contains("try again in about"),
        "when to come back: {message}"
    );
    assert_eq!(
        metric(&server, r#"ekphrasis_jobs_total{outcome="queue_full"}"#).await,
        Some(1.0),
        "refusals are counted"
    );
}

#[tokio::test]
async fn a_job_past_the_time_limit_is_stopped() {
    let server = TestServer::start_with(|config| config.job_timeout_secs = 1).await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 120.0, 1)))
        .await;
    let job = client.collect_job().await;
    match job.last() {
        ServerMsg::Error { code, message, .. } => {
            assert_eq!(*code, ErrorCode::TimedOut, "{message}");
            assert!(message.contains("1 s"), "{message}");
        }
        other => panic!("expected timed_out, got {other:?}"),
    }
}

#[tokio::test]
async fn tracks_survive_a_restart_and_an_interrupted_one_leaves_nothing() {
    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 9)))
        .await;
    let (track, _) = done(&client.collect_job().await);
    let samples = wav_samples(&server, &track).await;

    // A long piece, interrupted by the server stopping.
    client
        .send(&ClientMsg::Generate(request(&image, 120.0, 10)))
        .await;
    loop {
        if let ekphrasis_e2e::ws::Received::Binary(_) = client.recv().await {
            break;
        }
    }
    let data = server.stop_keeping_data().await;

    let server = TestServer::start_in(data, |_| {}).await;
    assert_eq!(wav_samples(&server, &track).await, samples);
    let tracks_dir = server.data.path().join("data/blobs/tracks");
    let files: Vec<String> = std::fs::read_dir(&tracks_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        files.len(),
        2,
        "one track's WAV and Ogg, no half files: {files:?}"
    );
    // The finished track is still answered from the store after the restart.
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 9)))
        .await;
    assert_eq!(done(&client.collect_job().await), (track, true));
}

#[tokio::test]
async fn the_gallery_lists_its_paintings_and_one_becomes_music() {
    let server = TestServer::start().await;
    let items: Vec<ekphrasis_shared::api::GalleryItem> = reqwest::get(server.url("/api/gallery"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(items.len() >= 5, "the demo gallery: {items:?}");
    for item in &items {
        assert!(!item.alt.is_empty(), "{} has alt text", item.id);
        assert_eq!(item.licence, "CC0-1.0");
        assert!(item.track.is_none(), "nothing rendered yet");
        let image = reqwest::get(server.url(&item.image_url)).await.unwrap();
        assert_eq!(image.headers()["content-type"], "image/jpeg", "{}", item.id);
    }
    let item = &items[0];
    let mut client = WsClient::handshake(&server.ws_url()).await;
    let mut request = GenerateRequest::new(ImageRef::Gallery(item.id.clone()));
    request.seconds = Some(1.0);
    request.variant = Some(Variant::Narrative);
    client.send(&ClientMsg::Generate(request)).await;
    let (track, _) = done(&client.collect_job().await);
    let info = track_info(&server, &track).await;
    assert_eq!(info.gallery.as_ref(), Some(&item.id));
    assert_eq!(info.image_url, item.image_url);
    assert_eq!(info.description, None, "narrative stops at the caption");
    assert_eq!(info.music_text, info.caption.clone().unwrap());
    // The share preview names the painting.
    let html = reqwest::get(server.url(&info.share_path))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&item.title), "{html}");
}

#[tokio::test]
async fn each_variant_composes_with_its_own_tuned_musicgen_and_the_track_says_which() {
    // A "tuned" MusicGen: the tiny demo MusicGen written a second time, with other weights.
    let tuned = tempfile::tempdir().unwrap();
    ekphrasis_models::tiny::write_all(tuned.path(), 11).unwrap();
    let dir = tuned.path().join("musicgen");
    let server = TestServer::start_with(|config| {
        config.variant_musicgen = vec![
            (Variant::Lyrical, dir.clone()),
            (Variant::Optimized, dir.clone()),
        ];
    })
    .await;
    let health: ekphrasis_shared::api::Health = reqwest::get(server.url("/api/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ekphrasis_shared::api::ModelsStatus::Ready {
        variants,
        composers,
        ..
    } = health.models
    else {
        panic!("the models are ready")
    };
    assert_eq!(
        variants,
        Variant::ALL.to_vec(),
        "a tuned MusicGen enables optimized"
    );
    assert_eq!(composers[&Variant::Emotive], "musicgen");
    assert_eq!(composers[&Variant::Lyrical], "musicgen-lyrical");
    assert_eq!(composers[&Variant::Optimized], "optimized");

    let image = upload(&server).await;
    for (variant, composer) in [
        (Variant::Lyrical, "musicgen-lyrical"),
        (Variant::Emotive, "musicgen"),
    ] {
        let mut client = WsClient::handshake(&server.ws_url()).await;
        let mut generate = request(&image, 1.0, 5);
        generate.variant = Some(variant);
        client.send(&ClientMsg::Generate(generate)).await;
        let (track, _) = done(&client.collect_job().await);
        let info = track_info(&server, &track).await;
        assert_eq!(info.model_revisions["composer"], composer, "{variant}");
        assert!(info.model_revisions.contains_key("musicgen-lyrical"));
    }
}

#[tokio::test]
async fn a_server_with_clap_records_how_each_track_matches_its_words() {
    let clap_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/data/clap-tiny");
    let server = TestServer::start_with(|config| config.clap = Some(clap_dir.clone())).await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    let mut generate = request(&image, 1.0, 8);
    generate.variant = Some(Variant::Lyrical);
    client.send(&ClientMsg::Generate(generate)).await;
    let (track, _) = done(&client.collect_job().await);
    let info = track_info(&server, &track).await;
    let alignment = info.clap.expect("the track records its CLAP alignment");

    // The same figures from the stored audio (16-bit, so within rounding) and the two texts.
    let clap =
        ekphrasis_models::eval::clap::Clap::load(&clap_dir, &candle_core::Device::Cpu).unwrap();
    let music: Vec<f32> = wav_samples(&server, &track)
        .await
        .iter()
        .map(|&s| f32::from(s) / 32768.0)
        .collect();
    let audio =
        ekphrasis_server::evaluation::judges::clap_audio(&clap, &music, info.sample_rate).unwrap();
    let cosine = |text: &str| {
        let text = clap.text_embedding(text).unwrap();
        ekphrasis_models::eval::metrics::clap_score::cosine(&audio, &text).unwrap() as f32
    };
    let emotion = cosine(&format!("{} song", info.emotion.as_str()));
    let music_text = cosine(&info.music_text);
    assert!(
        (alignment.emotion - emotion).abs() < 1e-3,
        "{alignment:?} vs {emotion}"
    );
    assert!(
        (alignment.music_text - music_text).abs() < 1e-3,
        "{alignment:?} vs {music_text}"
    );
    assert_eq!(
        metric(
            &server,
            r#"ekphrasis_clap_alignment_count{variant="lyrical",text="emotion"}"#
        )
        .await,
        Some(1.0)
    );
    server.stop().await;
}

#[tokio::test]
async fn quantized_weights_make_their_own_tracks_and_say_so() {
    use ekphrasis_models::kernels::dense::Quantization;
    use ekphrasis_server::checkpoints::quantize::QuantizeChoice;

    let server = TestServer::start_with(|config| {
        config.quantize = QuantizeChoice::Every(Quantization::Q8_0);
    })
    .await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 5)))
        .await;
    let (quantized, _) = done(&client.collect_job().await);
    let info = track_info(&server, &quantized).await;
    assert_eq!(
        info.model_revisions.get("quantization").map(String::as_str),
        Some("falcon q8_0, musicgen q8_0"),
        "{:?}",
        info.model_revisions
    );
    let data = server.stop_keeping_data().await;

    // The same request to the models as loaded (the tiny ones stay so under `auto`) is new
    // music, not the quantized track replayed.
    let server = TestServer::start_in(data, |_| {}).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 5)))
        .await;
    let (plain, reused) = done(&client.collect_job().await);
    assert!(!reused);
    assert_ne!(plain, quantized);
    let info = track_info(&server, &plain).await;
    assert_eq!(info.model_revisions.get("quantization"), None);
}
