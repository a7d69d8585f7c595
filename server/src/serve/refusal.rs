//! The answer for a connection past the cap: a short JSON 503 with `Retry-After`, written after
//! reading the request's head (closing a socket with unread bytes would reset it before the
//! client reads the answer). At most [`REFUSALS_AT_ONCE`] are answered at a time; past those a
//! connection is closed at once.

use std::sync::Arc;
use std::time::Duration;

use ekphrasis_shared::ErrorCode;
use ekphrasis_shared::api::ErrorBody;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::ConnectionLimits;

/// Refusals being written at once.
pub const REFUSALS_AT_ONCE: usize = 64;
/// The most of a refused request's head that is read.
const HEAD_LIMIT: usize = 16 * 1024;
/// The longest a refusal waits on its client.
const PATIENCE: Duration = Duration::from_secs(5);
/// What a refused client is told to wait before trying again, in seconds.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Writes refusals, a bounded number at a time.
#[derive(Clone)]
pub struct Refusals {
    at_once: Arc<Semaphore>,
    response: Arc<[u8]>,
    patience: Duration,
}

impl Refusals {
    pub fn new(limits: ConnectionLimits) -> Self {
        Self {
            at_once: Arc::new(Semaphore::new(REFUSALS_AT_ONCE)),
            response: response(limits.max_connections).into(),
            patience: PATIENCE.min(limits.client_timeout),
        }
    }

    /// Answers `stream` with the 503 in the background, or closes it if too many are
    /// being answered already.
    pub fn refuse(&self, mut stream: TcpStream) {
        let Ok(permit) = self.at_once.clone().try_acquire_owned() else {
            return;
        };
        let (response, patience) = (self.response.clone(), self.patience);
        tokio::spawn(async move {
            let _permit = permit;
            let answered = tokio::time::timeout(patience, async {
                read_head(&mut stream).await?;
                stream.write_all(&response).await?;
                stream.shutdown().await
            })
            .await;
            if let Ok(Err(e)) = answered {
                tracing::debug!(error = %e, "refusing a connection");
            }
        });
    }
}

/// Reads until the blank line that ends a request's head, the end of the stream, or the limit.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while head.len() < HEAD_LIMIT {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    Ok(())
}

/// The whole HTTP response, status line to body.
fn response(max_connections: usize) -> Vec<u8> {
    let body = serde_json::to_string(&ErrorBody {
        code: ErrorCode::Busy,
        message: format!(
            "the server has as many connections open as it takes ({max_connections}); try again \
             in {RETRY_AFTER_SECS} seconds"
        ),
    })
    .expect("an error body serializes");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: {RETRY_AFTER_SECS}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_json_503() {
        let text = String::from_utf8(response(7)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let parsed: ErrorBody = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.code, ErrorCode::Busy);
        assert!(parsed.message.contains("(7)"));
    }
}
