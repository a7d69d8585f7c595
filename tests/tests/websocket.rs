//! Protocol v1 over a real socket: the handshake, its refusals, malformed and out-of-range
//! requests, and shutdown. Jobs themselves are in `jobs.rs`.

use ekphrasis_e2e::ws::Received;
use ekphrasis_e2e::{TestServer, WsClient, images};
use ekphrasis_shared::api::UploadedImage;
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{ClientMsg, ErrorCode, GenerateRequest, ImageId, ImageRef};
use tokio_tungstenite::tungstenite::Message;

const PROTOCOL_ERROR: u16 = 1002;
const GOING_AWAY: u16 = 1001;

async fn upload(server: &TestServer) -> UploadedImage {
    reqwest::Client::new()
        .post(server.url("/api/images"))
        .body(images::png(16, 16))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn requests_for_missing_paintings_are_refused_and_the_connection_stays() {
    let server = TestServer::start().await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client
        .send(&ClientMsg::Generate(GenerateRequest::new(
            ImageRef::Upload(ImageId::parse(&"0".repeat(64)).unwrap()),
        )))
        .await;
    let (code, message) = client.recv_error().await;
    assert_eq!(code, ErrorCode::ImageNotFound);
    assert!(message.contains("upload it again"), "{message}");
    // The connection stays usable; a cancel without a job is harmless.
    client.send(&ClientMsg::Cancel).await;
    client
        .send(&ClientMsg::Generate(GenerateRequest::new(
            ImageRef::Gallery(GalleryId::parse("nowhere").unwrap()),
        )))
        .await;
    let (code, message) = client.recv_error().await;
    assert_eq!(code, ErrorCode::ImageNotFound);
    assert!(message.contains("nowhere"), "{message}");
}

#[tokio::test]
async fn a_protocol_mismatch_gets_a_clear_error_and_a_close() {
    let server = TestServer::start().await;
    let mut client = WsClient::connect(&server.ws_url()).await;
    assert!(matches!(client.recv().await, Received::Msg(_)));
    client
        .send_text(r#"{"type":"hello","protocol":2,"agent":"tomorrow"}"#)
        .await;
    let (code, message) = client.recv_error().await;
    assert_eq!(code, ErrorCode::ProtocolMismatch);
    assert!(
        message.contains("protocol 1") && message.contains("protocol 2"),
        "{message}"
    );
    assert_eq!(client.recv().await, Received::Closed(Some(PROTOCOL_ERROR)));
}

#[tokio::test]
async fn anything_but_a_hello_first_is_refused() {
    let server = TestServer::start().await;
    for first in [
        Message::text(r#"{"type":"generate","image":{"gallery":"x"}}"#),
        Message::text("not json"),
        Message::binary(vec![1u8, 2, 3]),
    ] {
        let mut client = WsClient::connect(&server.ws_url()).await;
        client.recv().await;
        client.send_raw(first).await;
        assert_eq!(client.recv_error().await.0, ErrorCode::HandshakeRequired);
        assert_eq!(client.recv().await, Received::Closed(Some(PROTOCOL_ERROR)));
    }
}

#[tokio::test]
async fn malformed_and_out_of_range_requests_name_the_problem() {
    let server = TestServer::start().await;
    let image = upload(&server).await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client.send_text("{").await;
    assert_eq!(client.recv_error().await.0, ErrorCode::MalformedMessage);
    client.send_text(r#"{"type":"sing"}"#).await;
    assert_eq!(client.recv_error().await.0, ErrorCode::MalformedMessage);
    for (field, value) in [
        ("seconds", "0"),
        ("seconds", "121"),
        ("top_k", "0"),
        ("temperature", "-1"),
        ("guidance", "11"),
        ("seed", "18014398509481984"),
    ] {
        client
            .send_text(&format!(
                r#"{{"type":"generate","image":{{"upload":"{}"}},"{field}":{value}}}"#,
                image.id
            ))
            .await;
        let (code, message) = client.recv_error().await;
        assert_eq!(
            code,
            ErrorCode::InvalidRequest,
            "{field}={value}: {message}"
        );
        assert!(message.starts_with(field), "{field}={value}: {message}");
    }
    client
        .send_text(r#"{"type":"generate","image":{"upload":"00"}}"#)
        .await;
    assert_eq!(client.recv_error().await.0, ErrorCode::MalformedMessage);
    client.send_text(r#"{"type":"hello","protocol":1}"#).await;
    assert_eq!(client.recv_error().await.0, ErrorCode::MalformedMessage);
}

#[tokio::test]
async fn oversized_messages_end_the_connection_but_not_the_server() {
    let server = TestServer::start().await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    client.send_text(&"x".repeat(1 << 20)).await;
    assert!(matches!(client.recv().await, Received::Closed(_)));
    // Others are still served.
    let mut other = WsClient::handshake(&server.ws_url()).await;
    other.send_text("{").await;
    assert_eq!(other.recv_error().await.0, ErrorCode::MalformedMessage);
}

#[tokio::test]
async fn shutdown_closes_open_sockets_with_going_away() {
    let server = TestServer::start().await;
    let mut client = WsClient::handshake(&server.ws_url()).await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(client.recv().await, Received::Closed(Some(GOING_AWAY)));
    stopping.await.unwrap();
}
