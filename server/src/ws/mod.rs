//! The `/ws` endpoint: upgrades the connection (pages of other origins are refused, see
//! [`crate::http::origin`]) and runs one [`session`] on it.

pub mod session;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::state::AppState;

/// Largest control message a client may send.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// The socket's read buffer. Clients send only small JSON messages; tungstenite's default of
/// 128 KiB made each idle socket cost about that much.
pub const READ_BUFFER_BYTES: usize = 8 * 1024;

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(refused) = crate::http::origin::check(&headers, &state.config) {
        return refused.into_response();
    }
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let _counted = state.metrics.websocket_opened();
            let (sink, stream) = socket.split();
            session::run(sink, stream, session::SessionContext::from(&state)).await;
        })
}
