//! Connections that hold the server without using it (issue 16): a silent connection, a
//! half-sent request head and a stalled upload are each closed within the client timeout; past
//! the connection cap a client is answered a JSON 503 at once, and once a flood of half-sent
//! requests has timed out, health answers again.

use std::time::{Duration, Instant};

use ekphrasis_e2e::TestServer;
use ekphrasis_shared::ErrorCode;
use ekphrasis_shared::api::ErrorBody;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CLIENT_TIMEOUT_SECS: u64 = 1;
/// Longer than any wait here should take; only a broken server reaches it.
const GUARD: Duration = Duration::from_secs(60);

/// Reads until the server closes the connection; what it sent, and how long that took.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(GUARD, stream.read(&mut chunk))
            .await
            .expect("the server closes the connection");
        match read {
            Ok(0) | Err(_) => return (received, started.elapsed()),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

/// An HTTP/1.1 request on its own connection; the status and the body.
async fn request(server: &TestServer, path: &str) -> (u16, Vec<u8>) {
    try_request(server, path)
        .await
        .unwrap_or_else(|| panic!("GET {path}: closed without an answer"))
}

/// The same, or `None` when the connection is closed without an answer (as connections past
/// the cap are, while a flood of them is being refused).
async fn try_request(server: &TestServer, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let (response, _) = read_until_closed(&mut stream).await;
    if response.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP response, got {text:?}"));
    let body = match text.find("\r\n\r\n") {
        Some(at) => response[at + 4..].to_vec(),
        None => Vec::new(),
    };
    Some((status, body))
}

#[tokio::test]
async fn quiet_clients_are_closed_within_the_client_timeout() {
    let server =
        TestServer::start_with(|config| config.client_timeout_secs = CLIENT_TIMEOUT_SECS).await;

    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // One that sends part of a request head and stops.
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /api/health HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .unwrap();
    // One that announces an upload and sends a little of it.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled
        .write_all(
            b"POST /api/images HTTP/1.1\r\nhost: localhost\r\ncontent-type: image/png\r\n\
              content-length: 100000\r\n\r\n\x89PNG",
        )
        .await
        .unwrap();
    // A kept-alive connection, idle after its first answer.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /api/health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();

    for (name, stream) in [
        ("silent", &mut silent),
        ("half a head", &mut half),
        ("stalled upload", &mut stalled),
        ("kept alive", &mut kept),
    ] {
        let (received, took) = read_until_closed(stream).await;
        eprintln!(
            "{name}: closed after {:.2} s, {} bytes answered",
            took.as_secs_f64(),
            received.len()
        );
        assert!(took < GUARD, "{name}");
        let answer = String::from_utf8_lossy(&received);
        match name {
            "kept alive" => assert!(answer.starts_with("HTTP/1.1 200"), "{answer}"),
            "stalled upload" => {
                assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
                assert!(answer.contains(r#""code":"timed_out""#), "{answer}");
            }
            _ => assert!(received.is_empty(), "{name}: {answer}"),
        }
    }
    // The server goes on answering.
    let (status, _) = request(&server, "/api/health").await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// `count` connections, each with a request head left unfinished.
async fn half_sent_requests(server: &TestServer, count: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // A refused connection may already be closed.
        let _ = stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n").await;
        streams.push(stream);
    }
    streams
}

#[tokio::test]
async fn past_the_cap_a_client_is_answered_503_and_health_comes_back() {
    const CAP: usize = 16;
    let server = TestServer::start_with(|config| {
        config.max_connections = CAP;
        config.client_timeout_secs = CLIENT_TIMEOUT_SECS;
    })
    .await;

    // Half-sent requests: enough to fill the cap, and some more that are refused.
    let mut flood = half_sent_requests(&server, CAP * 3).await;
    // While they last, a client is told at once that the server is full.
    let (status, body) = request(&server, "/api/health").await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    let error: ErrorBody = serde_json::from_slice(&body).expect("a JSON error");
    assert_eq!(error.code, ErrorCode::Busy);
    assert!(
        error.message.contains(&CAP.to_string()),
        "{}",
        error.message
    );

    // A flood far past what is answered 503 one by one: those are closed at once.
    flood.extend(half_sent_requests(&server, 1000).await);

    // The flood times out; health answers 200 again without anyone closing it.
    let started = Instant::now();
    loop {
        match try_request(&server, "/api/health").await {
            Some((200, _)) => break,
            Some((503, _)) | None => {}
            Some((status, _)) => panic!("health answered {status}"),
        }
        assert!(started.elapsed() < GUARD, "health never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{} half-sent requests against a cap of {CAP}: health back after {:.2} s",
        flood.len(),
        started.elapsed().as_secs_f64()
    );
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("ekphrasis_connections_refused_total "))
        .expect("the refusals are counted")
        .parse()
        .unwrap();
    assert!(refused >= 1.0, "{refused}");
    drop(flood);
    server.stop().await;
}
