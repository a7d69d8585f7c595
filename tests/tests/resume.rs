//! A piece outlives its WebSocket on a single server: a client whose socket closes mid-piece
//! reconnects, sends `resume` from the frames it has, and gets the rest frame for frame as an
//! uninterrupted run sends it; a finished piece's rest and `done` still come within the grace;
//! a piece nobody comes back for is cancelled when the grace runs out, and then, like an
//! unknown piece or one another connection follows, its resume is refused naming it; a server
//! shutting down still ends the pieces nobody follows.

use std::time::Duration;

use ekphrasis_e2e::ws::{JobTranscript, Received};
use ekphrasis_e2e::{TestServer, WsClient, pieces, pieces::request};
use ekphrasis_shared::api::UploadedImage;
use ekphrasis_shared::{AudioFrame, ClientMsg, ErrorCode, JobId, ServerMsg, TrackId};

async fn upload(server: &TestServer) -> UploadedImage {
    pieces::upload_noisy(server.url("/api/images")).await
}

async fn metric(server: &TestServer, line_start: &str) -> Option<f64> {
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metric_in(&text, line_start)
}

fn metric_in(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

const CANCELLED: &str = r#"ekphrasis_jobs_total{outcome="cancelled"}"#;
const DONE: &str = r#"ekphrasis_jobs_total{outcome="done"}"#;

/// Waits (up to two minutes: the demo models are slow on a busy machine) until `metric` reads
/// `value`.
async fn until_metric(server: &TestServer, line_start: &str, value: f64) {
    for _ in 0..2400 {
        if metric(server, line_start).await == Some(value) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{line_start} is {:?}, not {value}",
        metric(server, line_start).await
    );
}

async fn wav_samples(server: &TestServer, track: &TrackId) -> Vec<i16> {
    let bytes = reqwest::get(server.url(&format!("/api/tracks/{track}/audio.wav")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    bytes[44..]
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect()
}

fn track(transcript: &JobTranscript) -> TrackId {
    match transcript.last() {
        ServerMsg::Done { track, .. } => track.clone(),
        other => panic!("expected done, got {other:?}"),
    }
}

/// Reads a job's messages and frames until it has sent `frames` audio frames; its id and what
/// came.
async fn until_frames(client: &mut WsClient, frames: usize) -> (JobId, JobTranscript) {
    let mut seen = JobTranscript::default();
    let mut job = None;
    while seen.frames.len() < frames {
        match client.recv().await {
            Received::Msg(message) => {
                if let ServerMsg::Accepted { job: id, .. } = &message {
                    job = Some(*id);
                }
                assert!(
                    !matches!(message, ServerMsg::Done { .. } | ServerMsg::Error { .. }),
                    "the piece ended before {frames} frames: {message:?}"
                );
                seen.messages.push(message);
            }
            Received::Binary(bytes) => seen
                .frames
                .push(AudioFrame::decode(&bytes).unwrap().unwrap()),
            Received::Closed(code) => panic!("closed ({code:?})"),
        }
    }
    (job.expect("accepted first"), seen)
}

/// A message as JSON without what differs between servers (the job and track ids).
fn comparable(message: &ServerMsg) -> serde_json::Value {
    let mut value = serde_json::to_value(message).unwrap();
    let fields = value.as_object_mut().unwrap();
    for id in ["job", "track", "share_path"] {
        fields.remove(id);
    }
    value
}

#[tokio::test]
async fn a_piece_resumed_after_its_socket_closed_is_the_uninterrupted_piece_frame_for_frame() {
    const SECONDS: f32 = 6.0;
    const SEED: u64 = 21;
    // The same request on a server of its own, never interrupted.
    let whole = {
        let server = TestServer::start().await;
        let image = upload(&server).await;
        let mut client = WsClient::handshake(&server.ws_url()).await;
        client
            .send(&ClientMsg::Generate(request(&image, SECONDS, SEED)))
            .await;
        client.collect_job().await
    };

    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, SECONDS, SEED)))
        .await;
    let (job, seen) = until_frames(&mut client, 3).await;
    // The connection drops without a word.
    drop(client);

    let mut again = WsClient::handshake(&server.ws_url()).await;
    let from_frame = seen.frames.len() as u32;
    again.send(&ClientMsg::Resume { job, from_frame }).await;
    let rest = again.collect_job().await;
    let track = track(&rest);

    // Audio: what came before the drop, then the rest from the frame asked for.
    assert_eq!(rest.frames.first().map(|f| f.seq), Some(from_frame));
    let frames: Vec<&AudioFrame> = seen.frames.iter().chain(&rest.frames).collect();
    assert_eq!(frames.len(), whole.frames.len(), "nothing missed or twice");
    for (got, want) in frames.iter().zip(&whole.frames) {
        assert_eq!(*got, want, "frame {}", want.seq);
    }
    // Messages: every one again from the start (not `accepted`, the first connection's own).
    let uninterrupted: Vec<_> = whole.messages[1..].iter().map(comparable).collect();
    let resumed: Vec<_> = rest.messages.iter().map(comparable).collect();
    assert_eq!(resumed, uninterrupted);
    assert_eq!(
        comparable(&seen.messages[0]),
        comparable(&whole.messages[0])
    );
    // And the stored track is what the client heard.
    let mut samples = seen.samples();
    samples.extend(rest.samples());
    assert_eq!(samples.len(), (SECONDS * 32_000.0) as usize);
    assert_eq!(wav_samples(&server, &track).await, samples);
    assert_eq!(metric(&server, CANCELLED).await, None);
}

