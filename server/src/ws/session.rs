//! One WebSocket session: the handshake, then requests and answers, until either side closes or
//! the server shuts down. Generic over the socket's sink and stream, so tests drive it through
//! channels. A send task owns the sink; the receive loop answers through a channel to it and
//! forwards its job's messages and audio frames as the job's driver makes them. A connection
//! runs (or, after `resume`, follows) one job at a time; the job is cancelled when the client
//! cancels or the server shuts down, and left running for the runtime's grace when the client
//! goes away, for it to `resume` on another connection. The server pings every
//! [`SessionContext::ping_every`] and closes a socket it has heard nothing from (not even a
//! pong) for [`SILENT_PINGS`] of those: a live page, the kiosk's among them, answers pings by
//! itself, however long it sits idle.

use std::fmt::Display;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use axum::extract::ws::{CloseFrame, Message, close_code};
use ekphrasis_shared::{ClientMsg, ErrorCode, GenerateRequest, PROTOCOL_VERSION, ServerMsg};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::SERVER_NAME;
use crate::jobs::{JobBackend, JobHandle, JobKind, Outgoing};
use crate::state::AppState;

/// How long a client has to send its hello.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pings left unanswered, with nothing else heard, before a socket is closed as dead.
pub const SILENT_PINGS: u32 = 3;

/// What a session needs from the server.
#[derive(Clone)]
pub struct SessionContext {
    pub jobs: std::sync::Arc<dyn JobBackend>,
    pub shutdown: CancellationToken,
    /// How often the client is pinged (the server's client timeout).
    pub ping_every: Duration,
}

impl From<&AppState> for SessionContext {
    fn from(state: &AppState) -> Self {
        Self {
            jobs: state.jobs.clone(),
            shutdown: state.shutdown.clone(),
            ping_every: state.config.client_timeout(),
        }
    }
}

/// Runs a session to its end.
pub async fn run<Tx, Rx, E>(sink: Tx, stream: Rx, ctx: SessionContext)
where
    Tx: Sink<Message> + Unpin,
    Tx::Error: Display,
    Rx: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    let (out, outbox) = mpsc::channel(64);
    let receiving = async move {
        let mut session = Session {
            out,
            ctx,
            job: None,
        };
        session.receive(stream).await;
        session.leave();
    };
    tokio::join!(send_all(sink, outbox), receiving);
}

/// Forwards queued messages to the socket until the receive side is done, then closes it.
async fn send_all<Tx>(mut sink: Tx, mut outbox: mpsc::Receiver<Message>)
where
    Tx: Sink<Message> + Unpin,
    Tx::Error: Display,
{
    while let Some(message) = outbox.recv().await {
        let closing = matches!(message, Message::Close(_));
        if let Err(e) = sink.send(message).await {
            tracing::debug!(error = %e, "websocket send failed");
            return;
        }
        if closing {
            break;
        }
    }
    let _ = sink.close().await;
}

struct Session {
    out: mpsc::Sender<Message>,
    ctx: SessionContext,
    /// This connection's job, until its last message is sent.
    job: Option<JobHandle>,
}

/// Enough of a hello to tell a protocol mismatch from a malformed first message.
#[derive(Deserialize)]
struct HelloProbe {
    #[serde(rename = "type")]
    kind: String,
    protocol: Option<serde_json::Value>,
}

