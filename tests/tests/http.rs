//! The rest of the HTTP surface: health, unknown API paths, and the app's files with the
//! single-page-app fallback.

use ekphrasis_e2e::TestServer;
use ekphrasis_shared::ErrorCode;
use ekphrasis_shared::api::{ErrorBody, Health, ModelsStatus};
use reqwest::StatusCode;

async fn health(server: &TestServer) -> Health {
    reqwest::get(server.url("/api/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn health_reports_version_protocol_and_the_demo_models() {
    let server = TestServer::start().await;
    let health = health(&server).await;
    assert_eq!(health.status, "ok");
    assert_eq!(health.protocol, 1);
    assert!(health.server.starts_with("ekphrasis/"));
    let ModelsStatus::Ready {
        demo,
        variants,
        composers,
    } = health.models
    else {
        panic!("the models are ready once the server listens")
    };
    assert!(demo, "the tests run the tiny demo models");
    assert_eq!(
        variants.len(),
        3,
        "no fine-tuned MusicGen, so no optimized: {variants:?}"
    );
    for variant in variants {
        assert_eq!(
            composers[&variant], "musicgen",
            "the base MusicGen composes {variant}"
        );
    }
    assert_eq!(health.public_url, None);
}

#[tokio::test]
async fn health_tells_the_public_address_for_share_links_and_qr_codes() {
    let server = TestServer::start_with(|config| {
        config.public_url = Some("https://museum.example/ekphrasis".into());
    })
    .await;
    let health = health(&server).await;
    assert_eq!(
        health.public_url.as_deref(),
        Some("https://museum.example/ekphrasis")
    );
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/api/nothing-here")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn app_files_are_served_with_an_index_fallback() {
    let server = TestServer::start_with(|config| {
        let dist = config.static_dir.clone();
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("index.html"), "<html>the app</html>").unwrap();
        std::fs::write(dist.join("app.js"), "console.log(1)").unwrap();
    })
    .await;
    let js = reqwest::get(server.url("/app.js")).await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(js.text().await.unwrap(), "console.log(1)");
    for path in ["/", "/kiosk", "/anything/else"] {
        let page = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_eq!(page.text().await.unwrap(), "<html>the app</html>", "{path}");
    }
    // A share link to a track this server does not have: the app (which says so), as a 404.
    let page = reqwest::get(server.url("/t/AAAAAAAAAAAAAAAAAAAAAA"))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert_eq!(page.text().await.unwrap(), "<html>the app</html>");
}

#[tokio::test]
async fn a_missing_app_build_says_how_to_build_it() {
    let server =
        TestServer::start_with(|config| config.static_dir = config.data.join("no-app")).await;
    let page = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("cargo xtask serve"));
}
