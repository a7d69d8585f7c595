//! `POST /api/images` against a running server: what is accepted, what is refused, and with
//! which status and JSON error body.

use ekphrasis_e2e::{TestServer, images};
use ekphrasis_shared::ErrorCode;
use ekphrasis_shared::api::{ErrorBody, UploadedImage};
use image::ImageFormat;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

async fn post_raw(server: &TestServer, bytes: Vec<u8>, content_type: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/api/images"))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("the server answers")
}

async fn refused(response: reqwest::Response, status: StatusCode, code: ErrorCode) -> String {
    assert_eq!(response.status(), status);
    let body: ErrorBody = response.json().await.expect("a JSON error body");
    assert_eq!(body.code, code, "{}", body.message);
    body.message
}

#[tokio::test]
async fn each_accepted_format_is_stored_under_its_content_hash() {
    let server = TestServer::start().await;
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
        let bytes = images::encoded(40, 30, format);
        // The declared type is ignored: content decides.
        let response = post_raw(&server, bytes.clone(), "application/octet-stream").await;
        assert_eq!(response.status(), StatusCode::OK, "{format:?}");
        let uploaded: UploadedImage = response.json().await.unwrap();
        assert_eq!((uploaded.width, uploaded.height), (40, 30), "{format:?}");
        let stored = reqwest::get(server.url(&format!("/api/images/{}", uploaded.id)))
            .await
            .unwrap();
        assert_eq!(stored.status(), StatusCode::OK, "{format:?}");
        assert_eq!(stored.bytes().await.unwrap(), bytes, "{format:?}");
    }
}

#[tokio::test]
async fn the_same_bytes_get_the_same_id() {
    let server = TestServer::start().await;
    let bytes = images::png(10, 10);
    let first: UploadedImage = post_raw(&server, bytes.clone(), "image/png")
        .await
        .json()
        .await
        .unwrap();
    let again: UploadedImage = post_raw(&server, bytes, "image/png")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first, again);
    let other: UploadedImage = post_raw(&server, images::png(11, 10), "image/png")
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(first.id, other.id);
}

#[tokio::test]
async fn multipart_uploads_are_accepted() {
    let server = TestServer::start().await;
    let form = Form::new().text("note", "ignored").part(
        "image",
        Part::bytes(images::png(12, 7)).file_name("painting.png"),
    );
    let response = reqwest::Client::new()
        .post(server.url("/api/images"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let uploaded: UploadedImage = response.json().await.unwrap();
    assert_eq!((uploaded.width, uploaded.height), (12, 7));
}

#[tokio::test]
async fn a_multipart_form_without_an_image_is_a_bad_request() {
    let server = TestServer::start().await;
    let form = Form::new().text("note", "no file here");
    let response = reqwest::Client::new()
        .post(server.url("/api/images"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    refused(response, StatusCode::BAD_REQUEST, ErrorCode::BadRequest).await;
}

#[tokio::test]
async fn exif_orientation_is_applied_to_the_size() {
    let server = TestServer::start().await;
    let response = post_raw(&server, images::jpeg_rotated(40, 30), "image/jpeg").await;
    assert_eq!(response.status(), StatusCode::OK);
    let uploaded: UploadedImage = response.json().await.unwrap();
    assert_eq!((uploaded.width, uploaded.height), (30, 40));
}

#[tokio::test]
async fn uploads_over_the_size_limit_get_413() {
    let server = TestServer::start_with(|c| c.max_upload_bytes = 10_000).await;
    let big = images::noisy_png(100, 100);
    assert!(big.len() > 10_000);
    let message = refused(
        post_raw(&server, big.clone(), "image/png").await,
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
    )
    .await;
    assert!(message.contains("MB"), "{message}");
    // Streamed without a Content-Length, the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(1000).map(|c| Ok(c.to_vec())).collect();
    let streamed = reqwest::Client::new()
        .post(server.url("/api/images"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    refused(
        streamed,
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
    )
    .await;
    let form = Form::new().part("image", Part::bytes(big).file_name("big.png"));
    let multipart = reqwest::Client::new()
        .post(server.url("/api/images"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    refused(
        multipart,
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
    )
    .await;
}

#[tokio::test]
async fn other_formats_get_415() {
    let server = TestServer::start().await;
    for (bytes, what) in [
        (images::gif(), "gif"),
        (b"just some text, not an image".to_vec(), "text"),
        (b"%PDF-1.7\n".to_vec(), "pdf"),
    ] {
        refused(
            post_raw(&server, bytes, "image/png").await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
        )
        .await;
        let _ = what;
    }
}

#[tokio::test]
async fn decompression_bombs_and_broken_images_get_422() {
    let server = TestServer::start().await;
    let message = refused(
        post_raw(&server, images::png_claiming(100_000, 100_000), "image/png").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::UnprocessableImage,
    )
    .await;
    assert!(message.contains("100000×100000"), "{message}");
    refused(
        post_raw(&server, images::png_corrupted(), "image/png").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::UnprocessableImage,
    )
    .await;
    let png = images::png(64, 64);
    refused(
        post_raw(&server, png[..png.len() / 2].to_vec(), "image/png").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::UnprocessableImage,
    )
    .await;
}

#[tokio::test]
async fn the_pixel_limit_is_configurable() {
    let server = TestServer::start_with(|c| c.max_pixels = 1000).await;
    refused(
        post_raw(&server, images::png(40, 30), "image/png").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::UnprocessableImage,
    )
    .await;
    assert_eq!(
        post_raw(&server, images::png(20, 20), "image/png")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_empty_upload_is_a_bad_request_and_nothing_is_stored() {
    let server = TestServer::start().await;
    // The gallery's paintings are stored at start; an upload would add one more.
    let images = server.data.path().join("data/blobs/images");
    let count = || std::fs::read_dir(&images).map_or(0, |files| files.count());
    let before = count();
    refused(
        post_raw(&server, Vec::new(), "image/png").await,
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
    )
    .await;
    assert_eq!(count(), before);
}
