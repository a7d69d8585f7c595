//! The scale-out cluster's real servers on loopback, for the tests: NATS with JetStream (the job
//! broker), PostgreSQL (the shared database) and SeaweedFS's S3 API (the shared store).
//!
//! [`servers`] starts one set per test binary, the first time a test asks, and every test shares
//! it through its own [`ClusterServers::fresh_database`] and [`ClusterServers::fresh_store`].
//! [`PrivateServers`] is a set of a test's own, for stopping and restarting servers;
//! [`PrivateNats`] a NATS server alone.
//!
//! The programs come from `EKPHRASIS_NATS_SERVER`, `EKPHRASIS_WEED` and `EKPHRASIS_PG_BIN`
//! (`cargo xtask test` sets them), else from where `cargo xtask cluster-tools` installs them.
//!
//! Rust runs no destructor of a static, so each set's scratch folder gets a supervisor: a small
//! shell loop in its own process group (a Ctrl-C to the tests leaves it running) that waits until
//! the test process is gone, then ends the servers the set left running (their process ids are
//! kept in `pids/` of the folder) and deletes the folder.
//!
//! The folders are in `/dev/shm` where there is one (see [`scratch_base`]), beside a PostgreSQL
//! cluster made once by initdb and copied for each set. `EKPHRASIS_CLUSTER_TIMES=1` prints how
//! long each set took to start.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as StorePath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

/// What to run when the programs are missing.
const INSTALL_HINT: &str =
    "the cluster tests need nats-server, weed and PostgreSQL: run `cargo xtask cluster-tools`";
/// Where `cargo xtask cluster-tools` puts the programs, under its tools folder (keep these
/// equal to the pins in `xtask/src/cluster_servers.rs`).
const NATS_SERVER_IN_TOOLS: &str = "cluster/nats-server-2.15.1/nats-server";
const WEED_IN_TOOLS: &str = "cluster/seaweedfs-4.48/weed";
/// Debian 12's PostgreSQL server programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// How long a server may take to answer after it is started (a loaded two-core machine is slow).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a server may take to stop gracefully before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The S3 bucket every set creates, and its one identity (with Admin actions).
const BUCKET: &str = "ekphrasis-test";
const ACCESS_KEY: &str = "ekphrasis-test";
const SECRET_KEY: &str = "ekphrasis-test-secret";
const REGION: &str = "us-east-1";

/// Names handed out by `fresh_database` and `fresh_store`, unique within the test process.
static NEXT_NAME: AtomicU64 = AtomicU64::new(0);

/// The three servers, started once per test binary on loopback, stopped when the binary exits.
///
/// Blocks while they start (about two seconds, the three at once); panics with a message naming
/// what is missing or what failed, with the end of the server's log.
pub fn servers() -> &'static ClusterServers {
    static SERVERS: OnceLock<ClusterServers> = OnceLock::new();
    SERVERS.get_or_init(ClusterServers::start)
}

/// A running set of the three servers: where they answer, and a fresh database or store prefix
/// for each test.
pub struct ClusterServers {
    /// `nats://127.0.0.1:PORT`, JetStream enabled.
    pub nats_url: String,
    /// SeaweedFS's S3 API, with the bucket already there.
    pub s3: S3Endpoint,
    pg_port: u16,
    pg_bin: PathBuf,
    processes: Mutex<Processes>,
}

/// An S3 API endpoint with its bucket and credentials.
#[derive(Clone, Debug)]
pub struct S3Endpoint {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl S3Endpoint {
    /// The `AWS_*` variables a process needs to reach this endpoint (object_store's aws
    /// backend reads them lower-cased: `aws_endpoint`, `aws_access_key_id`, …).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", &self.access_key),
            ("AWS_SECRET_ACCESS_KEY", &self.secret_key),
            ("AWS_REGION", &self.region),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }
}

