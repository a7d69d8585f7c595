//! End-to-end tests: the real server (and the cluster's servers) on loopback.
//! The test files beside this one are its modules: one binary links and runs them all
//! (two threads share the tests of every file), rather than a binary per file. A file in
//! `tests/` left out of the list fails xtask's `every_integration_test_file_runs`.

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