impl Session {
    async fn receive<Rx, E>(&mut self, mut stream: Rx)
    where
        Rx: Stream<Item = Result<Message, E>> + Unpin,
        E: Display,
    {
        self.send(ServerMsg::Hello {
            protocol: PROTOCOL_VERSION,
            server: SERVER_NAME.into(),
        })
        .await;
        if !self.handshake(&mut stream).await {
            return;
        }
        let every = self.ctx.ping_every;
        let mut pings = tokio::time::interval_at(Instant::now() + every, every);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            let next = tokio::select! {
                () = self.ctx.shutdown.cancelled() => {
                    self.close(close_code::AWAY, "the server is shutting down").await;
                    return;
                }
                update = next_update(&mut self.job) => {
                    self.forward(update).await;
                    continue;
                }
                _ = pings.tick() => {
                    let silent = last_heard.elapsed();
                    if silent >= every * SILENT_PINGS {
                        let reason = format!("nothing heard for {} s", silent.as_secs());
                        tracing::debug!(%reason, "closing a silent websocket");
                        self.close(close_code::AWAY, &reason).await;
                        return;
                    }
                    let _ = self.out.send(Message::Ping(Default::default())).await;
                    continue;
                }
                next = stream.next() => next,
            };
            if matches!(next, Some(Ok(_))) {
                last_heard = Instant::now();
            }
            match next {
                None | Some(Ok(Message::Close(_))) => return,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "websocket receive failed");
                    if is_too_big(&e) {
                        let reason = format!(
                            "a message is larger than {} KiB",
                            crate::ws::MAX_MESSAGE_BYTES / 1024
                        );
                        self.close(close_code::SIZE, &reason).await;
                    }
                    return;
                }
                Some(Ok(Message::Text(text))) => self.on_text(&text).await,
                Some(Ok(Message::Binary(_))) => {
                    self.error(
                        ErrorCode::MalformedMessage,
                        "clients send no binary messages in protocol 1",
                    )
                    .await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            }
        }
    }

    /// Waits for the client's hello; on anything else answers an error and closes.
    async fn handshake<Rx, E>(&mut self, stream: &mut Rx) -> bool
    where
        Rx: Stream<Item = Result<Message, E>> + Unpin,
        E: Display,
    {
        let first = tokio::select! {
            () = self.ctx.shutdown.cancelled() => {
                self.close(close_code::AWAY, "the server is shutting down").await;
                return false;
            }
            first = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.next()) => first,
        };
        let text = match first {
            Err(_elapsed) => {
                return self
                    .refuse(
                        ErrorCode::HandshakeRequired,
                        format!("no hello within {} s", HANDSHAKE_TIMEOUT.as_secs()),
                    )
                    .await;
            }
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return false,
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => {
                return self
                    .refuse(
                        ErrorCode::HandshakeRequired,
                        "the first message must be a JSON hello",
                    )
                    .await;
            }
        };
        match serde_json::from_str::<HelloProbe>(&text) {
            Ok(probe) if probe.kind == "hello" => {
                let protocol = probe.protocol.as_ref().and_then(|v| v.as_u64());
                if protocol == Some(u64::from(PROTOCOL_VERSION)) {
                    tracing::debug!("handshake complete");
                    return true;
                }
                let theirs = probe.protocol.map_or("none".to_string(), |v| v.to_string());
                self.refuse(
                    ErrorCode::ProtocolMismatch,
                    format!(
                        "this server speaks protocol {PROTOCOL_VERSION} and the client speaks \
                         protocol {theirs}: reload the page to get the matching app"
                    ),
                )
                .await
            }
            _ => {
                self.refuse(
                    ErrorCode::HandshakeRequired,
                    "the first message must be a hello with the protocol version",
                )
                .await
            }
        }
    }

    async fn on_text(&mut self, text: &str) {
        match serde_json::from_str::<ClientMsg>(text) {
            Err(e) => {
                self.error(
                    ErrorCode::MalformedMessage,
                    format!("the message could not be read: {e}"),
                )
                .await;
            }
            Ok(ClientMsg::Hello { .. }) => {
                self.error(ErrorCode::MalformedMessage, "the handshake is already done")
                    .await;
            }
            Ok(ClientMsg::Generate(request)) => self.start(JobKind::Generate, &request).await,
            Ok(ClientMsg::Describe(request)) => self.start(JobKind::Describe, &request).await,
            Ok(ClientMsg::Resume { job, from_frame }) => self.resume(job, from_frame).await,
            Ok(ClientMsg::Cancel) => {
                // Its driver answers `cancelled` when the job has stopped.
                if let Some(job) = &self.job {
                    job.cancel();
                }
            }
        }
    }

    /// Checks a request and hands it to the runtime; answers `accepted` or why not.
    async fn start(&mut self, kind: JobKind, request: &GenerateRequest) {
        if let Some(job) = &self.job {
            let message = format!(
                "this connection is already making piece {}: wait for it to finish, or cancel it",
                job.id
            );
            return self.error(ErrorCode::Busy, message).await;
        }
        let settings = match request.resolve(rand::random) {
            Ok(settings) => settings,
            Err(e) => return self.error(ErrorCode::InvalidRequest, e.to_string()).await,
        };
        match self.ctx.jobs.submit(kind, settings.clone()).await {
            Ok(job) => {
                tracing::info!(job = %job.id, ?kind, position = job.position, "job accepted");
                self.send(ServerMsg::Accepted {
                    job: job.id,
                    position: job.position,
                    settings,
                })
                .await;
                self.job = Some(job);
            }
            Err(refusal) => self.error(refusal.code, refusal.message).await,
        }
    }

    /// Follows a job this client started on another connection.
    async fn resume(&mut self, job: ekphrasis_shared::JobId, from_frame: u32) {
        if let Some(current) = &self.job {
            let message = format!(
                "this connection is already following piece {}: cancel it first",
                current.id
            );
            return self.error(ErrorCode::Busy, message).await;
        }
        match self.ctx.jobs.resume(job, from_frame).await {
            Ok(handle) => {
                tracing::info!(job = %handle.id, from_frame, "job resumed");
                self.job = Some(handle);
            }
            Err(refusal) => {
                self.send(ServerMsg::Error {
                    code: refusal.code,
                    message: refusal.message,
                    job: Some(job),
                })
                .await
            }
        }
    }

    /// The socket is done. At shutdown its job is cancelled; otherwise the client went away
    /// (closed, silent or unreachable) without cancelling, and the job goes on detached for it
    /// to come back.
    fn leave(&mut self) {
        let Some(job) = self.job.take() else {
            return;
        };
        if self.ctx.shutdown.is_cancelled() {
            // Dropping the handle cancels the job.
            drop(job);
        } else {
            tracing::info!(job = %job.id, "the client went away: its job goes on detached");
            job.detach();
        }
    }

    /// Sends one of the job's updates on; its last ends the job.
    async fn forward(&mut self, update: Option<Outgoing>) {
        let Some(update) = update else {
            self.job = None;
            return;
        };
        if update.ends_job() {
            self.job = None;
        }
        let message = match update {
            Outgoing::Message(message) => json(&message),
            Outgoing::Audio(frame) => Message::Binary(frame.encode().into()),
        };
        let _ = self.out.send(message).await;
    }

    async fn send(&self, message: ServerMsg) {
        // A closed socket means the client left; the receive loop notices on its own.
        let _ = self.out.send(json(&message)).await;
    }

    async fn error(&self, code: ErrorCode, message: impl Into<String>) {
        self.send(ServerMsg::error(code, message)).await;
    }

    /// Answers an error, closes with "protocol error", and reports the handshake failed.
    async fn refuse(&self, code: ErrorCode, message: impl Into<String>) -> bool {
        let message = message.into();
        tracing::info!(?code, %message, "handshake refused");
        self.error(code, message).await;
        self.close(close_code::PROTOCOL, "handshake failed").await;
        false
    }

    async fn close(&self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.out.send(Message::Close(Some(frame))).await;
    }
}

