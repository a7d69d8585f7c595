//! `cargo xtask test`: every check the project has, in the order a failure is cheapest to find,
//! ending with one summary line per runner and a total. Clippy runs inside the builds ([`Lint`]),
//! so each crate is compiled once. Between the Rust and the browser tests, the GPU bundle is
//! packed around the tests' debug binary and its `run.sh --device cpu --quick` run
//! ([`gpu_bundle::pack_given`]); a failure there fails the run once the browser tests have run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cluster_servers::ClusterTools;
use crate::cmd;
use crate::gpu_bundle;
use crate::lint::Lint;
use crate::summary::Counts;
use crate::tools::{Need, Tools};

pub fn run() -> anyhow::Result<()> {
    let root = crate::root();
    let tools = Tools::ensure(Need::Everything)?;
    // The scale-out tests start real NATS, PostgreSQL and S3 servers on loopback.
    let cluster = ClusterTools::ensure()?;
    let cargo = |args: &[&str]| {
        let mut command = Command::new("cargo");
        command.args(args).current_dir(&root);
        command
    };

    cmd::run(&mut cargo(&["fmt", "--all", "--", "--check"]))
        .context("rustfmt: run `cargo fmt --all`")?;
    // Clippy lints every workspace crate as the tests' build (and the app's) compiles it.
    let lint = Lint::find()?;
    let mut rust = Counts::default();
    // The app's pure logic is tested on the host too; its browser side in the browser tests.
    let mut rust_tests = cargo(&["test", "--workspace", "--no-fail-fast"]);
    lint.apply(&mut rust_tests);
    rust_tests.envs(ONE_COMPUTE_THREAD);
    cluster.configure(&mut rust_tests);
    let rust_ok = cmd::run_teed(&mut rust_tests, |line| rust.add_cargo_line(line))?;

    tools.build_app(Some(&lint))?;
    // The server's integration tests above built this binary (with the workspace's unified
    // features; a separate `cargo build -p` would compile much of it again).
    let server = target_dir().join("debug").join("ekphrasis");
    if !server.is_file() {
        bail!("{} was not built by the Rust tests", server.display());
    }
    let (bundle_ok, bundle_line) = check_gpu_bundle(&server);

    let mut browser = Counts::default();
    let mut node = Command::new("node");
    // The tests wait for what the page and the server report, with no clock of their own; the
    // runner's timeout only ends a test that hangs. Each file starts its own server and
    // Chromium, so two files run at once: one's waits are the other's compute.
    node.args([
        "--test",
        "--test-reporter=tap",
        "--test-concurrency=2",
        "--test-timeout=900000",
    ])
    .args(browser_test_files()?)
    .current_dir(&root)
    .env("EKPHRASIS_BIN", &server)
    .envs(ONE_COMPUTE_THREAD)
    .env("EKPHRASIS_DIST", root.join("dist"))
    .env(
        "CHROMIUM_PATH",
        tools.chromium.as_ref().expect("asked for chromium"),
    );
    let browser_ok = cmd::run_teed(&mut node, |line| browser.add_tap_line(line))?;

    println!();
    println!("{}", rust.line("rust"));
    println!("{}", browser.line("browser"));
    println!("{}", rust.plus(browser).line("total"));
    println!("{bundle_line}");
    if !rust_ok || !browser_ok || !bundle_ok || rust.failed + browser.failed > 0 {
        bail!("tests failed");
    }
    Ok(())
}

/// Packs `server` (the tests' debug build) into `target/gpu-bundle/cpu-check` and runs the
/// bundle's quick CPU check, so the bundle cannot rot while the 17-minute `cuda` build stays out
/// of the tests; answers whether it passed and the summary line with its time. The bundle is
/// only checked, not carried: xz's fast level saves most of a minute.
fn check_gpu_bundle(server: &Path) -> (bool, String) {
    let started = Instant::now();
    let out = target_dir().join("gpu-bundle").join("cpu-check");
    let result = gpu_bundle::pack_given(server, &out, gpu_bundle::Compression::Fast, true);
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => (
            true,
            format!("gpu-bundle: packed, run.sh --device cpu --quick passed, {seconds:.0} s"),
        ),
        Err(err) => (
            false,
            format!("gpu-bundle: FAILED in {seconds:.0} s: {err:#}"),
        ),
    }
}

/// Tests run two at a time (test threads, browser files), each with the models' compute pools:
/// with a pool of a thread per core each, the pools' threads spin waiting on one another and
/// the models' tests took 1.6 times as long (143 s against 90 s; EnCodec's 3 times). One
/// compute thread a test instead (the GPU bundle's check still runs them on every core).
const ONE_COMPUTE_THREAD: [(&str, &str); 2] =
    [("CANDLE_NUM_THREADS", "1"), ("RAYON_NUM_THREADS", "1")];

/// Where cargo puts its builds.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join("target"))
}

fn browser_test_files() -> anyhow::Result<Vec<PathBuf>> {
    let dir = crate::root().join("tests").join("browser");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no browser tests (*.test.mjs) in {}", dir.display());
    }
    Ok(files)
}
