//! `ekphrasis bench cluster` against the test binary's real servers (its own NATS, a fresh
//! database and S3 prefix): it exits 0, prints its table with a row per worker count and the
//! broker's latency, and leaves none of its web nodes or workers running. Ignored (it starts
//! a cluster of processes per worker count and takes a minute or more); run it with
//! `cargo test --workspace --test e2e cluster_bench -- --ignored --nocapture`.
//!
//! It runs `--workers 1,2 --pieces 4`; `EKPHRASIS_BENCH_CLUSTER` replaces those flags (e.g.
//! `"--workers 1,2,4 --pieces 8"`), and `EKPHRASIS_BIN` names another binary (a release build)
//! to measure with.

use std::process::{Command, Stdio};

use ekphrasis_e2e::{cluster, nodes};

#[test]
#[ignore = "slow: a cluster of child processes per worker count; run by hand"]
fn bench_cluster_prints_its_figures_and_leaves_no_process() {
    let servers = cluster::servers();
    let nats = cluster::PrivateNats::start();
    let database = servers.fresh_database();
    let (store, env) = servers.fresh_store();
    let flags: Vec<String> = std::env::var("EKPHRASIS_BENCH_CLUSTER")
        .unwrap_or_else(|_| "--workers 1,2 --pieces 4".into())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let workers: Vec<usize> = flags
        .iter()
        .position(|flag| flag == "--workers")
        .and_then(|at| flags.get(at + 1))
        .map_or("1,2,4", String::as_str)
        .split(',')
        .map(|n| n.parse().expect("a worker count"))
        .collect();
    let child = Command::new(nodes::binary())
        .args(["bench", "cluster"])
        .args(["--broker", &nats.url])
        .args(["--database", &database])
        .args(["--store", &store])
        .args(&flags)
        .envs(env)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the ekphrasis binary starts");
    let pid = child.id();
    let output = child.wait_with_output().expect("the benchmark runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(output.status.success(), "the benchmark failed: {output:?}");

    assert!(
        stdout.contains("| workers | pieces/min | first audio (median) | first audio (worst) |"),
        "no table:\n{stdout}"
    );
    for workers in workers {
        let row = stdout
            .lines()
            .find(|line| line.starts_with(&format!("| {workers} | ")))
            .unwrap_or_else(|| panic!("no row for {workers} worker(s):\n{stdout}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let per_minute: f64 = cells[2].parse().expect("pieces a minute");
        assert!(per_minute > 0.0, "{row}");
        assert!(
            cells[3].ends_with(" s") && cells[4].ends_with(" s"),
            "{row}"
        );
    }
    for sent in ["| one at a time | ", "| all at once | "] {
        assert!(
            stdout.contains(sent),
            "no broker latency line `{sent}`:\n{stdout}"
        );
    }

    // Its children are named after it: none is left.
    let ps = Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .expect("ps runs");
    let marker = format!("bench-{pid}-");
    let left: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|line| line.contains(&marker))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "processes left running: {left:#?}");
}
