//! The server against requests meant to break it (issue 16's findings, each reproduced): every
//! error is JSON with the right status (unreadable paths, `/api/`, wrong methods, paths no file
//! system holds), every response carries the security headers, pages of other origins cannot
//! use the WebSocket or upload, `Range` units are case-insensitive, an oversized WebSocket
//! message is closed with 1009, and refusals at a full queue are counted.

use ekphrasis_e2e::ws::Received;
use ekphrasis_e2e::{TestServer, WsClient, images};
use ekphrasis_shared::api::ErrorBody;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, ORIGIN};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A JSON error body, checked to be one.
async fn json_error(response: reqwest::Response) -> ErrorBody {
    let kind = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(kind.as_deref(), Some("application/json"));
    response.json().await.expect("a {code, message} body")
}

#[tokio::test]
async fn every_error_is_json_with_the_right_status() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    for (method, path, status) in [
        ("GET", "/api/tracks/%ff", StatusCode::BAD_REQUEST),
        ("GET", "/api/tracks/%ff/audio.wav", StatusCode::BAD_REQUEST),
        ("GET", "/api/images/%c3%28", StatusCode::BAD_REQUEST),
        ("GET", "/api/", StatusCode::NOT_FOUND),
        ("GET", "/api", StatusCode::NOT_FOUND),
        ("DELETE", "/api/health", StatusCode::METHOD_NOT_ALLOWED),
        ("PUT", "/api/images", StatusCode::METHOD_NOT_ALLOWED),
        ("POST", "/metrics", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let response = client
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        let body = json_error(response).await;
        assert!(!body.message.is_empty(), "{method} {path}");
    }
    // A path no file system could hold is one of the app's pages, not a 500.
    let long = format!("/{}", "a".repeat(300));
    let response = reqwest::get(server.url(&long)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("<title>Ekphrasis"));
    server.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let server = TestServer::start().await;
    for path in ["/", "/api/health", "/api/nothing", "/t/abc", "/metrics"] {
        let response = reqwest::get(server.url(path)).await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "SAMEORIGIN", "{path}");
        let policy = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("default-src 'self'"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'self'"),
            "{path}: {policy}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn pages_of_other_origins_cannot_use_the_socket_or_upload() {
    let server = TestServer::start().await;
    let own = format!("http://{}", server.addr);
    for (origin, allowed) in [
        (Some(own.as_str()), true),
        (None, true),
        (Some("http://evil.example"), false),
        (Some("null"), false),
    ] {
        let mut request = server.ws_url().into_client_request().unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert(ORIGIN, origin.parse().unwrap());
        }
        let connected = tokio_tungstenite::connect_async(request).await;
        assert_eq!(connected.is_ok(), allowed, "websocket from {origin:?}");

        let mut upload = reqwest::Client::new()
            .post(server.url("/api/images"))
            .header(CONTENT_TYPE, "text/plain")
            .body(images::png(8, 8));
        if let Some(origin) = origin {
            upload = upload.header(ORIGIN, origin);
        }
        let response = upload.send().await.unwrap();
        if allowed {
            assert_eq!(response.status(), StatusCode::OK, "upload from {origin:?}");
        } else {
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "upload from {origin:?}"
            );
            assert!(
                json_error(response)
                    .await
                    .message
                    .contains("--allowed-origin")
            );
        }
    }
    server.stop().await;

    // An origin the server is told to allow.
    let server = TestServer::start_with(|config| {
        config.allowed_origins = vec!["https://museum.example.org".into()];
    })
    .await;
    let response = reqwest::Client::new()
        .post(server.url("/api/images"))
        .header(ORIGIN, "https://museum.example.org")
        .body(images::png(8, 8))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_websocket_message_is_closed_with_1009() {
    let server = TestServer::start().await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    let big = format!(
        "{{\"type\":\"cancel\",\"pad\":\"{}\"}}",
        "x".repeat(100_000)
    );
    client.send_text(&big).await;
    loop {
        match client.recv().await {
            Received::Closed(code) => {
                assert_eq!(code, Some(1009));
                break;
            }
            Received::Msg(_) | Received::Binary(_) => continue,
        }
    }
    // The server goes on serving.
    assert!(
        reqwest::get(server.url("/api/health"))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    server.stop().await;
}

#[tokio::test]
async fn range_units_are_case_insensitive() {
    let server = TestServer::start().await;
    let uploaded: ekphrasis_shared::api::UploadedImage = reqwest::Client::new()
        .post(server.url("/api/images"))
        .body(images::png(8, 8))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .get(server.url(&format!("/api/images/{}", uploaded.id)))
        .header("range", "BYTES=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"\x89PNG");
    server.stop().await;
}

#[tokio::test]
async fn orphaned_track_files_are_swept_at_start() {
    let data = tempfile::tempdir().unwrap();
    let tracks = data.path().join("data/blobs/tracks");
    std::fs::create_dir_all(&tracks).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for name in ["AAAAAAAAAAAAAAAAAAAAAA.wav", "AAAAAAAAAAAAAAAAAAAAAA.ogg"] {
        let file = std::fs::File::create(tracks.join(name)).unwrap();
        file.set_modified(two_hours_ago).unwrap();
    }
    // A young one may be a track another server is storing right now.
    std::fs::write(tracks.join("BBBBBBBBBBBBBBBBBBBBBB.wav"), b"RIFF").unwrap();
    let server = TestServer::start_in(data, |_| {}).await;
    assert!(!tracks.join("AAAAAAAAAAAAAAAAAAAAAA.wav").exists());
    assert!(!tracks.join("AAAAAAAAAAAAAAAAAAAAAA.ogg").exists());
    assert!(tracks.join("BBBBBBBBBBBBBBBBBBBBBB.wav").exists());
    server.stop().await;
}
