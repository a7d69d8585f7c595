//! A WebSocket client that speaks protocol v1, for tests.

use std::time::Duration;

use ekphrasis_shared::{AudioFrame, ClientMsg, PROTOCOL_VERSION, ServerMsg};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// What arrived from the server.
#[derive(Debug, PartialEq)]
pub enum Received {
    /// A control message.
    Msg(ServerMsg),
    /// A binary frame.
    Binary(Vec<u8>),
    /// A close frame with its code, or `None` when the connection simply ended.
    Closed(Option<u16>),
}

/// Everything one job sent, in order, up to and including its last message.
#[derive(Debug, Default)]
pub struct JobTranscript {
    /// The control messages.
    pub messages: Vec<ServerMsg>,
    /// The audio frames.
    pub frames: Vec<AudioFrame>,
}

impl JobTranscript {
    /// Every sample received, in arrival order.
    pub fn samples(&self) -> Vec<i16> {
        self.frames.iter().flat_map(|f| f.samples.clone()).collect()
    }

    /// The last message (`done`, `described` or an error).
    pub fn last(&self) -> &ServerMsg {
        self.messages.last().expect("a job sends messages")
    }
}

/// Whether a message is a job's last.
pub fn ends_job(message: &ServerMsg) -> bool {
    matches!(
        message,
        ServerMsg::Done { .. }
            | ServerMsg::Described { .. }
            | ServerMsg::Error { job: Some(_), .. }
    )
}

/// A connected client.
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Connects without saying anything.
    pub async fn connect(url: &str) -> Self {
        let (socket, _) = connect_async(url).await.expect("the websocket connects");
        Self { socket }
    }

    /// Connects, reads the server's hello and answers with ours.
    pub async fn handshake(url: &str) -> Self {
        let mut client = Self::connect(url).await;
        match client.recv().await {
            Received::Msg(ServerMsg::Hello { protocol, .. }) => {
                assert_eq!(protocol, PROTOCOL_VERSION)
            }
            other => panic!("expected the server's hello, got {other:?}"),
        }
        client
            .send(&ClientMsg::Hello {
                protocol: PROTOCOL_VERSION,
                agent: "ekphrasis-e2e".into(),
            })
            .await;
        client
    }

    /// Sends a message.
    pub async fn send(&mut self, message: &ClientMsg) {
        self.send_text(&serde_json::to_string(message).expect("serialises"))
            .await;
    }

    /// Sends raw text, valid or not.
    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("the socket is open");
    }

    /// Sends a raw message of any kind.
    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("the socket is open");
    }

    /// The next message, failing the test after 10 s.
    pub async fn recv(&mut self) -> Received {
        self.recv_within(Duration::from_secs(10)).await
    }

    /// The next message, failing the test after `limit`.
    pub async fn recv_within(&mut self, limit: Duration) -> Received {
        // One deadline for the message, however many pings come meanwhile.
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("the server answers within {limit:?}"));
            return match next {
                None => Received::Closed(None),
                Some(Err(_)) => Received::Closed(None),
                Some(Ok(Message::Text(text))) => Received::Msg(
                    serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("unreadable server message {text}: {e}")),
                ),
                Some(Ok(Message::Binary(bytes))) => Received::Binary(bytes.to_vec()),
                Some(Ok(Message::Close(frame))) => {
                    Received::Closed(frame.map(|f| u16::from(f.code)))
                }
                Some(Ok(_)) => continue,
            };
        }
    }

    /// Reads a job's messages and audio until its last message (`done`, `described` or a job
    /// error), or until a message not tied to a job: an error without a job ends it too.
    pub async fn collect_job(&mut self) -> JobTranscript {
        self.collect_job_within(Duration::from_secs(10)).await
    }

    /// The same, waiting up to `limit` for each message (for a job held up on purpose).
    pub async fn collect_job_within(&mut self, limit: Duration) -> JobTranscript {
        let mut transcript = JobTranscript::default();
        loop {
            match self.recv_within(limit).await {
                Received::Msg(message) => {
                    let last = ends_job(&message) || matches!(message, ServerMsg::Error { .. });
                    transcript.messages.push(message);
                    if last {
                        return transcript;
                    }
                }
                Received::Binary(bytes) => transcript.frames.push(
                    AudioFrame::decode(&bytes)
                        .expect("a readable audio frame")
                        .expect("a known frame tag"),
                ),
                Received::Closed(code) => panic!("the connection closed ({code:?}) mid-job"),
            }
        }
    }

    /// The next message, which must be an error; returns its code and message.
    pub async fn recv_error(&mut self) -> (ekphrasis_shared::ErrorCode, String) {
        match self.recv().await {
            Received::Msg(ServerMsg::Error { code, message, .. }) => (code, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
