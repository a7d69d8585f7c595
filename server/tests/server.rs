//! The server crate's integration tests: its commands and parts, run as a person runs them.
//! The test files beside this one are its modules: one binary links and runs them all
//! (two threads share the tests of every file), rather than a binary per file.

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

/// A test file left out of the list above would silently never run (this crate has
/// `autotests = false`): every `tests/*.rs` is a module here or a test binary of its own.
#[test]
fn every_test_file_runs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = std::fs::read_to_string(dir.join("server.rs")).unwrap();
    let own_binaries = ["server.rs"];
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