#[tokio::test]
async fn a_finished_piece_still_gives_its_rest_and_done_within_the_grace() {
    // A grace long enough for the piece to finish unfollowed, however slow the machine.
    let server = TestServer::start_with(|config| config.resume_grace_secs = 600).await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 3.0, 4)))
        .await;
    let (job, seen) = until_frames(&mut client, 1).await;
    drop(client);
    // It goes on unfollowed to its end, and is stored.
    until_metric(&server, DONE, 1.0).await;

    let mut again = WsClient::handshake(&server.ws_url()).await;
    again.send(&ClientMsg::Resume { job, from_frame: 1 }).await;
    let rest = again.collect_job().await;
    let track = track(&rest);
    assert_eq!(rest.frames.first().map(|f| f.seq), Some(1));
    let mut samples = seen.samples();
    samples.extend(rest.samples());
    assert_eq!(samples.len(), 3 * 32_000);
    assert_eq!(wav_samples(&server, &track).await, samples);
}

#[tokio::test]
async fn a_piece_nobody_comes_back_for_is_cancelled_after_the_grace_and_then_refused() {
    let server = TestServer::start_with(|config| config.resume_grace_secs = 1).await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 120.0, 1)))
        .await;
    let (job, _) = until_frames(&mut client, 1).await;
    drop(client);

    until_metric(&server, CANCELLED, 1.0).await;
    until_metric(&server, "ekphrasis_jobs_running", 0.0).await;
    let mut again = WsClient::handshake(&server.ws_url()).await;
    again.send(&ClientMsg::Resume { job, from_frame: 1 }).await;
    match again.recv().await {
        Received::Msg(ServerMsg::Error {
            code,
            message,
            job: about,
        }) => {
            assert_eq!(code, ErrorCode::NotFound, "{message}");
            assert_eq!(about, Some(job));
            assert!(message.contains(&job.to_string()), "names it: {message}");
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
    // The model slot is free: the next piece is made.
    again
        .send(&ClientMsg::Generate(request(&image, 1.0, 2)))
        .await;
    track(&again.collect_job().await);
}

#[tokio::test]
async fn unknown_and_followed_pieces_are_refused_by_name() {
    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut other = WsClient::handshake(&server.ws_url()).await;
    let unknown = JobId(987_654_321);
    other
        .send(&ClientMsg::Resume {
            job: unknown,
            from_frame: 0,
        })
        .await;
    let (code, message) = other.recv_error().await;
    assert_eq!(code, ErrorCode::NotFound, "{message}");
    assert!(message.contains("987654321"), "{message}");

    let mut owner = WsClient::handshake(&server.ws_url()).await;
    owner
        .send(&ClientMsg::Generate(request(&image, 120.0, 1)))
        .await;
    let (job, _) = until_frames(&mut owner, 1).await;
    other.send(&ClientMsg::Resume { job, from_frame: 0 }).await;
    let (code, message) = other.recv_error().await;
    assert_eq!(code, ErrorCode::Busy, "{message}");
    assert!(message.contains(&job.to_string()), "{message}");

    // The owner still has it, and cancelling it stops it.
    owner.send(&ClientMsg::Cancel).await;
    let rest = owner.collect_job().await;
    assert!(
        matches!(
            rest.last(),
            ServerMsg::Error {
                code: ErrorCode::Cancelled,
                ..
            }
        ),
        "{:?}",
        rest.last()
    );
}

#[tokio::test]
async fn a_resumed_piece_can_be_cancelled_and_shutdown_ends_pieces_nobody_follows() {
    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 120.0, 1)))
        .await;
    let (job, _) = until_frames(&mut client, 1).await;
    drop(client);
    let mut again = WsClient::handshake(&server.ws_url()).await;
    again.send(&ClientMsg::Resume { job, from_frame: 1 }).await;
    again.send(&ClientMsg::Cancel).await;
    let rest = again.collect_job().await;
    assert!(
        matches!(
            rest.last(),
            ServerMsg::Error {
                code: ErrorCode::Cancelled,
                ..
            }
        ),
        "{:?}",
        rest.last()
    );

    // A piece left without a follower when the server stops is ended with it.
    let mut left = WsClient::handshake(&server.ws_url()).await;
    left.send(&ClientMsg::Generate(request(&image, 120.0, 2)))
        .await;
    until_frames(&mut left, 1).await;
    drop(left);
    let metrics = server.state.metrics.clone();
    server.stop().await;
    for _ in 0..200 {
        if metric_in(&metrics.render(), CANCELLED) == Some(2.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metric_in(&metrics.render(), CANCELLED), Some(2.0));
    assert_eq!(
        metric_in(&metrics.render(), "ekphrasis_jobs_running"),
        Some(0.0)
    );
}
