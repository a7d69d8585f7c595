//! `ekphrasis models import-audiocraft` on a tiny audiocraft LM state dict saved by PyTorch
//! (`models/fixtures/make_audiocraft_fixtures.py`): every decoder tensor lands under the name
//! transformers' conversion gives it, the base's T5 and EnCodec are kept, the checkpoint
//! composes; a file that is not such a state dict is named.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::{Device, Tensor};

use crate::common;

use common::{BIN, error_line, text};

fn data() -> PathBuf {
    common::fixture("audiocraft-lm")
}

fn import(lm: &Path, out: &Path) -> Output {
    Command::new(BIN)
        .args(["models", "import-audiocraft", text(lm)])
        .args([
            "--base",
            text(&common::fixture("musicgen-tiny")),
            "--out",
            text(out),
        ])
        .output()
        .expect("the binary runs")
}

fn tensors(path: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(path, &Device::Cpu).unwrap()
}

fn same(a: &Tensor, b: &Tensor) -> bool {
    a.dims() == b.dims()
        && a.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            == b.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn the_authors_weights_become_a_published_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported");
    let run = import(&data().join("lm.pt"), &out);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let got = tensors(&out.join("model.safetensors"));
    let want = tensors(&data().join("expected.safetensors"));
    let base = tensors(&common::fixture("musicgen-tiny").join("model.safetensors"));
    assert_eq!(got.len(), base.len(), "every tensor of the base");
    for (name, tensor) in &got {
        let expected = want.get(name).unwrap_or(&base[name]);
        assert!(same(tensor, expected), "{name}");
    }
    assert_eq!(want.len(), 44);
    let codes = dir.path().join("codes.json");
    let composed = Command::new(BIN)
        .args(["compose", "--musicgen", text(&out), "--text", "happy piano"])
        .args([
            "--frames",
            "6",
            "--greedy",
            "--device",
            "cpu",
            "--codes-out",
            text(&codes),
        ])
        .output()
        .unwrap();
    assert!(
        composed.status.success(),
        "{}",
        String::from_utf8_lossy(&composed.stderr)
    );
}

#[test]
fn other_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported");
    let not_torch = dir.path().join("weights.pt");
    std::fs::write(&not_torch, b"not a zip").unwrap();
    let line = error_line(&import(&not_torch, &out));
    assert!(line.contains("weights.pt"), "{line}");
    // The published checkpoint itself is no audiocraft state dict.
    let line = error_line(&import(
        &common::fixture("musicgen-tiny").join("model.safetensors"),
        &out,
    ));
    assert!(line.contains("model.safetensors"), "{line}");
    assert!(!out.join("model.safetensors").exists());
}
