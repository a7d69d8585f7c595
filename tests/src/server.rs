//! A real server, in-process, on a free loopback port, with a temporary data folder, the tiny
//! demo models and the repository's gallery. A server can be stopped and another started on the
//! same data folder, as after a restart.

use std::net::SocketAddr;
use std::path::PathBuf;

use ekphrasis_server::state::AppState;
use ekphrasis_server::{ServeConfig, Server};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A running server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data: tempfile::TempDir,
    /// What the server shares (its store, metrics, jobs).
    pub state: AppState,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The gallery the repository ships.
pub fn repository_gallery() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../public/gallery")
}

/// A minimal built app: enough of an `index.html` for share pages.
pub const INDEX_HTML: &str = "<!doctype html><html><head><title>Ekphrasis</title></head>\
                              <body></body></html>";

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `adjust` changes its settings.
    pub async fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let data = tempfile::tempdir().expect("a temporary folder");
        Self::start_in(data, adjust).await
    }

    /// Starts a server on an existing data folder (what an earlier server kept stays there).
    pub async fn start_in(data: tempfile::TempDir, adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let mut config = ServeConfig::with_data(data.path().join("data"));
        config.static_dir = data.path().join("dist");
        std::fs::create_dir_all(&config.static_dir).expect("a dist folder");
        std::fs::write(config.static_dir.join("index.html"), INDEX_HTML).expect("index.html");
        config.demo = true;
        config.gallery = repository_gallery();
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let server = Server::with_listener(listener, config)
            .await
            .expect("the server starts");
        let addr = server.local_addr();
        let shutdown = server.shutdown_token();
        let state = server.state().clone();
        let task = tokio::spawn(server.run());
        Self {
            addr,
            data,
            state,
            shutdown,
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `ws://127.0.0.1:PORT/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Shuts down gracefully and waits until the server has stopped.
    pub async fn stop(self) {
        self.stop_keeping_data().await;
    }

    /// Shuts down and hands back the data folder, for a server started after it.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("the server task ends");
        }
        let placeholder = tempfile::tempdir().expect("a temporary folder");
        std::mem::replace(&mut self.data, placeholder)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