impl ClusterServers {
    fn start() -> Self {
        let programs = Programs::find();
        let scratch = Scratch::create();
        let started = Instant::now();
        // The three at once: the slowest (SeaweedFS, or initdb) sets the time.
        let (nats, postgres, s3) = std::thread::scope(|scope| {
            let nats = scope.spawn(|| Nats::start(&programs.nats_server, &scratch));
            let postgres = scope.spawn(|| Postgres::start(&programs.pg_bin, &scratch));
            let s3 = scope.spawn(|| Weed::start(&programs.weed, &scratch));
            (join(nats), join(postgres), join(s3))
        });
        if std::env::var_os("EKPHRASIS_CLUSTER_TIMES").is_some() {
            eprintln!(
                "cluster servers ready in {:.2} s (nats {:.2} s, postgres {:.2} s, s3 {:.2} s)",
                started.elapsed().as_secs_f64(),
                nats.started_in.as_secs_f64(),
                postgres.started_in.as_secs_f64(),
                s3.started_in.as_secs_f64(),
            );
        }
        Self {
            nats_url: nats.url(),
            s3: s3.endpoint(),
            pg_port: postgres.port,
            pg_bin: programs.pg_bin,
            processes: Mutex::new(Processes {
                scratch,
                nats,
                postgres,
                s3,
            }),
        }
    }

    /// A new, empty database on the shared PostgreSQL (`CREATE DATABASE` with a unique name);
    /// its URL, `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn fresh_database(&self) -> String {
        let name = format!("test_{}", NEXT_NAME.fetch_add(1, Ordering::Relaxed));
        let mut createdb = Command::new(self.pg_bin.join("createdb"));
        createdb
            .args(["--host", "127.0.0.1", "--username", "postgres", "--port"])
            .arg(self.pg_port.to_string())
            .arg(&name);
        let out = createdb
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| panic!("cannot run {:?}: {err}", createdb.get_program()));
        assert!(
            out.status.success(),
            "createdb {name} on port {} failed: {}",
            self.pg_port,
            String::from_utf8_lossy(&out.stderr)
        );
        self.database_url(&name)
    }

    /// `postgres://postgres@127.0.0.1:PORT/{name}`.
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.pg_port)
    }

    /// A unique prefix in the bucket, as the `--store` spec `s3://BUCKET/PREFIX`, and the
    /// environment a process needs to reach it ([`S3Endpoint::env`]).
    pub fn fresh_store(&self) -> (String, Vec<(String, String)>) {
        let prefix = format!("store-{}", NEXT_NAME.fetch_add(1, Ordering::Relaxed));
        (format!("s3://{}/{prefix}", self.s3.bucket), self.s3.env())
    }

    fn processes(&self) -> MutexGuard<'_, Processes> {
        self.processes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A starting thread's server, or its panic (with its message) raised again here.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Servers of a test's own, for a test that stops and restarts them (NATS restarted, Postgres
/// down, S3 down). Each comes back on the same port with the same data. Everything it started
/// is stopped, and its folder deleted, when it is dropped (or, failing that, when the test
/// process exits).
///
/// It derefs to [`ClusterServers`]: `nats_url`, `s3`, `fresh_database`, `fresh_store`.
pub struct PrivateServers {
    servers: ClusterServers,
}

impl std::ops::Deref for PrivateServers {
    type Target = ClusterServers;

    fn deref(&self) -> &ClusterServers {
        &self.servers
    }
}

impl PrivateServers {
    /// Starts a set of the three servers (blocking, about two seconds).
    pub fn start() -> Self {
        Self {
            servers: ClusterServers::start(),
        }
    }

    /// Stops NATS gracefully (SIGTERM) and waits until it has exited. Its JetStream store stays.
    pub fn stop_nats(&self) {
        self.servers.processes().nats.stop();
    }

    /// Starts NATS again on the same port and JetStream store, and waits until it answers.
    pub fn start_nats(&self) {
        self.servers.processes().nats.restart();
    }

    /// Stops PostgreSQL (`pg_ctl -m fast stop`) and waits until it has exited.
    pub fn stop_postgres(&self) {
        self.servers.processes().postgres.stop();
    }

    /// Starts PostgreSQL again on the same port and data, and waits until it answers.
    pub fn start_postgres(&self) {
        self.servers.processes().postgres.restart();
    }

    /// Stops SeaweedFS gracefully (SIGTERM; it takes a few seconds) and waits until it has
    /// exited. Its data stays.
    pub fn stop_s3(&self) {
        self.servers.processes().s3.stop();
    }

    /// Starts SeaweedFS again on the same ports and data, and waits until S3 answers.
    pub fn start_s3(&self) {
        self.servers.processes().s3.restart();
    }
}

impl Drop for PrivateServers {
    fn drop(&mut self) {
        let mut processes = self.servers.processes();
        processes.nats.kill();
        processes.s3.kill();
        processes.postgres.kill();
        // Without the servers writing into it, the folder can go now.
        let _ = std::fs::remove_dir_all(&processes.scratch.root);
    }
}

/// A NATS server (with JetStream) of a test's own, alone: for a test that needs a broker no
/// other test publishes to, or stops it. Stopped, and its folder deleted, when dropped (or,
/// failing that, when the test process exits). Starts in a few hundredths of a second.
pub struct PrivateNats {
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    nats: Mutex<Nats>,
    scratch: Scratch,
}

impl PrivateNats {
    /// Starts it and waits until it answers.
    pub fn start() -> Self {
        let programs = Programs::find();
        let scratch = Scratch::create();
        let nats = Nats::start(&programs.nats_server, &scratch);
        Self {
            url: nats.url(),
            nats: Mutex::new(nats),
            scratch,
        }
    }

    /// Stops it gracefully (SIGTERM) and waits until it has exited. Its JetStream store stays.
    pub fn stop(&self) {
        self.nats().stop();
    }

    /// Starts it again on the same port and JetStream store, and waits until it answers.
    pub fn start_again(&self) {
        self.nats().restart();
    }

    fn nats(&self) -> MutexGuard<'_, Nats> {
        self.nats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.nats().kill();
        let _ = std::fs::remove_dir_all(&self.scratch.root);
    }
}

