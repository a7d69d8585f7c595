//! A cluster of real processes for tests: web nodes (`ekphrasis serve --role web`) and workers
//! (`ekphrasis worker`) of the debug binary the tests were built with, on loopback, sharing a
//! broker, a database and an S3 prefix. Each node has its own data folder and log; a node is
//! killed (SIGKILL) or stopped (SIGTERM) on demand, and killed when dropped or when the test
//! process is gone. A worker that must refuse to start is run to its exit.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What every node of one test's cluster shares.
#[derive(Clone, Debug)]
pub struct Shared {
    /// `nats://127.0.0.1:PORT`.
    pub broker: String,
    /// `postgres://…`.
    pub database: String,
    /// `s3://bucket/prefix`.
    pub store: String,
    /// The S3 credentials and endpoint, as environment variables.
    pub env: Vec<(String, String)>,
    /// Seconds a worker may go silent on a job before another gets it.
    pub ack_wait_secs: u64,
    /// Jobs the cluster holds at once (waiting or running).
    pub queue_capacity: usize,
}

/// One running process.
pub struct Node {
    pub name: String,
    pub addr: SocketAddr,
    child: Child,
    data: tempfile::TempDir,
}

/// The `ekphrasis` binary the tests run: `EKPHRASIS_BIN`, else the one beside the test binary
/// (`target/debug/ekphrasis`, built by the same `cargo test`).
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("EKPHRASIS_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary is in target/<profile>/deps");
    let binary = debug.join("ekphrasis");
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build -p ekphrasis-server` (or set EKPHRASIS_BIN)",
        binary.display()
    );
    binary
}

impl Node {
    /// Starts a web node.
    pub fn web(shared: &Shared, name: &str) -> Self {
        Self::web_with(shared, name, &[])
    }

    /// Starts a web node as [`Node::web`] does, with `flags` added.
    pub fn web_with(shared: &Shared, name: &str, flags: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("a temporary folder");
        let dist = data.path().join("dist");
        std::fs::create_dir_all(&dist).expect("a dist folder");
        std::fs::write(dist.join("index.html"), crate::server::INDEX_HTML).expect("index.html");
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .args(["--role", "web"])
            .arg("--static-dir")
            .arg(&dist)
            .arg("--gallery")
            .arg(crate::server::repository_gallery())
            .args(flags);
        Self::start(command, shared, name, data, "listening on http://")
    }

    /// Starts a worker with the tiny demo models and `slots` model slots.
    pub fn worker(shared: &Shared, name: &str, slots: usize) -> Self {
        Self::worker_with(shared, name, slots, &[])
    }

    /// Starts a worker as [`Node::worker`] does, with `flags` added (e.g. `--variants lyrical`).
    pub fn worker_with(shared: &Shared, name: &str, slots: usize, flags: &[&str]) -> Self {
        let data = tempfile::tempdir().expect("a temporary folder");
        let command = worker_command(name, slots, flags);
        Self::start(command, shared, name, data, " listening on http://")
    }

    /// Runs a worker with `flags` added that must refuse to start: waits (at most a minute) for
    /// it to exit unsuccessfully and returns its log, where it says why.
    pub fn worker_refused(shared: &Shared, name: &str, flags: &[&str]) -> String {
        let data = tempfile::tempdir().expect("a temporary folder");
        let mut command = worker_command(name, 1, flags);
        configure(&mut command, shared, data.path());
        command.stdout(Stdio::null());
        let mut child = command.spawn().expect("the ekphrasis binary starts");
        watch_over(child.id());
        let log = || std::fs::read_to_string(data.path().join("node.log")).unwrap_or_default();
        for _ in 0..600 {
            if let Some(status) = child.try_wait().expect("the worker's status") {
                assert!(
                    !status.success(),
                    "worker {name} exited happily; its log:\n{}",
                    log()
                );
                return log();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("worker {name} did not refuse to start; its log:\n{}", log());
    }

    fn start(
        mut command: Command,
        shared: &Shared,
        name: &str,
        data: tempfile::TempDir,
        ready: &str,
    ) -> Self {
        configure(&mut command, shared, data.path());
        let mut child = command.spawn().expect("the ekphrasis binary starts");
        watch_over(child.id());
        let stdout = child.stdout.take().expect("piped stdout");
        let (tell, told) = std::sync::mpsc::channel();
        let ready = ready.to_owned();
        std::thread::spawn(move || {
            let mut tell = Some(tell);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split_once(&ready).map(|(_, rest)| rest.to_owned())
                    && let Some(tell) = tell.take()
                {
                    let _ = tell.send(rest);
                }
            }
        });
        let addr = match told.recv_timeout(Duration::from_secs(120)) {
            Ok(addr) => addr.trim().parse().expect("a socket address"),
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(data.path().join("node.log")).unwrap_or_default();
                panic!("node {name} did not start; its log:\n{log}");
            }
        };
        Self {
            name: name.to_owned(),
            addr,
            child,
            data,
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `ws://ADDR/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("node.log")).unwrap_or_default()
    }

    /// Kills it at once (SIGKILL): no goodbye to the broker or its clients.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks it to stop (SIGTERM) and waits until it has.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `ekphrasis worker` on the tiny demo models with `slots` slots and `flags`.
fn worker_command(name: &str, slots: usize, flags: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("worker")
        .args(["--name", name, "--demo", "--workers", &slots.to_string()])
        .args(flags);
    command
}

/// What every node is given: a loopback port, a data folder under `data`, the cluster's
/// servers; its stderr goes to `data/node.log`, its stdout to a pipe.
fn configure(command: &mut Command, shared: &Shared, data: &std::path::Path) {
    let log = std::fs::File::create(data.join("node.log")).expect("a log file");
    command
        .args(["--addr", "127.0.0.1:0"])
        .arg("--data")
        .arg(data.join("data"))
        .args(["--broker", &shared.broker])
        .args(["--database", &shared.database])
        .args(["--store", &shared.store])
        .args(["--ack-wait-secs", &shared.ack_wait_secs.to_string()])
        .args(["--queue-capacity", &shared.queue_capacity.to_string()])
        .envs(shared.env.iter().cloned())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
}

/// Kills process `node` once this test process is gone (killed, it runs no destructor), so no
/// node outlives its test; the watcher ends with the node.
fn watch_over(node: u32) {
    let script = format!(
        "while kill -0 {test} 2>/dev/null && kill -0 {node} 2>/dev/null; do sleep 0.5; done; \
         kill -9 {node} 2>/dev/null",
        test = std::process::id()
    );
    let _ = Command::new("bash")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

impl Drop for Node {
    /// Kills the process; when a test failed, prints its log.
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("---- log of node {} ----\n{}", self.name, self.log());
        }
    }
}
