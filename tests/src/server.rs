//! A real server, in-process, on a free loopback port, with a temporary data folder.

use std::net::SocketAddr;

use ekphrasis_server::{ServeConfig, Server};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A running server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data: tempfile::TempDir,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `adjust` changes its settings.
    pub async fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let data = tempfile::tempdir().expect("a temporary folder");
        let mut config = ServeConfig::with_data(data.path().join("data"));
        config.static_dir = data.path().join("dist");
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let server = Server::with_listener(listener, config).expect("the server starts");
        let addr = server.local_addr();
        let shutdown = server.shutdown_token();
        let task = tokio::spawn(server.run());
        Self {
            addr,
            data,
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
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await
                .expect("the server task ends")
                .expect("the server stops cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
