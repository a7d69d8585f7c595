//! The server crate's integration tests: its commands and parts, run as a person runs them.
//! The test files beside this one are its modules: one binary links and runs them all
//! (two threads share the tests of every file), rather than a binary per file. A file in
//! `tests/` left out of the list fails xtask's `every_integration_test_file_runs`.

mod bench_cli;
mod caption;
mod chain;
mod cli;
mod common;
mod dataset_cli;
mod emotion_cli;
mod encode_cli;
mod enhance;
mod eval_cli;
mod experiment_cli;
mod gallery_cli;
mod import_audiocraft_cli;
mod midi_cli;
mod models_cmd;
mod train_cli;
mod train_musicgen_cli;
