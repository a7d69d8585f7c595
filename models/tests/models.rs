//! The models crate's integration tests: each model against its reference implementation.
//! The test files beside this one are its modules: one binary links and runs them all
//! (two threads share the tests of every file), rather than a binary per file.

mod blip;
mod clip;
mod common;
mod emotion_head;
mod encodec;
mod encodec_encoder;
mod eval_clap;
mod eval_panns;
mod eval_vggish;
mod falcon_rw;
mod image_prep;
mod musicgen;
mod musicgen_finetune;
mod musicgen_odd;
mod parity;
mod resnet;
mod tiny;
mod train;

/// A test file left out of the list above would silently never run (this crate has
/// `autotests = false`): every `tests/*.rs` is a module here or a test binary of its own.
#[test]
fn every_test_file_runs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = std::fs::read_to_string(dir.join("models.rs")).unwrap();
    let own_binaries = ["models.rs"];
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