/// The running servers of one set.
struct Processes {
    scratch: Scratch,
    nats: Nats,
    postgres: Postgres,
    s3: Weed,
}

/// The programs, from the environment or the tools folder.
struct Programs {
    nats_server: PathBuf,
    weed: PathBuf,
    pg_bin: PathBuf,
}

impl Programs {
    fn find() -> Self {
        let tools = tools_dir();
        let program = |var: &str, in_tools: &str, what: &str| -> PathBuf {
            let path = match std::env::var_os(var) {
                Some(path) => PathBuf::from(path),
                None => tools
                    .as_ref()
                    .map(|dir| dir.join(in_tools))
                    .unwrap_or_default(),
            };
            assert!(
                path.is_file(),
                "{INSTALL_HINT} (no {what} at {}: {var} is {})",
                path.display(),
                std::env::var(var).unwrap_or_else(|_| "not set".to_owned())
            );
            path
        };
        let nats_server = program("EKPHRASIS_NATS_SERVER", NATS_SERVER_IN_TOOLS, "nats-server");
        let weed = program("EKPHRASIS_WEED", WEED_IN_TOOLS, "weed");
        let pg_bin = std::env::var_os("EKPHRASIS_PG_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(PG_BIN));
        for name in ["initdb", "pg_ctl", "createdb"] {
            assert!(
                pg_bin.join(name).is_file(),
                "{INSTALL_HINT} (PostgreSQL's {} is missing)",
                pg_bin.join(name).display()
            );
        }
        Self {
            nats_server,
            weed,
            pg_bin,
        }
    }
}

/// `$EKPHRASIS_TOOLS_DIR`, else `$XDG_CACHE_HOME/ekphrasis/tools`, else
/// `~/.cache/ekphrasis/tools`, as xtask has it.
fn tools_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("EKPHRASIS_TOOLS_DIR") {
        return Some(PathBuf::from(dir));
    }
    let cache = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(cache.join("ekphrasis").join("tools"))
}

