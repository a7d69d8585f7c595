//! `ekphrasis bench cluster`: the scale-out cluster on one machine — web nodes (`serve --role
//! web`) and 1, 2, 4… workers (`ekphrasis worker --demo`, one slot each), child processes of this
//! binary over a broker, database and store given on the command line — with N pieces submitted
//! at once over N WebSockets: pieces a minute, and the median and worst time to the first audio
//! frame. Then the broker's own cost per frame: frame-sized messages published to the jobs'
//! output stream and read back through an ordered consumer, as a web node reads them, timed with
//! one clock in this process.
//!
//! Every child is stopped (SIGTERM, then SIGKILL after a grace period) when its cluster's run
//! ends, on an error or a panic too.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_nats::jetstream::consumer;
use clap::Args;
use ekphrasis_shared::api::{Health, UploadedImage};
use ekphrasis_shared::{
    AudioFrame, ClientMsg, GenerateRequest, ImageRef, JobId, PROTOCOL_VERSION, ServerMsg,
};
use futures_util::{SinkExt, StreamExt};
use image::{Rgb, RgbImage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::cluster::broker::{Broker, BrokerOptions};
use crate::cluster::{envelope, redact, subjects};
use crate::jobs::Outgoing;

/// Flags of `ekphrasis bench cluster`.
#[derive(Debug, Args)]
pub struct BenchClusterArgs {
    /// The NATS JetStream broker, e.g. nats://127.0.0.1:4222 (one of the benchmark's own: its
    /// streams are set up as the nodes set them, with room for every piece).
    #[arg(long)]
    pub broker: String,
    /// The PostgreSQL database, e.g. postgres://ekphrasis@127.0.0.1:5432/bench.
    #[arg(long)]
    pub database: String,
    /// The shared store: s3://bucket/prefix (the `AWS_*` variables of this process reach the
    /// nodes) or a folder.
    #[arg(long)]
    pub store: String,
    /// The worker counts to measure, a cluster each, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    pub workers: Vec<usize>,
    /// Pieces submitted at once, each over its own WebSocket, distinct seeds.
    #[arg(long, default_value_t = 8)]
    pub pieces: usize,
    /// Seconds of music a piece.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f32,
    /// Web nodes; the pieces are spread over them in turn.
    #[arg(long, default_value_t = 1)]
    pub web: usize,
    /// Compute threads of each worker (its CANDLE_NUM_THREADS and RAYON_NUM_THREADS) [default:
    /// candle's own choice, one per core, in every worker].
    #[arg(long)]
    pub worker_threads: Option<usize>,
    /// Frames sent through the broker to time its added latency.
    #[arg(long, default_value_t = 1000)]
    pub frames: usize,
}

/// Samples in a full audio frame (the job driver's largest, 256 ms at 32 kHz).
const FRAME_SAMPLES: usize = 8192;
/// How long a child may take to print its ready line.
const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a stopped child may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The longest a piece's WebSocket may stay silent.
const SILENCE_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest a frame may take through the broker before the measurement gives up.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the benchmark.
pub fn run(args: BenchClusterArgs) -> anyhow::Result<()> {
    if args.workers.is_empty() || args.workers.contains(&0) {
        bail!("--workers takes worker counts of at least 1, e.g. 1,2,4");
    }
    if args.pieces == 0 || args.web == 0 || args.frames == 0 || args.worker_threads == Some(0) {
        bail!("--pieces, --web, --frames and --worker-threads must be at least 1");
    }
    let exe = std::env::current_exe().context("this program's path")?;
    let queue_capacity = args.pieces.max(32);
    let runtime = tokio::runtime::Runtime::new()?;

    println!(
        "The cluster on this machine: {} web node(s) and workers of the tiny demo models (one \
         slot and {} compute threads each), child processes of {} ({} build); {} pieces of \
         {} s (lyrical, distinct seeds) submitted at once over {} WebSockets; broker {}, \
         database {}, store {}",
        args.web,
        args.worker_threads
            .map_or("candle's default".to_owned(), |n| n.to_string()),
        exe.display(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        args.pieces,
        args.seconds,
        args.pieces,
        redact(&args.broker),
        redact(&args.database),
        args.store,
    );
    let latency = runtime.block_on(broker_latency(&args.broker, queue_capacity, args.frames))?;

    // Distinct seeds across runs and invocations: no piece is an earlier request's replay.
    let first_seed = rand::random::<u64>() >> 12;
    let mut rows = Vec::new();
    for (run, &workers) in args.workers.iter().enumerate() {
        let started = Instant::now();
        let cluster = Cluster::start(&exe, &args, queue_capacity, workers)?;
        eprintln!(
            "{workers} worker(s) and {} web node(s) up in {:.1} s",
            args.web,
            started.elapsed().as_secs_f64()
        );
        let seeds = first_seed + (run * args.pieces) as u64;
        let measured = runtime.block_on(cluster.measure(&args, seeds));
        cluster.stop();
        let pieces = measured?;
        rows.push((workers, Figures::of(&pieces)));
    }

    println!();
    println!("| workers | pieces/min | first audio (median) | first audio (worst) |");
    println!("|---|---|---|---|");
    for (workers, figures) in &rows {
        println!(
            "| {workers} | {:.1} | {:.2} s | {:.2} s |",
            figures.pieces_a_minute,
            figures.first_audio_median.as_secs_f64(),
            figures.first_audio_worst.as_secs_f64(),
        );
    }
    println!();
    println!(
        "The broker's added latency per frame ({FRAME_SAMPLES} samples, {} bytes, published \
         to {} and read through an ordered consumer), {} frames:",
        frame_bytes(),
        subjects::OUT_STREAM,
        args.frames
    );
    println!("| frames sent | median | p99 | worst |");
    println!("|---|---|---|---|");
    for (label, spread) in [
        ("one at a time", &latency.one_at_a_time),
        ("all at once", &latency.all_at_once),
    ] {
        println!(
            "| {label} | {:.3} ms | {:.3} ms | {:.3} ms |",
            millis(spread.median),
            millis(spread.p99),
            millis(spread.worst)
        );
    }
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// The bytes of one full frame's message body.
fn frame_bytes() -> usize {
    ekphrasis_shared::frame::HEADER_LEN + 2 * FRAME_SAMPLES
}

/// One piece's times, on this process's clock.
#[derive(Debug, Clone, Copy)]
struct PieceTimes {
    submitted: Instant,
    first_audio: Instant,
    done: Instant,
}

/// One run's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Figures {
    pieces_a_minute: f64,
    first_audio_median: Duration,
    first_audio_worst: Duration,
}

impl Figures {
    /// Pieces a minute from the first submission to the last `done`; each piece's time to first
    /// audio from its own submission.
    fn of(pieces: &[PieceTimes]) -> Self {
        let start = pieces.iter().map(|p| p.submitted).min().expect("pieces");
        let end = pieces.iter().map(|p| p.done).max().expect("pieces");
        let mut first: Vec<Duration> = pieces.iter().map(|p| p.first_audio - p.submitted).collect();
        first.sort();
        Self {
            pieces_a_minute: pieces.len() as f64 * 60.0 / (end - start).as_secs_f64(),
            first_audio_median: first[first.len() / 2],
            first_audio_worst: first[first.len() - 1],
        }
    }
}

/// The median, 99th percentile and worst of some durations.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spread {
    median: Duration,
    p99: Duration,
    worst: Duration,
}

impl Spread {
    fn of(mut values: Vec<Duration>) -> Self {
        values.sort();
        let n = values.len();
        Self {
            median: values[n / 2],
            p99: values[(n * 99).div_ceil(100).max(1) - 1],
            worst: values[n - 1],
        }
    }
}

/// The broker's latency per frame, frames sent one after another's arrival and all at once.
struct Latency {
    one_at_a_time: Spread,
    all_at_once: Spread,
}

/// Publishes `frames` full audio frames to a fresh subject of the jobs' output stream and reads
/// them back through an ordered consumer (as a web node follows a job), once waiting for each
/// before sending the next, once sending all at once; the subjects are purged after.
async fn broker_latency(
    url: &str,
    queue_capacity: usize,
    frames: usize,
) -> anyhow::Result<Latency> {
    let options = BrokerOptions {
        queue_capacity,
        ack_wait: Duration::from_secs(30),
        max_deliver: BrokerOptions::MAX_DELIVER,
        output_kept: BrokerOptions::OUTPUT_KEPT,
    };
    let broker = Broker::connect(url, "ekphrasis-bench", options).await?;
    let stream = broker
        .jetstream
        .get_stream(subjects::OUT_STREAM)
        .await
        .context("the jobs' output stream")?;
    let body = |seq: usize| {
        let frame = AudioFrame {
            seq: seq as u32,
            first_sample: (seq * FRAME_SAMPLES) as u64,
            samples: (0..FRAME_SAMPLES)
                .map(|i| ((i * 37 + seq) % 65_536) as u16 as i16)
                .collect(),
        };
        envelope::encode(&Outgoing::Audio(frame), 1)
    };

    let mut spreads = Vec::new();
    for all_at_once in [false, true] {
        let subject = subjects::out(JobId((rand::random::<u64>() >> 11).max(1)));
        let mut output = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: subject.clone(),
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .context("an ordered consumer of the output stream")?
            .messages()
            .await
            .context("reading the output stream")?;
        let bodies: Vec<_> = (0..frames).map(body).collect();
        let mut sent = Vec::with_capacity(frames);
        let mut received = Vec::with_capacity(frames);
        let mut acks = Vec::with_capacity(frames);
        if all_at_once {
            let reader = tokio::spawn(async move {
                let mut times = Vec::with_capacity(frames);
                for _ in 0..frames {
                    times.push(receive(&mut output).await?);
                }
                anyhow::Ok(times)
            });
            for (headers, payload) in bodies {
                sent.push(Instant::now());
                acks.push(publish(&broker, &subject, headers, payload).await?);
            }
            received = reader.await.context("the reading task")??;
        } else {
            for (headers, payload) in bodies {
                sent.push(Instant::now());
                acks.push(publish(&broker, &subject, headers, payload).await?);
                received.push(receive(&mut output).await?);
            }
        }
        for ack in acks {
            ack.await.context("the broker storing a frame")?;
        }
        stream
            .purge()
            .filter(subject.as_str())
            .await
            .context("purging the frames")?;
        let latencies = sent.iter().zip(&received).map(|(s, r)| *r - *s).collect();
        spreads.push(Spread::of(latencies));
    }
    Ok(Latency {
        one_at_a_time: spreads[0],
        all_at_once: spreads[1],
    })
}

/// The next frame of `output`, and when it arrived (read as a web node reads it).
/// Publishes one frame, handing back the broker's acknowledgement to wait for later.
async fn publish(
    broker: &Broker,
    subject: &str,
    headers: async_nats::HeaderMap,
    payload: bytes::Bytes,
) -> anyhow::Result<async_nats::jetstream::context::PublishAckFuture> {
    Ok(broker
        .jetstream
        .publish_with_headers(subject.to_owned(), headers, payload)
        .await?)
}

async fn receive(output: &mut consumer::pull::Ordered) -> anyhow::Result<Instant> {
    let message = tokio::time::timeout(FRAME_TIMEOUT, output.next())
        .await
        .context("a frame took over 10 s through the broker")?
        .context("the broker stopped sending")?
        .context("reading a frame")?;
    let at = Instant::now();
    envelope::decode(message.message.headers.as_ref(), &message.message.payload)?;
    Ok(at)
}

/// A child process of this binary: its data folder and log live in `dir`.
struct Node {
    name: String,
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

/// A child started, not yet ready (its address unknown).
struct Starting {
    node: Node,
    ready: mpsc::Receiver<String>,
}

impl Starting {
    /// Starts `command` (a subcommand of this binary with its own flags) with the shared flags;
    /// `ready` precedes the address on the line it prints when it listens.
    fn spawn(
        mut command: Command,
        name: &str,
        dir: tempfile::TempDir,
        args: &BenchClusterArgs,
        queue_capacity: usize,
        ready: &'static str,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(dir.path().join("node.log")).context("a log file")?;
        command
            .args(["--addr", "127.0.0.1:0"])
            .arg("--data")
            .arg(dir.path().join("data"))
            .args(["--broker", &args.broker])
            .args(["--database", &args.database])
            .args(["--store", &args.store])
            .args(["--queue-capacity", &queue_capacity.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tell, told) = mpsc::channel();
        // Reads every line, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tell = Some(tell);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((_, addr)) = line.split_once(ready)
                    && let Some(tell) = tell.take()
                {
                    let _ = tell.send(addr.trim().to_owned());
                }
            }
        });
        let node = Node {
            name: name.to_owned(),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            child,
            dir,
        };
        Ok(Self { node, ready: told })
    }

    /// Waits for its ready line, until `deadline`; killed if it does not come.
    fn ready(self, deadline: Instant) -> anyhow::Result<Node> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let addr = self
            .ready
            .recv_timeout(wait)
            .ok()
            .and_then(|addr| addr.parse::<SocketAddr>().ok());
        let mut node = self.node;
        match addr {
            Some(addr) => {
                node.addr = addr;
                Ok(node)
            }
            None => {
                node.kill();
                bail!(
                    "{} did not start; the end of its log:\n{}",
                    node.name,
                    log_tail(node.dir.path())
                )
            }
        }
    }
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Node {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Kills it (SIGKILL) unless it has exited, and waits for it.
    fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// Asks it to stop (SIGTERM), without waiting.
    fn terminate(&mut self) {
        let asked = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !asked {
            let _ = self.child.kill();
        }
    }

    /// Waits until it has exited, killing it (SIGKILL) at `deadline`.
    fn reap(&mut self, deadline: Instant) {
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop within {STOP_GRACE:?}: killed", self.name);
        self.kill();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One run's processes: workers first, then web nodes. All are killed when it is dropped.
struct Cluster {
    workers: Vec<Node>,
    webs: Vec<Node>,
}

impl Cluster {
    /// Starts `workers` workers and the web nodes, and waits until each prints its address.
    fn start(
        exe: &Path,
        args: &BenchClusterArgs,
        queue_capacity: usize,
        workers: usize,
    ) -> anyhow::Result<Self> {
        // The names (and so every child's command line, through its folders) carry this
        // process's id: `ps` tells a leftover child.
        let run = format!("bench-{}-{workers}w", std::process::id());
        let mut starting = Vec::new();
        for i in 1..=workers {
            let name = format!("{run}-worker-{i}");
            let dir = tempfile::Builder::new()
                .prefix(&format!("{name}-"))
                .tempdir()?;
            let mut command = Command::new(exe);
            command
                .arg("worker")
                .args(["--name", &name, "--demo", "--workers", "1"]);
            if let Some(threads) = args.worker_threads {
                command
                    .env("CANDLE_NUM_THREADS", threads.to_string())
                    .env("RAYON_NUM_THREADS", threads.to_string());
            }
            starting.push(Starting::spawn(
                command,
                &name,
                dir,
                args,
                queue_capacity,
                " listening on http://",
            )?);
        }
        for i in 1..=args.web {
            let name = format!("{run}-web-{i}");
            let dir = tempfile::Builder::new()
                .prefix(&format!("{name}-"))
                .tempdir()?;
            let mut command = Command::new(exe);
            // No app to serve and no gallery to store: both folders are left empty.
            command
                .arg("serve")
                .args(["--role", "web"])
                .arg("--static-dir")
                .arg(dir.path().join("dist"))
                .arg("--gallery")
                .arg(dir.path().join("gallery"));
            starting.push(Starting::spawn(
                command,
                &name,
                dir,
                args,
                queue_capacity,
                "listening on http://",
            )?);
        }
        let deadline = Instant::now() + START_TIMEOUT;
        let mut nodes = Vec::new();
        for child in starting.drain(..) {
            nodes.push(child.ready(deadline)?);
        }
        let webs = nodes.split_off(workers);
        Ok(Self {
            workers: nodes,
            webs,
        })
    }

    /// Waits until every web node lists every worker, uploads a painting, and runs the pieces.
    async fn measure(
        &self,
        args: &BenchClusterArgs,
        first_seed: u64,
    ) -> anyhow::Result<Vec<PieceTimes>> {
        let http = reqwest::Client::new();
        let names: Vec<&str> = self.workers.iter().map(|w| w.name.as_str()).collect();
        for web in &self.webs {
            self.wait_for_workers(&http, web, &names).await?;
        }
        let response = http
            .post(self.webs[0].url("/api/images"))
            .body(painting()?)
            .send()
            .await
            .context("uploading the painting")?;
        if !response.status().is_success() {
            bail!(
                "the upload was refused ({}): {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        let image: UploadedImage = response.json().await.context("the upload's answer")?;

        // Every connection open and past its handshake before the first submission.
        let mut sockets = Vec::new();
        for i in 0..args.pieces {
            let web = &self.webs[i % self.webs.len()];
            sockets.push(handshake(&format!("ws://{}/ws", web.addr)).await?);
        }
        let tasks: Vec<_> = sockets
            .into_iter()
            .enumerate()
            .map(|(i, socket)| {
                let mut request = GenerateRequest::new(ImageRef::Upload(image.id.clone()));
                request.seconds = Some(args.seconds);
                request.seed = Some(first_seed + i as u64);
                tokio::spawn(piece(socket, request))
            })
            .collect();
        let mut pieces = Vec::new();
        for task in tasks {
            pieces.push(task.await.context("a piece's task")??);
        }
        Ok(pieces)
    }

    async fn wait_for_workers(
        &self,
        http: &reqwest::Client,
        web: &Node,
        names: &[&str],
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen = match http.get(web.url("/api/health")).send().await {
                Ok(response) => response.json::<Health>().await.ok(),
                Err(_) => None,
            };
            let listed = seen.and_then(|h| h.cluster).is_some_and(|cluster| {
                names
                    .iter()
                    .all(|name| cluster.workers.iter().any(|w| w == name))
            });
            if listed {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not list the workers {names:?} within 60 s; the end of its log:\n{}",
                    web.name,
                    log_tail(web.dir.path())
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every process (SIGTERM, SIGKILL after the grace period) and waits for them.
    fn stop(mut self) {
        let mut nodes: Vec<&mut Node> = self.webs.iter_mut().chain(&mut self.workers).collect();
        let deadline = Instant::now() + STOP_GRACE;
        for node in nodes.iter_mut() {
            node.terminate();
        }
        for node in nodes {
            node.reap(deadline);
        }
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects, reads the server's hello and answers with ours.
async fn handshake(url: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    match next_message(&mut socket).await? {
        Some(Message::Text(text)) => match serde_json::from_str(&text)? {
            ServerMsg::Hello { .. } => {}
            other => bail!("expected the server's hello, got {other:?}"),
        },
        other => bail!("expected the server's hello, got {other:?}"),
    }
    let hello = ClientMsg::Hello {
        protocol: PROTOCOL_VERSION,
        agent: concat!("ekphrasis-bench/", env!("CARGO_PKG_VERSION")).into(),
    };
    socket
        .send(Message::text(serde_json::to_string(&hello)?))
        .await?;
    Ok(socket)
}

async fn next_message(socket: &mut Socket) -> anyhow::Result<Option<Message>> {
    tokio::time::timeout(SILENCE_TIMEOUT, socket.next())
        .await
        .context("the web node was silent for 300 s")?
        .transpose()
        .context("reading the WebSocket")
}

/// Submits one piece and reads it to `done`.
async fn piece(mut socket: Socket, request: GenerateRequest) -> anyhow::Result<PieceTimes> {
    let text = serde_json::to_string(&ClientMsg::Generate(request))?;
    let submitted = Instant::now();
    socket.send(Message::text(text)).await?;
    let mut first_audio = None;
    loop {
        match next_message(&mut socket).await? {
            Some(Message::Binary(_)) => {
                first_audio.get_or_insert_with(Instant::now);
            }
            Some(Message::Text(text)) => match serde_json::from_str::<ServerMsg>(&text)? {
                ServerMsg::Done { .. } => {
                    let done = Instant::now();
                    let _ = socket.close(None).await;
                    return Ok(PieceTimes {
                        submitted,
                        first_audio: first_audio.context("`done` came before any audio")?,
                        done,
                    });
                }
                ServerMsg::Error { code, message, .. } => {
                    bail!("a piece failed: {code:?}: {message}")
                }
                _ => {}
            },
            Some(Message::Close(_)) | None => bail!("the web node closed the connection mid-piece"),
            Some(_) => {}
        }
    }
}

/// A 320×240 test painting, as PNG.
fn painting() -> anyhow::Result<Vec<u8>> {
    let image = RgbImage::from_fn(320, 240, |x, y| {
        Rgb([(x * 3 / 4) as u8, y as u8, ((x + 2 * y) / 3) as u8])
    });
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_count_from_the_first_submission_to_the_last_done() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let pieces = [
            PieceTimes {
                submitted: at(0),
                first_audio: at(100),
                done: at(1_000),
            },
            PieceTimes {
                submitted: at(10),
                first_audio: at(1_010),
                done: at(2_000),
            },
            PieceTimes {
                submitted: at(20),
                first_audio: at(520),
                done: at(3_000),
            },
        ];
        let figures = Figures::of(&pieces);
        assert!((figures.pieces_a_minute - 60.0).abs() < 1e-9);
        assert_eq!(figures.first_audio_median, Duration::from_millis(500));
        assert_eq!(figures.first_audio_worst, Duration::from_millis(1_000));
    }

    #[test]
    fn the_99th_percentile_is_the_value_below_which_99_percent_lie() {
        let values: Vec<Duration> = (1..=1000).rev().map(Duration::from_micros).collect();
        let spread = Spread::of(values);
        assert_eq!(spread.median, Duration::from_micros(501));
        assert_eq!(spread.p99, Duration::from_micros(990));
        assert_eq!(spread.worst, Duration::from_micros(1000));
        let one = Spread::of(vec![Duration::from_millis(3)]);
        assert_eq!(one.p99, Duration::from_millis(3));
    }

    #[test]
    fn a_full_frame_is_16_kib_and_its_header() {
        assert_eq!(frame_bytes(), 16 * 1024 + 13);
    }
}
