//! The cluster with real servers: web nodes and workers as processes of the debug binary over a
//! NATS JetStream broker of their own, the test binary's PostgreSQL (a fresh database each) and
//! SeaweedFS's S3 (a fresh prefix each). A piece made across nodes equals the single process's;
//! duplicates run once; cancels reach queued and running jobs; a full queue refuses; a killed
//! worker's job runs again elsewhere and is finished once; a client of a killed web node
//! resumes on another from its last frame; two workers racing one request key leave one row;
//! workers started with `--variants` take only their variants' jobs, a variant no live worker
//! serves is refused, and a job queued while its only worker restarts is still made.

use std::time::Duration;

use ekphrasis_e2e::nodes::{Node, Shared};
use ekphrasis_e2e::ws::{JobTranscript, Received};
use ekphrasis_e2e::{TestServer, WsClient, cluster, images, pieces, pieces::request};
use ekphrasis_server::cluster::broker::{Broker, BrokerOptions};
use ekphrasis_server::cluster::envelope::Submission;
use ekphrasis_server::cluster::roster::Roster;
use ekphrasis_server::cluster::web::ClusterJobs;
use ekphrasis_server::store::{self, JobKind, JobRow, JobState, RequestKey};
use ekphrasis_shared::api::{Health, ModelsStatus, UploadedImage};
use ekphrasis_shared::domain::Variant;
use ekphrasis_shared::{
    AudioFrame, ClientMsg, ErrorCode, GenerateRequest, JobId, ServerMsg, TrackId,
};
use tokio_util::sync::CancellationToken;

/// One test's cluster: its own broker, a fresh database and S3 prefix.
struct Cluster {
    shared: Shared,
    _nats: Option<cluster::PrivateNats>,
}

impl Cluster {
    fn new(queue_capacity: usize) -> Self {
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
                queue_capacity,
            },
            _nats: Some(nats),
        }
    }

    /// A cluster on servers of the test's own, which it stops and starts.
    fn on(servers: &cluster::PrivateServers) -> Self {
        let (store, env) = servers.fresh_store();
        Self {
            shared: Shared {
                broker: servers.nats_url.clone(),
                database: servers.fresh_database(),
                store,
                env,
                ack_wait_secs: 3,
                queue_capacity: 8,
            },
            _nats: None,
        }
    }

    fn web(&self, name: &str) -> Node {
        Node::web(&self.shared, name)
    }

    fn worker(&self, name: &str) -> Node {
        Node::worker(&self.shared, name, 1)
    }

    /// A one-slot worker started with `--variants variants`.
    fn worker_serving(&self, name: &str, variants: &str) -> Node {
        Node::worker_with(&self.shared, name, 1, &["--variants", variants])
    }
}

async fn upload(node_url: &str) -> UploadedImage {
    pieces::upload_noisy(format!("{node_url}/api/images")).await
}

/// [`request`] in `variant`.
fn request_in(variant: Variant, image: &UploadedImage, seconds: f32, seed: u64) -> GenerateRequest {
    let mut request = request(image, seconds, seed);
    request.variant = Some(variant);
    request
}

/// Two clients on `web`: one whose piece (`running`, 6–8 s of music) has started to sound, and
/// one whose piece waits behind it at place 1. Answers each client with its job.
async fn one_running_one_waiting(
    web: &Node,
    running: GenerateRequest,
    waiting: GenerateRequest,
) -> ((WsClient, JobId), (WsClient, JobId)) {
    let mut first = WsClient::handshake(&web.ws_url()).await;
    first.send(&ClientMsg::Generate(running)).await;
    let (running_job, _) = until_first_audio(&mut first).await;
    let mut second = WsClient::handshake(&web.ws_url()).await;
    second.send(&ClientMsg::Generate(waiting)).await;
    let waiting_job = match second.recv().await {
        Received::Msg(ServerMsg::Accepted {
            job, position: 1, ..
        }) => job,
        other => panic!("expected accepted at place 1, got {other:?}"),
    };
    ((first, running_job), (second, waiting_job))
}

