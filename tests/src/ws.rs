//! A WebSocket client that speaks protocol v1, for tests.

use std::time::Duration;

use ekphrasis_shared::{ClientMsg, PROTOCOL_VERSION, ServerMsg};
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
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("the server answers within 10 s");
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

    /// The next message, which must be an error; returns its code and message.
    pub async fn recv_error(&mut self) -> (ekphrasis_shared::ErrorCode, String) {
        match self.recv().await {
            Received::Msg(ServerMsg::Error { code, message, .. }) => (code, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