/// Where the servers keep their data: `/dev/shm` where it is a writable RAM disk with room
/// (creating the thousand files of a PostgreSQL cluster on the test machines' disk took over a
/// second; a container's default `/dev/shm` of 64 MB is too small), else the temporary folder.
fn scratch_base() -> PathBuf {
    const ROOM_KB: u64 = 1 << 20;
    let shm = Path::new("/dev/shm");
    let usable = std::fs::metadata(shm).is_ok_and(|meta| meta.is_dir())
        && tempfile::tempdir_in(shm).is_ok()
        && available_kb(shm).is_some_and(|kb| kb >= ROOM_KB);
    if usable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// The space left on `dir`'s file system, in KiB, as `df -Pk` tells it.
fn available_kb(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    // "Filesystem 1024-blocks Used Available Capacity Mounted-on", then one line of values.
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

/// A set's folder, `ekphrasis-cluster-…` in [`scratch_base`], with its supervisor.
struct Scratch {
    root: PathBuf,
    /// Never waited for: it outlives the test process.
    _supervisor: Child,
}

/// The supervisor: waits until the test process ($1) is gone (or a zombie), then signals each
/// process listed in `$2/pids/` (a line `PID SIGNAL`), waits until they have exited and
/// deletes the folder $2.
const SUPERVISOR: &str = r#"
test_pid=$1 root=$2
alive() {
    local key value
    [ -r "/proc/$1/status" ] || return 1
    while read -r key value; do
        if [ "$key" = State: ]; then [ "${value:0:1}" != Z ]; return; fi
    done < "/proc/$1/status"
    return 1
}
while alive "$test_pid"; do sleep 0.2; done
pids=()
for file in "$root"/pids/*; do
    [ -f "$file" ] || continue
    read -r pid signal < "$file" || continue
    kill -s "$signal" "$pid" 2>/dev/null && pids+=("$pid")
done
for pid in "${pids[@]}"; do
    for _ in $(seq 300); do alive "$pid" || break; sleep 0.1; done
done
rm -rf "$root"
"#;

impl Scratch {
    fn create() -> Self {
        let root = tempfile::Builder::new()
            .prefix("ekphrasis-cluster-")
            .tempdir_in(scratch_base())
            .expect("a temporary folder")
            .keep();
        // PostgreSQL runs as its own user, which must reach its folder inside.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .expect("opening the temporary folder to other users");
        std::fs::create_dir(root.join("pids")).expect("a pids folder");
        let supervisor = Command::new("bash")
            .args(["-c", SUPERVISOR, "ekphrasis-cluster-supervisor"])
            .arg(std::process::id().to_string())
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("bash starts the cluster's supervisor");
        Self {
            root,
            _supervisor: supervisor,
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).expect("a server's folder");
        dir
    }
}

/// nats-server with JetStream.
struct Nats {
    program: PathBuf,
    dir: PathBuf,
    pids: PathBuf,
    port: u16,
    child: Option<Child>,
    started_in: Duration,
}

impl Nats {
    fn start(program: &Path, scratch: &Scratch) -> Self {
        let started = Instant::now();
        let dir = scratch.dir("nats");
        let ports_dir = dir.join("ports");
        std::fs::create_dir_all(&ports_dir).expect("a ports folder");
        let mut nats = Self {
            program: program.to_path_buf(),
            pids: scratch.root.join("pids"),
            dir,
            port: 0,
            child: None,
            started_in: Duration::ZERO,
        };
        // A random port, which it writes into `ports/nats-server_<pid>.ports`.
        let mut child = nats.spawn("-1");
        let ports_file = ports_dir.join(format!("nats-server_{}.ports", child.id()));
        let port = wait_until(&mut child, &nats.pids, "nats-server", &nats.log(), || {
            std::fs::read_to_string(&ports_file)
                .ok()
                .and_then(|text| nats_port(&text))
                .filter(|&port| answers(port))
        });
        nats.port = port;
        nats.child = Some(child);
        nats.started_in = started.elapsed();
        nats
    }

    fn spawn(&self, port: &str) -> Child {
        let mut command = Command::new(&self.program);
        command
            .args(["-a", "127.0.0.1", "-p", port, "-js", "-sd"])
            .arg(self.dir.join("jetstream"))
            .arg("--ports_file_dir")
            .arg(self.dir.join("ports"));
        let child = spawn_logged(command, &self.log(), "nats-server");
        record(&self.pids, "nats-server", child.id(), "KILL");
        child
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            // It is gone when stop_child returns, or killed if it panics.
            forget(&self.pids, "nats-server");
            stop_child(child, "TERM", "nats-server", &self.log());
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            forget(&self.pids, "nats-server");
        }
    }

    fn restart(&mut self) {
        assert!(self.child.is_none(), "NATS is already running");
        let mut child = self.spawn(&self.port.to_string());
        let port = self.port;
        wait_until(&mut child, &self.pids, "nats-server", &self.log(), || {
            answers(port).then_some(())
        });
        self.child = Some(child);
    }
}

/// The client port in nats-server's ports file: `{"nats":["nats://127.0.0.1:PORT"], …}`.
fn nats_port(ports_file: &str) -> Option<u16> {
    let (_, rest) = ports_file.split_once("nats://127.0.0.1:")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// PostgreSQL, through `pg_ctl`, as the `postgres` user when the tests run as root (initdb
/// refuses root).
struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    pids: PathBuf,
    port: u16,
    running: bool,
    as_postgres: bool,
    started_in: Duration,
}

impl Postgres {
    fn start(bin: &Path, scratch: &Scratch) -> Self {
        let started = Instant::now();
        let as_postgres = std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0);
        let dir = scratch.root.join("postgres");
        if as_postgres {
            run_checked(
                Command::new("install")
                    .args(["-d", "-o", "postgres", "-g", "postgres"])
                    .arg(&dir),
                "making PostgreSQL's folder (is there a `postgres` user?)",
            );
        } else {
            std::fs::create_dir_all(&dir).expect("PostgreSQL's folder");
        }
        let mut postgres = Self {
            bin: bin.to_path_buf(),
            pids: scratch.root.join("pids"),
            dir,
            port: 0,
            running: false,
            as_postgres,
            started_in: Duration::ZERO,
        };
        // A copy of an initdb'd cluster: initdb itself takes a second or more.
        run_checked(
            Command::new("cp")
                .arg("-a")
                .arg(postgres.template())
                .arg(postgres.data()),
            "copying the PostgreSQL template cluster",
        );
        // A free port, taken between our look and its bind by someone else at worst: try again.
        for attempt in 1.. {
            postgres.port = free_ports::<1>()[0];
            match postgres.pg_ctl_start() {
                Ok(()) => break,
                Err(err) if attempt < 3 => eprintln!("PostgreSQL did not start, again: {err}"),
                Err(err) => panic!("PostgreSQL did not start: {err}"),
            }
        }
        postgres.started_in = started.elapsed();
        postgres
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A freshly initdb'd data folder to copy, made once per PostgreSQL version and user in
    /// [`scratch_base`] (`ekphrasis-pg-template-…`, about 30 MB) and kept for later runs.
    /// It is made under a name of its own, then renamed: a half-made one is never used, and
    /// two test processes making it at once both succeed.
    fn template(&self) -> PathBuf {
        let version = Command::new(self.bin.join("initdb"))
            .arg("--version")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .expect("initdb --version");
        let key: String = version
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let owner = if self.as_postgres { "postgres" } else { "user" };
        let uid = std::fs::metadata("/proc/self").map_or(0, |meta| meta.uid());
        let name = format!("ekphrasis-pg-template-{INITDB_LAYOUT}-{key}-{owner}{uid}");
        let base = self
            .dir
            .parent()
            .and_then(Path::parent)
            .expect("in the scratch base");
        let template = base.join(&name);
        if template.join("PG_VERSION").is_file() {
            return template;
        }
        let partial = base.join(format!(
            "{name}.partial-{}-{}",
            std::process::id(),
            NEXT_NAME.fetch_add(1, Ordering::Relaxed)
        ));
        let mut initdb = self.command("initdb");
        initdb
            .arg("-D")
            .arg(&partial)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .args(["--locale", "C.UTF-8", "--wal-segsize", "1"]);
        run_checked(&mut initdb, "initdb");
        if std::fs::rename(&partial, &template).is_err() {
            // Another process made it first.
            let _ = std::fs::remove_dir_all(&partial);
        }
        assert!(
            template.join("PG_VERSION").is_file(),
            "no PostgreSQL template cluster at {}",
            template.display()
        );
        template
    }

    fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// One of PostgreSQL's programs, run as the `postgres` user when we are root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn pg_ctl_start(&mut self) -> Result<(), String> {
        let options = format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            self.port,
            self.dir.display()
        );
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log())
            .args(["-w", "-t"])
            .arg(READY_TIMEOUT.as_secs().to_string())
            .args(["start", "-o", &options]);
        let out = pg_ctl
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("cannot run pg_ctl: {err}"))?;
        if !out.status.success() {
            // After a timeout the postmaster may still be coming up: end it before trying again.
            if self.data().join("postmaster.pid").is_file() {
                let mut stop = self.command("pg_ctl");
                stop.arg("-D")
                    .arg(self.data())
                    .args(["-m", "immediate", "-w", "stop"]);
                let _ = stop.stdin(Stdio::null()).output();
            }
            return Err(format!(
                "pg_ctl start: {}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                log_tail(&self.log())
            ));
        }
        // The postmaster's pid is the first line of postmaster.pid; SIGQUIT is an immediate
        // shutdown.
        let pid = std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
            .expect("postmaster.pid names the postmaster");
        record(&self.pids, "postgres", pid, "QUIT");
        self.running = true;
        Ok(())
    }

    /// `pg_ctl stop` in `mode`, waiting until the server has exited.
    fn pg_ctl_stop(&mut self, mode: &str) -> Result<(), String> {
        if !self.running {
            return Ok(());
        }
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t"])
            .arg(STOP_TIMEOUT.as_secs().to_string())
            .args(["-m", mode, "stop"]);
        let out = pg_ctl
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("cannot run pg_ctl: {err}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_ctl stop: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        forget(&self.pids, "postgres");
        self.running = false;
        Ok(())
    }

    fn stop(&mut self) {
        if let Err(err) = self.pg_ctl_stop("fast") {
            panic!("PostgreSQL did not stop: {err}");
        }
    }

    /// An immediate shutdown, for dropping: never panics.
    fn kill(&mut self) {
        let _ = self.pg_ctl_stop("immediate");
    }

    fn restart(&mut self) {
        assert!(!self.running, "PostgreSQL is already running");
        if let Err(err) = self.pg_ctl_start() {
            panic!("PostgreSQL did not start again: {err}");
        }
    }
}

/// Names how the template cluster is made (the initdb flags above): change it with them.
const INITDB_LAYOUT: u32 = 2;

/// SeaweedFS's `weed mini`: master, volume, filer and the S3 gateway in one process.
struct Weed {
    program: PathBuf,
    dir: PathBuf,
    pids: PathBuf,
    /// Each component's HTTP port, in the order of [`WEED_COMPONENTS`]; its gRPC port is 10000
    /// more. The first is S3's.
    ports: [u16; WEED_COMPONENTS.len()],
    child: Option<Child>,
    started_in: Duration,
}

/// The components of `weed mini` that listen, each on an HTTP port and a gRPC port. Each gets
/// free ones: left alone, they take fixed defaults (8333 for S3, 9333 for the master, …), and
/// two sets would collide. The gRPC port is given as the HTTP port plus 10000, SeaweedFS's own
/// convention, because not every part of it reads the gRPC flag: its maintenance worker dials
/// the admin server at `admin.port` + 10000 whatever `-admin.port.grpc` says. (WebDAV, the
/// Iceberg and Lance catalogs are turned off; the admin server runs even with its UI off.)
const WEED_COMPONENTS: [&str; 5] = ["s3", "master", "volume", "filer", "admin"];

impl Weed {
    fn start(program: &Path, scratch: &Scratch) -> Self {
        let started = Instant::now();
        let dir = scratch.dir("s3");
        std::fs::create_dir_all(dir.join("data")).expect("SeaweedFS's data folder");
        let identities = format!(
            r#"{{"identities":[{{"name":"ekphrasis-test","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","List","Tagging","Write"]}}]}}"#
        );
        std::fs::write(dir.join("s3.json"), identities).expect("writing s3.json");
        let mut weed = Self {
            program: program.to_path_buf(),
            pids: scratch.root.join("pids"),
            dir,
            ports: [0; WEED_COMPONENTS.len()],
            child: None,
            started_in: Duration::ZERO,
        };
        // Free ports, though another process may take one before weed binds it: try again.
        for attempt in 1.. {
            weed.ports = free_port_pairs();
            match weed.launch() {
                Ok(()) => break,
                Err(err) if attempt < 3 => eprintln!("SeaweedFS did not start, again: {err}"),
                Err(err) => panic!("{err}"),
            }
        }
        weed.started_in = started.elapsed();
        weed
    }

    /// Starts `weed mini` and waits until S3 answers a signed request in the bucket.
    fn launch(&mut self) -> Result<(), String> {
        let mut command = Command::new(&self.program);
        command
            .arg("mini")
            .arg(format!("-dir={}", self.dir.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
            ])
            .args(["-webdav=false", "-admin.ui=false"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.config={}", self.dir.join("s3.json").display()))
            .arg(format!("-bucket={BUCKET}"))
            // Its sockets default to /tmp/seaweedfs-*-<port>.sock; keep them in the folder.
            .arg(format!(
                "-filer.localSocket={}",
                self.dir.join("filer.sock").display()
            ))
            .arg(format!(
                "-s3.localSocket={}",
                self.dir.join("s3.sock").display()
            ))
            .args(
                WEED_COMPONENTS
                    .iter()
                    .zip(self.ports)
                    .flat_map(|(component, port)| {
                        [
                            format!("-{component}.port={port}"),
                            format!("-{component}.port.grpc={}", port + GRPC_OFFSET),
                        ]
                    }),
            );
        let mut child = spawn_logged(command, &self.log(), "weed");
        record(&self.pids, "weed", child.id(), "KILL");
        let probe = S3Probe::new(&self.endpoint());
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                forget(&self.pids, "weed");
                return Err(format!(
                    "weed mini exited ({status}) before S3 answered:\n{}",
                    log_tail(&self.log())
                ));
            }
            if probe.answers() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                forget(&self.pids, "weed");
                panic!(
                    "SeaweedFS's S3 did not answer within {READY_TIMEOUT:?}:\n{}",
                    log_tail(&self.log())
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn endpoint(&self) -> S3Endpoint {
        S3Endpoint {
            endpoint: format!("http://127.0.0.1:{}", self.ports[0]),
            bucket: BUCKET.to_owned(),
            access_key: ACCESS_KEY.to_owned(),
            secret_key: SECRET_KEY.to_owned(),
            region: REGION.to_owned(),
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            // It is gone when stop_child returns, or killed if it panics.
            forget(&self.pids, "weed");
            stop_child(child, "TERM", "weed", &self.log());
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            forget(&self.pids, "weed");
        }
    }

    fn restart(&mut self) {
        assert!(self.child.is_none(), "SeaweedFS is already running");
        if let Err(err) = self.launch() {
            panic!("SeaweedFS did not start again: {err}");
        }
    }
}

/// Asks S3 to list a prefix of the bucket with the identity's signature: it answers once the
/// gateway is up, knows the identity and has the bucket.
struct S3Probe {
    store: object_store::aws::AmazonS3,
}

impl S3Probe {
    fn new(endpoint: &S3Endpoint) -> Self {
        let store = AmazonS3Builder::new()
            .with_endpoint(&endpoint.endpoint)
            .with_bucket_name(&endpoint.bucket)
            .with_region(&endpoint.region)
            .with_access_key_id(&endpoint.access_key)
            .with_secret_access_key(&endpoint.secret_key)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 0,
                retry_timeout: Duration::from_secs(2),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(true)
                    .with_connect_timeout(Duration::from_secs(1))
                    .with_timeout(Duration::from_secs(5)),
            )
            .build()
            .expect("an S3 client for the probe");
        Self { store }
    }

    fn answers(&self) -> bool {
        // A runtime on a thread of its own: the caller may be inside a test's runtime, where
        // another can neither block nor be dropped.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime for the S3 probe");
                    runtime
                        .block_on(
                            self.store
                                .list_with_delimiter(Some(&StorePath::from("ekphrasis-probe"))),
                        )
                        .is_ok()
                })
                .join()
                .expect("the S3 probe")
        })
    }
}

/// Whether something accepts TCP connections on the loopback port.
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// `N` distinct free loopback ports (each held until all are found).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("a bound port").port())
}

/// SeaweedFS's gRPC port is its HTTP port plus this.
const GRPC_OFFSET: u16 = 10000;

/// `N` HTTP ports, each free with its gRPC port ([`GRPC_OFFSET`] more) and all distinct: the
/// HTTP ports from 10000 to 22767, so that the gRPC ones stay below Linux's ephemeral ports
/// (32768 and up), where outgoing connections could take them.
fn free_port_pairs<const N: usize>() -> [u16; N] {
    let mut held: Vec<TcpListener> = Vec::new();
    let mut ports = [0; N];
    let mut found = 0;
    for _ in 0..10_000 {
        if found == N {
            break;
        }
        let port = 10_000 + (random() % 12_768) as u16;
        let pair = [port, port + GRPC_OFFSET].map(|p| TcpListener::bind(("127.0.0.1", p)));
        if let [Ok(http), Ok(grpc)] = pair {
            held.extend([http, grpc]);
            ports[found] = port;
            found += 1;
        }
    }
    assert_eq!(
        found, N,
        "no {N} free loopback port pairs (HTTP, HTTP + 10000)"
    );
    ports
}

/// A random number, from the standard library's randomly keyed hasher.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Starts a server with its output appended to `log`, in its own process group (a Ctrl-C to
/// the tests leaves it to the supervisor, which ends it cleanly).
fn spawn_logged(mut command: Command, log: &Path, what: &str) -> Child {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .expect("a server's log file");
    let err = out.try_clone().expect("a server's log file");
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} ({:?}): {e}", command.get_program()))
}

/// Polls `ready` until it gives a value. If the server exits first or takes longer than
/// [`READY_TIMEOUT`], takes it off the supervisor's list (`pids/{name}`) and panics with the
/// end of its log.
fn wait_until<T>(
    child: &mut Child,
    pids: &Path,
    name: &str,
    log: &Path,
    mut ready: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(value) = ready() {
            return value;
        }
        if let Ok(Some(status)) = child.try_wait() {
            forget(pids, name);
            panic!(
                "{name} exited ({status}) before it answered:\n{}",
                log_tail(log)
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            forget(pids, name);
            panic!(
                "{name} did not answer within {READY_TIMEOUT:?}:\n{}",
                log_tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` and waits for the exit; kills it after [`STOP_TIMEOUT`].
fn stop_child(mut child: Child, signal: &str, what: &str, log: &Path) {
    run_checked(
        Command::new("kill")
            .args(["-s", signal])
            .arg(child.id().to_string()),
        "kill",
    );
    let deadline = Instant::now() + STOP_TIMEOUT;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not stop within {STOP_TIMEOUT:?} of SIG{signal}:\n{}",
                log_tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lists a running server in the set's `pids/` for the supervisor, with the signal that ends it.
fn record(pids: &Path, name: &str, pid: u32, signal: &str) {
    std::fs::write(pids.join(name), format!("{pid} {signal}\n")).expect("writing a pid file");
}

/// Takes a server that has exited off the supervisor's list.
fn forget(pids: &Path, name: &str) {
    let _ = std::fs::remove_file(pids.join(name));
}

fn run_checked(command: &mut Command, what: &str) {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("{what}: cannot run {:?}: {err}", command.get_program()));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The last few lines of a server's log, for a panic message.
fn log_tail(log: &Path) -> String {
    const TAIL: u64 = 4000;
    let Ok(mut file) = File::open(log) else {
        return format!("(no log at {})", log.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL)));
    let mut text = Vec::new();
    let _ = file.read_to_end(&mut text);
    format!(
        "--- {} ---\n{}",
        log.display(),
        String::from_utf8_lossy(&text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ports_file_names_the_client_port() {
        let text = r#"{"nats":["nats://127.0.0.1:44807"],"monitoring":["http://127.0.0.1:8222"]}"#;
        assert_eq!(nats_port(text), Some(44807));
        assert_eq!(nats_port("{}"), None);
    }

    #[test]
    fn df_tells_the_room_left() {
        assert!(available_kb(&std::env::temp_dir()).is_some_and(|kb| kb > 0));
    }

    #[test]
    fn s3_env_is_what_object_store_reads() {
        let endpoint = S3Endpoint {
            endpoint: "http://127.0.0.1:1".to_owned(),
            bucket: BUCKET.to_owned(),
            access_key: ACCESS_KEY.to_owned(),
            secret_key: SECRET_KEY.to_owned(),
            region: REGION.to_owned(),
        };
        for (name, _) in endpoint.env() {
            let key: Result<object_store::aws::AmazonS3ConfigKey, _> =
                name.to_ascii_lowercase().parse();
            assert!(key.is_ok(), "{name}");
        }
    }
}