/// Waits until the web node sees `workers` live workers.
async fn wait_for_workers(web: &Node, workers: usize) -> Health {
    wait_for_health(web, &format!("{workers} workers"), |health| {
        live_workers(health).len() >= workers
    })
    .await
}

/// Waits (10 s at most) until the web node's health answer is as `seen` wants it.
async fn wait_for_health(web: &Node, what: &str, seen: impl Fn(&Health) -> bool) -> Health {
    for _ in 0..200 {
        let health: Health = reqwest::get(web.url("/api/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if seen(&health) {
            return health;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the web node never saw {what}; its log:\n{}", web.log());
}

/// The live workers' names, as a web node's health answer lists them.
fn live_workers(health: &Health) -> Vec<String> {
    health
        .cluster
        .as_ref()
        .map(|c| c.workers.clone())
        .unwrap_or_default()
}

/// The variants a health answer offers (what the app lets people choose).
fn offered(health: &Health) -> Vec<Variant> {
    match &health.models {
        ModelsStatus::Ready { variants, .. } => variants.clone(),
        ModelsStatus::Unavailable { .. } => Vec::new(),
    }
}

fn done(transcript: &JobTranscript) -> TrackId {
    match transcript.last() {
        ServerMsg::Done { track, .. } => track.clone(),
        other => panic!("expected done, got {other:?}"),
    }
}

fn job_of(transcript: &JobTranscript) -> JobId {
    match &transcript.messages[0] {
        ServerMsg::Accepted { job, .. } => *job,
        other => panic!("first comes accepted, got {other:?}"),
    }
}

/// Reads until the first audio frame; returns the job id and what came.
async fn until_first_audio(client: &mut WsClient) -> (JobId, JobTranscript) {
    let mut seen = JobTranscript::default();
    loop {
        match client.recv().await {
            Received::Msg(message) => {
                if let ServerMsg::Done { .. } | ServerMsg::Error { .. } = message {
                    panic!("the job ended before its first audio: {message:?}");
                }
                seen.messages.push(message);
            }
            Received::Binary(bytes) => {
                seen.frames
                    .push(AudioFrame::decode(&bytes).unwrap().unwrap());
                return (job_of(&seen), seen);
            }
            Received::Closed(code) => panic!("closed ({code:?})"),
        }
    }
}

/// The stage and audio messages of a transcript, without the job-specific ones.
fn music_messages(transcript: &JobTranscript) -> Vec<ServerMsg> {
    transcript
        .messages
        .iter()
        .filter(|m| matches!(m, ServerMsg::Stage { .. } | ServerMsg::AudioFormat { .. }))
        .map(|m| match m.clone() {
            ServerMsg::Stage {
                stage,
                state,
                result,
                ..
            } => ServerMsg::Stage {
                job: JobId(0),
                stage,
                state,
                result,
            },
            ServerMsg::AudioFormat {
                sample_rate,
                channels,
                encoding,
                ..
            } => ServerMsg::AudioFormat {
                job: JobId(0),
                sample_rate,
                channels,
                encoding,
            },
            other => other,
        })
        .collect()
}

async fn track_rows(database: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(database, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query_one("SELECT count(*) FROM tracks", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piece_made_across_nodes_equals_the_single_process_one() {
    let cluster = Cluster::new(8);
    let (web_a, web_b) = (cluster.web("web-a"), cluster.web("web-b"));
    let _workers = (cluster.worker("worker-1"), cluster.worker("worker-2"));
    wait_for_workers(&web_b, 2).await;
    // Uploaded through one web node, made through the other.
    let image = upload(&web_a.url("")).await;
    let mut client = WsClient::handshake(&web_b.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 2.0, 7)))
        .await;
    let made = client.collect_job().await;
    let track = done(&made);

    let single = TestServer::start().await;
    let local_image = upload(&single.url("")).await;
    assert_eq!(local_image.id, image.id);
    let mut local = WsClient::handshake(&single.ws_url()).await;
    local
        .send(&ClientMsg::Generate(request(&image, 2.0, 7)))
        .await;
    let expected = local.collect_job().await;
    done(&expected);

    assert_eq!(music_messages(&made), music_messages(&expected));
    assert_eq!(made.frames.len(), expected.frames.len());
    for (cluster_frame, local_frame) in made.frames.iter().zip(&expected.frames) {
        assert_eq!(cluster_frame, local_frame, "frame {}", local_frame.seq);
    }
    // The stored WAV is what was streamed, from either web node.
    let wav = reqwest::get(web_a.url(&format!("/api/tracks/{track}/audio.wav")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let stored: Vec<i16> = wav[44..]
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect();
    assert_eq!(stored, made.samples());
    assert_eq!(track_rows(&cluster.shared.database).await, 1);
}

/// The job's row, through the cluster's database.
async fn job_row(cluster: &Cluster, job: JobId) -> JobRow {
    let store = store::open_shared_with(
        &cluster.shared.database,
        &cluster.shared.store,
        cluster.shared.env.clone(),
    )
    .await
    .unwrap();
    store.jobs.get(job).await.unwrap().expect("the job's row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_sent_twice_runs_once_and_a_client_can_follow_it() {
    let cluster = Cluster::new(8);
    let web = cluster.web("web-a");
    let _worker = cluster.worker("worker-1");
    wait_for_workers(&web, 1).await;
    let image = upload(&web.url("")).await;

    let store = store::open_shared_with(
        &cluster.shared.database,
        &cluster.shared.store,
        cluster.shared.env.clone(),
    )
    .await
    .unwrap();
    let settings = request(&image, 1.0, 5).resolve(|| 0).unwrap();
    let job = JobId(4_242);
    // The row's key is what the web node would record; the worker keys the track itself.
    let key = RequestKey::new(&image.id, &settings, &Default::default());
    let row = JobRow::queued(
        job,
        key,
        JobKind::Generate,
        settings.clone(),
        image.id.clone(),
    );
    assert!(store.jobs.insert(&row).await.unwrap());
    assert!(
        !store.jobs.insert(&row).await.unwrap(),
        "the same job id is one row"
    );
    let broker = Broker::connect(
        &cluster.shared.broker,
        "test",
        BrokerOptions {
            queue_capacity: 8,
            ack_wait: Duration::from_secs(3),
            max_deliver: BrokerOptions::MAX_DELIVER,
            output_kept: BrokerOptions::OUTPUT_KEPT,
        },
    )
    .await
    .unwrap();
    let submission = Submission {
        job,
        describe: false,
        settings,
        image: image.id.clone(),
    };
    let first = ClusterJobs::publish(&broker, &submission).await.unwrap();
    let again = ClusterJobs::publish(&broker, &submission).await.unwrap();
    assert_eq!(first, again, "the broker dropped the duplicate");

    // A client that did not submit it follows it from its first frame.
    let mut client = WsClient::handshake(&web.ws_url()).await;
    client.send(&ClientMsg::Resume { job, from_frame: 0 }).await;
    let followed = client.collect_job().await;
    done(&followed);
    assert_eq!(followed.samples().len(), 32_000);
    let row = job_row(&cluster, job).await;
    assert_eq!((row.state, row.attempt), (JobState::Done, 1));
    assert_eq!(track_rows(&cluster.shared.database).await, 1);

    // An unknown job is refused by name.
    client
        .send(&ClientMsg::Resume {
            job: JobId(7),
            from_frame: 0,
        })
        .await;
    let (code, message) = client.recv_error().await;
    assert_eq!(code, ErrorCode::NotFound, "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_reach_running_and_queued_jobs_and_a_full_queue_refuses() {
    // Two jobs at most in the cluster, running or waiting.
    let cluster = Cluster::new(2);
    let web = cluster.web("web-a");
    let _worker = cluster.worker("worker-1");
    wait_for_workers(&web, 1).await;
    let image = upload(&web.url("")).await;

    let mut running = WsClient::handshake(&web.ws_url()).await;
    running
        .send(&ClientMsg::Generate(request(&image, 120.0, 1)))
        .await;
    let (running_job, _) = until_first_audio(&mut running).await;

    let mut waiting = WsClient::handshake(&web.ws_url()).await;
    waiting
        .send(&ClientMsg::Generate(request(&image, 1.0, 2)))
        .await;
    let waiting_job = match waiting.recv().await {
        Received::Msg(ServerMsg::Accepted { job, position, .. }) => {
            assert_eq!(position, 1, "it waits behind the running one");
            job
        }
        other => panic!("expected accepted, got {other:?}"),
    };
    let mut refused = WsClient::handshake(&web.ws_url()).await;
    refused
        .send(&ClientMsg::Generate(request(&image, 1.0, 3)))
        .await;
    let (code, message) = refused.recv_error().await;
    assert_eq!(code, ErrorCode::QueueFull, "{message}");

    waiting.send(&ClientMsg::Cancel).await;
    let rest = waiting.collect_job().await;
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
    let row = job_row(&cluster, waiting_job).await;
    assert_eq!(
        (row.state, row.attempt),
        (JobState::Cancelled, 0),
        "it never ran"
    );

    running.send(&ClientMsg::Cancel).await;
    let rest = running.collect_job().await;
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
    let mut row = job_row(&cluster, running_job).await;
    for _ in 0..100 {
        if row.state != JobState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        row = job_row(&cluster, running_job).await;
    }
    assert_eq!(row.state, JobState::Cancelled);
    assert_eq!(
        track_rows(&cluster.shared.database).await,
        0,
        "nothing stored"
    );

    // Room again: the next piece is made.
    refused
        .send(&ClientMsg::Generate(request(&image, 1.0, 3)))
        .await;
    done(&refused.collect_job().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_job_runs_again_on_another_and_is_finished_once() {
    let cluster = Cluster::new(8);
    let web = cluster.web("web-a");
    let mut workers = [cluster.worker("worker-1"), cluster.worker("worker-2")];
    wait_for_workers(&web, 2).await;
    let image = upload(&web.url("")).await;
    let mut client = WsClient::handshake(&web.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 8.0, 11)))
        .await;
    let (job, _) = until_first_audio(&mut client).await;
    let running_on = job_row(&cluster, job)
        .await
        .worker
        .expect("a worker has it");
    let doomed = workers
        .iter()
        .position(|w| w.name == running_on)
        .expect("one of ours");
    workers[doomed].kill();

    let rest = client.collect_job().await;
    let restart = rest
        .messages
        .iter()
        .position(|m| matches!(m, ServerMsg::Restarted { attempt: 2, .. }))
        .unwrap_or_else(|| panic!("the client is told: {:?}", rest.messages));
    let track = done(&rest);
    // After the restart the frames count from 0 again and carry the whole piece.
    let after: Vec<&AudioFrame> = rest.frames.iter().skip_while(|f| f.seq != 0).collect();
    assert!(restart < rest.messages.len());
    let samples: usize = after.iter().map(|f| f.samples.len()).sum();
    assert_eq!(samples, 8 * 32_000);
    let row = job_row(&cluster, job).await;
    assert_eq!(row.state, JobState::Done);
    assert_eq!(row.attempt, 2);
    assert_eq!(row.track, Some(track));
    assert_ne!(row.worker.as_deref(), Some(running_on.as_str()));
    assert_eq!(track_rows(&cluster.shared.database).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_a_killed_web_node_resumes_on_another_from_its_frame() {
    let cluster = Cluster::new(8);
    let mut web_a = cluster.web("web-a");
    let web_b = cluster.web("web-b");
    let _worker = cluster.worker("worker-1");
    wait_for_workers(&web_a, 1).await;
    let image = upload(&web_a.url("")).await;
    let mut client = WsClient::handshake(&web_a.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 6.0, 3)))
        .await;
    let (job, mut seen) = until_first_audio(&mut client).await;
    while seen.frames.len() < 3 {
        match client.recv().await {
            Received::Binary(bytes) => seen
                .frames
                .push(AudioFrame::decode(&bytes).unwrap().unwrap()),
            Received::Msg(message) => seen.messages.push(message),
            Received::Closed(code) => panic!("closed ({code:?})"),
        }
    }
    web_a.kill();

    let mut again = WsClient::handshake(&web_b.ws_url()).await;
    let from_frame = seen.frames.len() as u32;
    again.send(&ClientMsg::Resume { job, from_frame }).await;
    let rest = again.collect_job().await;
    let track = done(&rest);
    assert_eq!(rest.frames.first().map(|f| f.seq), Some(from_frame));
    let mut samples = seen.samples();
    samples.extend(rest.samples());
    let wav = reqwest::get(web_b.url(&format!("/api/tracks/{track}/audio.wav")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let stored: Vec<i16> = wav[44..]
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect();
    assert_eq!(samples, stored, "nothing missed, nothing twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_racing_one_request_key_leave_one_track() {
    let cluster = Cluster::new(8);
    let (web_a, web_b) = (cluster.web("web-a"), cluster.web("web-b"));
    let _workers = (cluster.worker("worker-1"), cluster.worker("worker-2"));
    // Each web node reads the workers' cards once a second: both must have seen them.
    wait_for_workers(&web_a, 2).await;
    wait_for_workers(&web_b, 2).await;
    let image = upload(&web_a.url("")).await;
    let mut first = WsClient::handshake(&web_a.ws_url()).await;
    let mut second = WsClient::handshake(&web_b.ws_url()).await;
    first
        .send(&ClientMsg::Generate(request(&image, 3.0, 21)))
        .await;
    second
        .send(&ClientMsg::Generate(request(&image, 3.0, 21)))
        .await;
    let (one, two) = tokio::join!(first.collect_job(), second.collect_job());
    assert_eq!(done(&one), done(&two), "both got the one stored track");
    assert_eq!(one.samples(), two.samples());
    assert_eq!(track_rows(&cluster.shared.database).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_survive_a_broker_restart() {
    let servers = cluster::PrivateServers::start();
    let cluster = Cluster::on(&servers);
    let web = cluster.web("web-a");
    let _worker = cluster.worker("worker-1");
    wait_for_workers(&web, 1).await;
    let image = upload(&web.url("")).await;
    let ((mut running, _), (mut waiting, waiting_job)) =
        one_running_one_waiting(&web, request(&image, 6.0, 1), request(&image, 1.0, 2)).await;

    servers.stop_nats();
    servers.start_nats();

    // The waiting piece was kept by the broker and is made once it is back (after the running
    // one: the broker's restart takes a few seconds). Both clients are read at once, as two
    // browsers would be: a client not read answers no pings, and the server lets it go.
    let (rest, other) = tokio::join!(
        waiting.collect_job_within(Duration::from_secs(60)),
        running.collect_job_within(Duration::from_secs(120)),
    );
    done(&rest);
    let row = job_row(&cluster, waiting_job).await;
    assert_eq!(row.state, JobState::Done);
    // The running one ends one way or the other (finished, or made again), never silently.
    assert!(
        matches!(
            other.last(),
            ServerMsg::Done { .. } | ServerMsg::Error { .. }
        ),
        "{:?}",
        other.last()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_or_the_store_down_errors_are_clear_and_service_resumes() {
    let servers = cluster::PrivateServers::start();
    let cluster = Cluster::on(&servers);
    let web = cluster.web("web-a");
    let _worker = cluster.worker("worker-1");
    wait_for_workers(&web, 1).await;
    let image = upload(&web.url("")).await;
    let health = |web: &Node| {
        let url = web.url("/api/health");
        async move {
            let health: Health = reqwest::get(url).await.unwrap().json().await.unwrap();
            health
                .cluster
                .expect("a web node reports its cluster")
                .services
        }
    };
    assert!(health(&web).await.values().all(|state| state == "ok"));

    // The store down: an upload is refused, a piece is made but not stored, and says so.
    servers.stop_s3();
    let response = reqwest::Client::new()
        .post(web.url("/api/images"))
        .body(images::png(40, 30))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_server_error(), "{}", response.status());
    let services = health(&web).await;
    assert_ne!(services["store"], "ok", "{services:?}");
    let mut client = WsClient::handshake(&web.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 4)))
        .await;
    let failed = client.collect_job().await;
    match failed.last() {
        ServerMsg::Error { code, message, .. } => {
            assert_eq!(*code, ErrorCode::Internal);
            assert!(message.contains("store"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(
        track_rows(&cluster.shared.database).await,
        0,
        "nothing half-written"
    );
    servers.start_s3();
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 4)))
        .await;
    done(&client.collect_job().await);

    // The database down: a request is refused in plain words; back, it is taken again.
    servers.stop_postgres();
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 5)))
        .await;
    let (code, message) = client.recv_error().await;
    assert_eq!(code, ErrorCode::Internal);
    assert!(message.contains("database"), "{message}");
    assert_ne!(health(&web).await["database"], "ok");
    servers.start_postgres();
    client
        .send(&ClientMsg::Generate(request(&image, 1.0, 5)))
        .await;
    done(&client.collect_job().await);
    assert_eq!(track_rows(&cluster.shared.database).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_stops_every_worker_is_given_up_and_its_client_told() {
    let cluster = Cluster::new(8);
    let web = cluster.web("web-a");
    let mut worker = cluster.worker("worker-1");
    wait_for_workers(&web, 1).await;
    let image = upload(&web.url("")).await;
    let mut client = WsClient::handshake(&web.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request(&image, 60.0, 13)))
        .await;
    let job = match client.recv().await {
        Received::Msg(ServerMsg::Accepted { job, .. }) => job,
        other => panic!("expected accepted, got {other:?}"),
    };
    // Each run's worker dies while it runs the job, as a poison job would make it.
    let mut told_before = Vec::new();
    for run in 1..=3 {
        if run > 1 {
            worker = cluster.worker(&format!("worker-{run}"));
        }
        let mut row = job_row(&cluster, job).await;
        for _ in 0..400 {
            if row.attempt == run && row.worker.as_deref() == Some(worker.name.as_str()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            row = job_row(&cluster, job).await;
        }
        assert_eq!(row.attempt, run, "run {run} started on {:?}", row.worker);
        // The client hears of this run before its worker dies (killed sooner, the run would
        // die before it could say so).
        if run > 1 {
            loop {
                match client.recv_within(Duration::from_secs(30)).await {
                    Received::Msg(message) => {
                        let told = matches!(message, ServerMsg::Restarted { attempt, .. } if attempt == run);
                        told_before.push(message);
                        if told {
                            break;
                        }
                    }
                    Received::Binary(_) => {}
                    other => panic!("expected run {run}'s messages, got {other:?}"),
                }
            }
        }
        worker.kill();
    }
    // The broker gives a job up when a worker next asks for work.
    let _survivor = cluster.worker("worker-4");
    let mut rest = client.collect_job_within(Duration::from_secs(30)).await;
    told_before.append(&mut rest.messages);
    rest.messages = told_before;
    match rest.last() {
        ServerMsg::Error { code, message, .. } => {
            assert_eq!(*code, ErrorCode::Internal);
            assert!(message.contains("not tried again"), "{message}");
        }
        other => panic!("expected the job given up, got {other:?}"),
    }
    let restarts = rest
        .messages
        .iter()
        .filter(|m| matches!(m, ServerMsg::Restarted { .. }))
        .count();
    assert_eq!(restarts, 2);
    let row = job_row(&cluster, job).await;
    assert_eq!(row.state, JobState::Failed);
    assert_eq!(track_rows(&cluster.shared.database).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_take_only_the_variants_they_serve_and_others_are_refused() {
    let cluster = Cluster::new(8);
    // What the models cannot serve, or no variant at all, stops a worker before it starts.
    let log = Node::worker_refused(&cluster.shared, "worker-x", &["--variants", "optimized"]);
    assert!(
        log.contains("--variants names optimized") && log.contains("fine-tuned MusicGen"),
        "{log}"
    );
    let log = Node::worker_refused(
        &cluster.shared,
        "worker-y",
        &["--variants", "lyrical,baroque"],
    );
    assert!(log.contains("unknown variant `baroque`"), "{log}");

    let web = cluster.web("web-a");
    let mut lyrical = cluster.worker_serving("worker-lyrical", "lyrical");
    let mut emotive = cluster.worker_serving("worker-emotive", "emotive");
    let health = wait_for_workers(&web, 2).await;
    assert_eq!(offered(&health), [Variant::Emotive, Variant::Lyrical]);
    // Each card lists only its worker's variants.
    let broker = Broker::connect(
        &cluster.shared.broker,
        "test",
        BrokerOptions {
            queue_capacity: 8,
            ack_wait: Duration::from_secs(3),
            max_deliver: BrokerOptions::MAX_DELIVER,
            output_kept: BrokerOptions::OUTPUT_KEPT,
        },
    )
    .await
    .unwrap();
    let watching = CancellationToken::new();
    let cards: Vec<(String, Vec<Variant>, Vec<Variant>)> = Roster::watch(broker, watching.clone())
        .await
        .cards()
        .into_iter()
        .map(|c| (c.name, c.variants, c.composers.into_keys().collect()))
        .collect();
    watching.cancel();
    assert_eq!(
        cards,
        [
            (
                "worker-emotive".into(),
                vec![Variant::Emotive],
                vec![Variant::Emotive]
            ),
            (
                "worker-lyrical".into(),
                vec![Variant::Lyrical],
                vec![Variant::Lyrical]
            ),
        ]
    );
    let worker_health: serde_json::Value = reqwest::get(lyrical.url("/api/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(worker_health["variants"], serde_json::json!(["lyrical"]));

    // Two pieces of each variant at once: each runs on the worker that serves it.
    let image = upload(&web.url("")).await;
    let mut clients = Vec::new();
    for (seed, variant) in [Variant::Lyrical, Variant::Emotive]
        .into_iter()
        .cycle()
        .take(4)
        .enumerate()
    {
        let mut client = WsClient::handshake(&web.ws_url()).await;
        client
            .send(&ClientMsg::Generate(request_in(
                variant,
                &image,
                1.0,
                30 + seed as u64,
            )))
            .await;
        clients.push((variant, client));
    }
    // Read at once, as four browsers would be (a client not read answers no pings).
    let made = futures_util::future::join_all(
        clients
            .iter_mut()
            .map(|(_, client)| client.collect_job_within(Duration::from_secs(60))),
    )
    .await;
    for ((variant, _), made) in clients.iter().zip(made) {
        done(&made);
        let row = job_row(&cluster, job_of(&made)).await;
        assert_eq!(row.settings.variant, *variant);
        assert_eq!(
            row.worker.as_deref(),
            Some(format!("worker-{variant}").as_str()),
            "the {variant} piece ran on the worker serving {variant}"
        );
    }

    // A variant no worker serves is refused at once, not queued.
    let mut client = WsClient::handshake(&web.ws_url()).await;
    client
        .send(&ClientMsg::Generate(request_in(
            Variant::Narrative,
            &image,
            1.0,
            40,
        )))
        .await;
    let (code, message) = client.recv_error().await;
    assert_eq!(code, ErrorCode::ModelsUnavailable, "{message}");
    assert!(message.contains("narrative"), "{message}");

    // The lyrical worker stops: its card goes with it, and lyrical is refused.
    lyrical.terminate();
    let health = wait_for_health(&web, "the lyrical worker gone", |health| {
        live_workers(health) == ["worker-emotive"]
    })
    .await;
    assert_eq!(offered(&health), [Variant::Emotive]);
    client
        .send(&ClientMsg::Generate(request_in(
            Variant::Lyrical,
            &image,
            1.0,
            41,
        )))
        .await;
    let (code, message) = client.recv_error().await;
    assert_eq!(code, ErrorCode::ModelsUnavailable, "{message}");
    assert!(message.contains("lyrical"), "{message}");

    // The only emotive worker restarts with one piece running and one waiting: both are made
    // once it is back, the running one again from its start.
    let ((mut running, running_job), (mut waiting, waiting_job)) = one_running_one_waiting(
        &web,
        request_in(Variant::Emotive, &image, 8.0, 42),
        request_in(Variant::Emotive, &image, 1.0, 43),
    )
    .await;
    emotive.terminate();
    wait_for_health(&web, "no worker", |health| live_workers(health).is_empty()).await;
    assert_eq!(job_row(&cluster, waiting_job).await.state, JobState::Queued);
    let _emotive = cluster.worker_serving("worker-emotive", "emotive");

    let (rest, made) = tokio::join!(
        running.collect_job_within(Duration::from_secs(60)),
        waiting.collect_job_within(Duration::from_secs(90)),
    );
    done(&rest);
    assert!(
        rest.messages
            .iter()
            .any(|m| matches!(m, ServerMsg::Restarted { attempt: 2, .. })),
        "{:?}",
        rest.messages
    );
    done(&made);
    for (job, attempt) in [(running_job, 2), (waiting_job, 1)] {
        let row = job_row(&cluster, job).await;
        assert_eq!(
            (row.state, row.attempt, row.worker.as_deref()),
            (JobState::Done, attempt, Some("worker-emotive"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pieces_no_live_worker_serves_are_withdrawn_and_their_clients_told() {
    let cluster = Cluster::new(8);
    let web = Node::web_with(&cluster.shared, "web-a", &["--unserved-wait-secs", "3"]);
    let mut lyrical = cluster.worker_serving("worker-lyrical", "lyrical");
    wait_for_workers(&web, 1).await;
    let image = upload(&web.url("")).await;
    // One piece running and one waiting when the only lyrical worker stops for good.
    let ((mut running, running_job), (mut waiting, waiting_job)) = one_running_one_waiting(
        &web,
        request_in(Variant::Lyrical, &image, 8.0, 50),
        request_in(Variant::Lyrical, &image, 1.0, 51),
    )
    .await;
    lyrical.terminate();
    let (running_rest, waiting_rest) = tokio::join!(
        running.collect_job_within(Duration::from_secs(60)),
        waiting.collect_job_within(Duration::from_secs(60)),
    );
    for (job, rest) in [(running_job, running_rest), (waiting_job, waiting_rest)] {
        match rest.last() {
            ServerMsg::Error {
                code,
                message,
                job: Some(of),
            } => {
                assert_eq!((*code, *of), (ErrorCode::ModelsUnavailable, job));
                assert!(
                    message.contains("lyrical") && message.contains("withdrawn"),
                    "{message}"
                );
            }
            other => panic!("expected piece {job} withdrawn, got {other:?}"),
        }
        // Out of the cluster: taken from the queue, its row ended.
        assert_eq!(job_row(&cluster, job).await.state, JobState::Cancelled);
    }
}
