//! `cargo xtask test`: every check the project has, in the order a failure is cheapest to find,
//! ending with one summary line per runner and a total.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

use crate::cluster_servers::ClusterTools;
use crate::cmd;
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
    cmd::run(&mut cargo(&[
        "clippy",
        "--workspace",
        "--exclude",
        "ekphrasis-app",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    cmd::run(&mut cargo(&[
        "clippy",
        "-p",
        "ekphrasis-app",
        "--target",
        "wasm32-unknown-unknown",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;

    let mut rust = Counts::default();
    // The app's pure logic is tested on the host too; its browser side in the browser tests.
    let mut rust_tests = cargo(&["test", "--workspace", "--no-fail-fast"]);
    cluster.configure(&mut rust_tests);
    let rust_ok = cmd::run_teed(&mut rust_tests, |line| rust.add_cargo_line(line))?;

    tools.build_app()?;
    // The server's integration tests above built this binary (with the workspace's unified
    // features; a separate `cargo build -p` would compile much of it again).
    let server = target_dir().join("debug").join("ekphrasis");
    if !server.is_file() {
        bail!("{} was not built by the Rust tests", server.display());
    }

    let mut browser = Counts::default();
    let mut node = Command::new("node");
    // The tests wait for what the page and the server report, with no clock of their own; the
    // runner's timeout only ends a test that hangs.
    node.args([
        "--test",
        "--test-reporter=tap",
        "--test-concurrency=1",
        "--test-timeout=900000",
    ])
    .args(browser_test_files()?)
    .current_dir(&root)
    .env("EKPHRASIS_BIN", &server)
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
    if !rust_ok || !browser_ok || rust.failed + browser.failed > 0 {
        bail!("tests failed");
    }
    Ok(())
}

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