/// The next update of the job, if there is one; never resolves without a job.
async fn next_update(job: &mut Option<JobHandle>) -> Option<Outgoing> {
    match job {
        Some(job) => job.updates.recv().await,
        None => std::future::pending().await,
    }
}

fn json(message: &ServerMsg) -> Message {
    let text = serde_json::to_string(message).expect("server messages serialise");
    Message::Text(text.into())
}

/// Whether a receive error is the socket's size limit (tungstenite's "Space limit exceeded:
/// Message too long" / "Frame too long"), which is answered with close code 1009.
fn is_too_big(error: &impl Display) -> bool {
    let text = error.to_string();
    text.contains("Space limit exceeded") || text.contains("too long")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::channel::mpsc as fmpsc;

    use super::*;
    use crate::checkpoints::model_set::{LoadOptions, ModelDirs};
    use crate::gallery::Gallery;
    use crate::jobs::{Jobs, RuntimeOptions};
    use crate::metrics::Metrics;

    struct Harness {
        to_server: fmpsc::UnboundedSender<Result<Message, std::convert::Infallible>>,
        from_server: fmpsc::UnboundedReceiver<Message>,
        task: tokio::task::JoinHandle<()>,
        _data: tempfile::TempDir,
    }

    /// A session over a real runtime with the tiny demo models.
    async fn start() -> Harness {
        start_pinging_every(Duration::from_secs(20)).await
    }

    /// The same, pinging the client this often.
    async fn start_pinging_every(ping_every: Duration) -> Harness {
        let data = tempfile::tempdir().unwrap();
        let store = crate::store::open(data.path(), None).unwrap();
        let (dirs, demo) = ModelDirs::for_server(None, &[], None, true, data.path()).unwrap();
        let options = RuntimeOptions {
            workers: 1,
            queue_capacity: 4,
            job_timeout: Duration::from_secs(60),
            max_pixels: 1_000_000,
            resume_grace: Duration::from_secs(30),
            load: LoadOptions::default(),
        };
        let jobs = tokio::task::spawn_blocking(move || {
            Jobs::start(
                Arc::new(dirs),
                demo,
                &options,
                store,
                Arc::new(Gallery::default()),
                Metrics::new(),
            )
        })
        .await
        .unwrap()
        .unwrap();
        let ctx = SessionContext {
            jobs: Arc::new(jobs),
            shutdown: CancellationToken::new(),
            ping_every,
        };
        let (to_server, rx) = fmpsc::unbounded();
        let (tx, from_server) = fmpsc::unbounded();
        let task = tokio::spawn(run(tx, rx, ctx));
        Harness {
            to_server,
            from_server,
            task,
            _data: data,
        }
    }

    impl Harness {
        fn send(&self, text: &str) {
            self.to_server
                .unbounded_send(Ok(Message::Text(text.into())))
                .unwrap();
        }

        async fn next(&mut self) -> Message {
            self.from_server.next().await.expect("the server sent more")
        }

        async fn next_json(&mut self) -> ServerMsg {
            match self.next().await {
                Message::Text(text) => serde_json::from_str(&text).unwrap(),
                other => panic!("expected text, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn bad_requests_are_answered_and_the_connection_stays() {
        let mut h = start().await;
        assert!(matches!(
            h.next_json().await,
            ServerMsg::Hello { protocol: 1, .. }
        ));
        h.send(r#"{"type":"hello","protocol":1}"#);
        h.send(&format!(
            r#"{{"type":"generate","image":{{"upload":"{}"}}}}"#,
            "0".repeat(64)
        ));
        let ServerMsg::Error { code, .. } = h.next_json().await else {
            panic!("expected an error")
        };
        assert_eq!(code, ErrorCode::ImageNotFound);
        h.send(r#"{"type":"generate","image":{"gallery":"x"},"seconds":500}"#);
        let ServerMsg::Error { code, message, .. } = h.next_json().await else {
            panic!("expected an error")
        };
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert!(message.starts_with("seconds"), "{message}");
        drop(h.to_server);
        h.task.await.unwrap();
    }

    #[tokio::test]
    async fn a_wrong_protocol_is_refused_and_closed() {
        let mut h = start().await;
        h.next_json().await;
        h.send(r#"{"type":"hello","protocol":99,"agent":"future"}"#);
        let ServerMsg::Error { code, message, .. } = h.next_json().await else {
            panic!("expected an error")
        };
        assert_eq!(code, ErrorCode::ProtocolMismatch);
        assert!(message.contains("99"), "{message}");
        let Message::Close(Some(frame)) = h.next().await else {
            panic!("expected a close")
        };
        assert_eq!(frame.code, close_code::PROTOCOL);
        h.task.await.unwrap();
    }

    #[tokio::test]
    async fn a_request_before_the_hello_is_refused() {
        let mut h = start().await;
        h.next_json().await;
        h.send(r#"{"type":"cancel"}"#);
        let ServerMsg::Error { code, .. } = h.next_json().await else {
            panic!("expected an error")
        };
        assert_eq!(code, ErrorCode::HandshakeRequired);
        assert!(matches!(h.next().await, Message::Close(Some(_))));
    }

    #[tokio::test]
    async fn a_client_that_answers_pings_stays_and_a_silent_one_is_closed() {
        let every = Duration::from_millis(100);
        let mut h = start_pinging_every(every).await;
        h.next_json().await;
        h.send(r#"{"type":"hello","protocol":1}"#);
        // Answering every ping for longer than the silence allowed keeps the socket open.
        for _ in 0..(SILENT_PINGS * 2) {
            let Message::Ping(payload) = h.next().await else {
                panic!("expected a ping")
            };
            h.to_server
                .unbounded_send(Ok(Message::Pong(payload)))
                .unwrap();
        }
        // Then silence: pings go unanswered until the server gives up.
        let started = Instant::now();
        let frame = loop {
            match h.next().await {
                Message::Ping(_) => {}
                Message::Close(Some(frame)) => break frame,
                other => panic!("expected a ping or a close, got {other:?}"),
            }
        };
        assert_eq!(frame.code, close_code::AWAY);
        assert!(frame.reason.contains("nothing heard"), "{}", frame.reason);
        assert!(started.elapsed() >= every * (SILENT_PINGS - 1));
        h.task.await.unwrap();
    }
}
