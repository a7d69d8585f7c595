//! The rest of the HTTP surface: health, unknown API paths, and the app's files with the
//! single-page-app fallback.

use ekphrasis_e2e::TestServer;
use ekphrasis_shared::ErrorCode;
use ekphrasis_shared::api::{ErrorBody, Health, ModelsStatus};
use reqwest::StatusCode;

#[tokio::test]
async fn health_reports_version_protocol_and_why_models_are_unavailable() {
    let server = TestServer::start().await;
    let health: Health = reqwest::get(server.url("/api/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(health.protocol, 1);
    assert!(health.server.starts_with("ekphrasis/"));
    assert!(matches!(health.models, ModelsStatus::Unavailable { .. }));
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
    for path in ["/", "/t/AAAAAAAAAAAAAAAAAAAAAA", "/kiosk"] {
        let page = reqwest::get(server.url(path)).await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_eq!(page.text().await.unwrap(), "<html>the app</html>", "{path}");
    }
}

#[tokio::test]
async fn a_missing_app_build_says_how_to_build_it() {
    let server = TestServer::start().await;
    let page = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("cargo xtask serve"));
}
