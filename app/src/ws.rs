//! The WebSocket to the server: opening it, the protocol handshake, passing on what the server
//! sends, and reconnecting with backoff when it drops (but not after a protocol mismatch). The
//! page hears when a socket drops and when a new one is ready, to pick its piece up again.

use std::rc::Rc;

use ekphrasis_shared::{AudioFrame, ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg};
use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use gloo_timers::future::TimeoutFuture;
use leptos::logging::warn;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::backoff::{countdown, delay_ms};
use crate::connection::ConnectionState;
use crate::problem::Problem;

/// How this page introduces itself in the handshake.
const AGENT: &str = concat!("ekphrasis-app/", env!("CARGO_PKG_VERSION"));

/// Something the connection passes on to the page.
#[derive(Debug)]
pub enum Incoming {
    /// A control message, after the handshake.
    Message(ServerMsg),
    /// A binary audio frame.
    Audio(AudioFrame),
    /// A binary message that is not a readable audio frame.
    UnreadableAudio,
    /// The connection dropped; a new one is being tried.
    Dropped,
    /// A new connection completed its handshake: requests can be sent.
    Connected,
}

/// Sending a message needs a connection that has completed its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not connected to the server")]
pub struct NotConnected;

/// The page's handle on the connection: its state, why it stopped, and a way to send.
#[derive(Clone, Copy)]
pub struct Connection {
    state: RwSignal<ConnectionState>,
    problem: RwSignal<Option<Problem>>,
    outbox: StoredValue<Option<UnboundedSender<ClientMsg>>, LocalStorage>,
}

/// How one socket's life ended.
enum SocketEnd {
    /// It closed or failed; try again. `greeted` tells whether the handshake completed.
    Dropped { greeted: bool },
    /// The server cannot talk to this page: stop trying.
    Refused(Problem),
}

impl Connection {
    /// Connects to the server of this page and keeps connected, passing what arrives to
    /// `on_incoming`, with the connection to answer through.
    pub fn open(on_incoming: impl Fn(Incoming, Connection) + 'static) -> Self {
        let connection = Connection {
            state: RwSignal::new(ConnectionState::Connecting),
            problem: RwSignal::new(None),
            outbox: StoredValue::new_local(None),
        };
        let on_incoming = move |incoming: Incoming| on_incoming(incoming, connection);
        spawn_local(connection.keep_connected(Rc::new(on_incoming)));
        connection
    }

    /// The connection's state (tracked).
    pub fn state(&self) -> ConnectionState {
        self.state.get()
    }

    /// Why the page stopped connecting, if it did (tracked).
    pub fn problem(&self) -> Option<Problem> {
        self.problem.get()
    }

    /// Whether requests can be sent now (tracked).
    pub fn is_connected(&self) -> bool {
        self.state
            .with(|state| *state == ConnectionState::Connected)
    }

    /// Sends a message to the server.
    pub fn send(&self, message: ClientMsg) -> Result<(), NotConnected> {
        self.outbox.with_value(|outbox| {
            outbox
                .as_ref()
                .ok_or(NotConnected)?
                .unbounded_send(message)
                .map_err(|_| NotConnected)
        })
    }

    async fn keep_connected(self, on_incoming: Rc<dyn Fn(Incoming)>) {
        let Some(url) = socket_url() else {
            self.stop(Problem::network());
            return;
        };
        let mut retry = 0;
        loop {
            self.state.set(ConnectionState::Connecting);
            match self.run_socket(&url, on_incoming.as_ref()).await {
                SocketEnd::Refused(problem) => {
                    self.stop(problem);
                    return;
                }
                SocketEnd::Dropped { greeted } => {
                    on_incoming(Incoming::Dropped);
                    if greeted {
                        retry = 0;
                    }
                }
            }
            for step in countdown(delay_ms(retry)) {
                self.state.set(ConnectionState::Reconnecting {
                    in_seconds: step.seconds_left,
                });
                TimeoutFuture::new(step.lasts_ms).await;
            }
            retry = retry.saturating_add(1);
        }
    }

    fn stop(&self, problem: Problem) {
        self.problem.set(Some(problem));
        self.state.set(ConnectionState::Disconnected);
    }

    /// Runs one socket from opening to closing.
    async fn run_socket(&self, url: &str, on_incoming: &dyn Fn(Incoming)) -> SocketEnd {
        let socket = match WebSocket::open(url) {
            Ok(socket) => socket,
            Err(error) => {
                warn!("could not open {url}: {error}");
                return SocketEnd::Dropped { greeted: false };
            }
        };
        let (sink, mut stream) = socket.split();
        let (outbox, queued) = mpsc::unbounded();
        spawn_local(write_all(sink, queued));
        // Our hello goes first; requests are only accepted once the server's hello is in.
        let hello = ClientMsg::Hello {
            protocol: PROTOCOL_VERSION,
            agent: AGENT.to_owned(),
        };
        if outbox.unbounded_send(hello).is_err() {
            return SocketEnd::Dropped { greeted: false };
        }

        let mut greeted = false;
        let end = loop {
            let Some(received) = stream.next().await else {
                break SocketEnd::Dropped { greeted };
            };
            match received {
                Ok(Message::Text(text)) => match serde_json::from_str::<ServerMsg>(&text) {
                    Ok(ServerMsg::Hello { protocol, .. }) if protocol != PROTOCOL_VERSION => {
                        break SocketEnd::Refused(Problem::server_speaks(protocol));
                    }
                    Ok(ServerMsg::Hello { .. }) => {
                        greeted = true;
                        self.outbox.set_value(Some(outbox.clone()));
                        self.state.set(ConnectionState::Connected);
                        on_incoming(Incoming::Connected);
                    }
                    Ok(ServerMsg::Error {
                        code: ErrorCode::ProtocolMismatch,
                        message,
                        ..
                    }) => {
                        break SocketEnd::Refused(Problem::from_server(
                            ErrorCode::ProtocolMismatch,
                            &message,
                        ));
                    }
                    Ok(message) => on_incoming(Incoming::Message(message)),
                    Err(error) => warn!("ignoring a message this page cannot read: {error}"),
                },
                Ok(Message::Bytes(bytes)) => match AudioFrame::decode(&bytes) {
                    Ok(Some(frame)) => on_incoming(Incoming::Audio(frame)),
                    Ok(None) => {}
                    Err(error) => {
                        warn!("ignoring an unreadable audio frame: {error}");
                        on_incoming(Incoming::UnreadableAudio);
                    }
                },
                // The stream ends right after these; the loop ends with it.
                Err(error) => warn!("connection to the server: {error}"),
            }
        };
        // Dropping both senders ends the writer, which lets go of its half of the socket; the
        // socket closes when our half goes at the end of this function.
        self.outbox.set_value(None);
        end
    }
}

/// Writes queued messages to the socket until every sender is gone or the socket fails.
async fn write_all(
    mut sink: SplitSink<WebSocket, Message>,
    mut queued: UnboundedReceiver<ClientMsg>,
) {
    while let Some(message) = queued.next().await {
        let text = match serde_json::to_string(&message) {
            Ok(text) => text,
            Err(error) => {
                warn!("could not write a message: {error}");
                continue;
            }
        };
        if let Err(error) = sink.send(Message::Text(text)).await {
            warn!("could not send to the server: {error}");
            return;
        }
    }
}

/// The WebSocket address on the host that served this page.
fn socket_url() -> Option<String> {
    let location = window().location();
    let scheme = match location.protocol().ok()?.as_str() {
        "https:" => "wss",
        _ => "ws",
    };
    Some(format!("{scheme}://{}/ws", location.host().ok()?))
}
