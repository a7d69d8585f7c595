//! The tiny model sets written by `ekphrasis_models::tiny` load through the real loaders and run.

use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device};
use ekphrasis_models::musicgen::{GenerateOptions, MusicGen, Sampling};
use ekphrasis_models::tiny;

#[test]
fn tiny_musicgen_loads_through_the_checkpoint_loader_and_makes_audio() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_musicgen(dir.path(), 7).unwrap();
    let mut musicgen = MusicGen::load(dir.path(), &Device::Cpu, DType::F32).unwrap();
    let ids = musicgen.tokenize("A sad painting of the sea").unwrap();
    assert_eq!(ids.len(), 7, "six words and </s>: {ids:?}");
    let options = GenerateOptions {
        frames: 20,
        sampling: Sampling::Greedy,
        ..GenerateOptions::default()
    };
    let codes = musicgen
        .generate(
            "A sad painting of the sea",
            &options,
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap();
    assert_eq!(codes.len(), 4);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 20 && c.iter().all(|&code| code < 64))
    );
    let audio = musicgen.decode(&codes).unwrap();
    assert_eq!(audio.len(), 20 * 640);
    assert!(audio.iter().all(|s| s.is_finite()));
    assert!(audio.iter().any(|&s| s != 0.0));
}

#[test]
fn the_same_seed_writes_the_same_files() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    tiny::write_musicgen(a.path(), 7).unwrap();
    tiny::write_musicgen(b.path(), 7).unwrap();
    for name in ["config.json", "tokenizer.json", "model.safetensors"] {
        let read = |dir: &tempfile::TempDir| std::fs::read(dir.path().join(name)).unwrap();
        assert_eq!(read(&a), read(&b), "{name}");
    }
}
