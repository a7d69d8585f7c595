//! The models crate's integration tests: each model against its reference implementation.
//! The test files beside this one are its modules: one binary links and runs them all
//! (two threads share the tests of every file), rather than a binary per file. A file in
//! `tests/` left out of the list fails xtask's `every_integration_test_file_runs`.

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
