//! The `/ws` endpoint: upgrades the connection and runs one [`session`] on it.

pub mod session;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use futures_util::StreamExt;

use crate::state::AppState;

/// Largest control message a client may send.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let _counted = state.metrics.websocket_opened();
            let (sink, stream) = socket.split();
            session::run(sink, stream, session::SessionContext::from(&state)).await;
        })
}
