//! A cluster's pieces outlive their sockets: a client whose socket to one web node closes
//! mid-piece resumes on another web node and gets the rest frame for frame, while another
//! connection's resume of a followed piece is refused; a piece nobody comes back for is
//! cancelled by the web node that held it when the grace runs out (its worker freed), and a
//! resume after that is refused naming it. Real NATS, PostgreSQL and S3 on loopback, as in
//! `cluster.rs`.

use std::time::Duration;

use ekphrasis_e2e::nodes::{Node, Shared};
use ekphrasis_e2e::ws::{JobTranscript, Received};
use ekphrasis_e2e::{WsClient, cluster, pieces, pieces::request};
use ekphrasis_server::store::{self, JobState};
use ekphrasis_shared::api::{Health, UploadedImage};
use ekphrasis_shared::{AudioFrame, ClientMsg, ErrorCode, JobId, ServerMsg, TrackId};

/// One test's cluster: its own broker, a fresh database and S3 prefix.
struct Cluster {
    shared: Shared,
    _nats: cluster::PrivateNats,
}

impl Cluster {
    fn new() -> Self {
        let servers = cluster::servers();
        let nats = cluster::PrivateNats::start();
        let (store, env) = servers.fresh_store();
        Self {
            shared: Shared {
                broker: nats.url.clone(),
                database: servers.fresh_database(),
                store,
                env,
                ack_wait_secs: 3,
                queue_capacity: 8,
            },
            _nats: nats,
        }
    }

    /// A web node whose detached jobs wait `grace_secs` for their clients.
    fn web(&self, name: &str, grace_secs: u64) -> Node {
        let mut shared = self.shared.clone();
        shared
            .env
            .push(("EKPHRASIS_RESUME_GRACE_SECS".into(), grace_secs.to_string()));
        Node::web(&shared, name)
    }

    async fn job_state(&self, job: JobId) -> JobState {
        let store = store::open_shared_with(
            &self.shared.database,
            &self.shared.store,
            self.shared.env.clone(),
        )
        .await
        .unwrap();
        store
            .jobs
            .get(job)
            .await
            .unwrap()
            .expect("the job's row")
            .state
    }
}

async fn upload(node: &Node) -> UploadedImage {
    pieces::upload_noisy(node.url("/api/images")).await
}

/// Waits (10 s at most) until the web node sees a live worker.
async fn wait_for_a_worker(web: &Node) {
    for _ in 0..200 {
        let health: Health = reqwest::get(web.url("/api/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if health.cluster.is_some_and(|c| !c.workers.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the web node never saw a worker; its log:\n{}", web.log());
}

/// Reads a job's messages and frames until it has sent `frames` audio frames.
async fn until_frames(client: &mut WsClient, frames: usize) -> (JobId, JobTranscript) {
    let mut seen = JobTranscript::default();
    let mut job = None;
    while seen.frames.len() < frames {
        match client.recv_within(Duration::from_secs(30)).await {
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

fn track(transcript: &JobTranscript) -> TrackId {
    match transcript.last() {
        ServerMsg::Done { track, .. } => track.clone(),
        other => panic!("expected done, got {other:?}"),
    }
}

async fn wav_samples(node: &Node, track: &TrackId) -> Vec<i16> {
    let bytes = reqwest::get(node.url(&format!("/api/tracks/{track}/audio.wav")))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piece_whose_socket_closed_is_resumed_on_another_node_or_given_up_after_the_grace() {
    let cluster = Cluster::new();
    let (web_a, web_b) = (cluster.web("web-a", 30), cluster.web("web-b", 30));
    let _worker = Node::worker(&cluster.shared, "worker-1", 1);
    wait_for_a_worker(&web_a).await;
    let image = upload(&web_a).await;

    // Followed on web-a: another connection cannot take it.
    let mut client = WsClient::handshake(&web_a.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 8.0, 5)))
        .await;
    let (job, seen) = until_frames(&mut client, 2).await;
    let mut again = WsClient::handshake(&web_b.ws_url()).await;
    again.send(&ClientMsg::Resume { job, from_frame: 0 }).await;
    let (code, message) = again.recv_error().await;
    assert_eq!(code, ErrorCode::Busy, "{message}");
    assert!(message.contains(&job.to_string()), "{message}");

    // The socket to web-a closes; the client resumes on web-b from the frames it has.
    drop(client);
    let from_frame = seen.frames.len() as u32;
    let mut resumed = None;
    for _ in 0..50 {
        again.send(&ClientMsg::Resume { job, from_frame }).await;
        match again.recv_within(Duration::from_secs(30)).await {
            // web-a may not have seen the close yet.
            Received::Msg(ServerMsg::Error {
                code: ErrorCode::Busy,
                ..
            }) => tokio::time::sleep(Duration::from_millis(100)).await,
            Received::Msg(first) => {
                resumed = Some(first);
                break;
            }
            other => panic!("expected the piece, got {other:?}"),
        }
    }
    let first = resumed.expect("web-a let the piece go");
    assert!(
        !matches!(first, ServerMsg::Error { .. }),
        "resumed: {first:?}"
    );
    let mut rest = again.collect_job_within(Duration::from_secs(30)).await;
    rest.messages.insert(0, first);
    let made = track(&rest);
    assert_eq!(rest.frames.first().map(|f| f.seq), Some(from_frame));
    let mut samples = seen.samples();
    samples.extend(rest.samples());
    assert_eq!(samples, wav_samples(&web_b, &made).await, "frame for frame");
    assert_eq!(cluster.job_state(job).await, JobState::Done);

    // A web node with a short grace gives up a piece nobody comes back for.
    let web_c = cluster.web("web-c", 1);
    wait_for_a_worker(&web_c).await;
    let mut leaving = WsClient::handshake(&web_c.ws_url()).await;
    leaving
        .send(&ClientMsg::Generate(request(&image, 120.0, 6)))
        .await;
    let (job, _) = until_frames(&mut leaving, 1).await;
    drop(leaving);
    let mut state = cluster.job_state(job).await;
    for _ in 0..200 {
        if state == JobState::Cancelled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        state = cluster.job_state(job).await;
    }
    assert_eq!(state, JobState::Cancelled, "given up after the grace");
    let mut late = WsClient::handshake(&web_c.ws_url()).await;
    late.send(&ClientMsg::Resume { job, from_frame: 1 }).await;
    let (code, message) = late.recv_error().await;
    assert_eq!(code, ErrorCode::NotFound, "{message}");
    assert!(message.contains(&job.to_string()), "{message}");
    // Its worker is free for the next piece.
    late.send(&ClientMsg::Generate(request(&image, 1.0, 7)))
        .await;
    track(&late.collect_job_within(Duration::from_secs(30)).await);
}
