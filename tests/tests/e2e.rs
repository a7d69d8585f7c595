//! End-to-end tests: the real server (and the cluster's servers) on loopback.
//! The test files beside this one are its modules: one binary links and runs them all
//! (two threads share the tests of every file), rather than a binary per file.

mod cluster;
mod cluster_bench;
mod cluster_resume;
mod cluster_servers;
mod cluster_store;
mod connections;
mod hardening;
mod http;
mod jobs;
mod resume;
mod uploads;
mod websocket;

/// A test file left out of the list above would silently never run (this crate has
/// `autotests = false`): every `tests/*.rs` is a module here or a test binary of its own.
#[test]
fn every_test_file_runs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = std::fs::read_to_string(dir.join("e2e.rs")).unwrap();
    let own_binaries = ["e2e.rs", "load.rs", "memory_budget.rs"];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(module) = name.strip_suffix(".rs") {
            assert!(
                own_binaries.contains(&name.as_str())
                    || root.contains(&format!("\nmod {module};\n")),
                "tests/{name} is not a module of this test binary: add `mod {module};`"
            );
        }
    }
}
