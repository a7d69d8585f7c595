//! `ekphrasis models tiny` and `ekphrasis models fetch`, offline, through a Hugging Face cache
//! laid out as hf-hub lays it out.

use std::path::Path;
use std::process::{Command, Output};

use crate::common;

fn ekphrasis(args: &[&str], hf_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ekphrasis"))
        .args(args)
        .env("HF_HOME", hf_home)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("run ekphrasis")
}

/// Copies `model` into the cache as the snapshot of `hub_id`.
fn cache_as(hf_home: &Path, hub_id: &str, model: &Path) {
    let repo = hf_home
        .join("hub")
        .join(format!("models--{}", hub_id.replace('/', "--")));
    let snapshot = repo.join("snapshots/0123abcd");
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123abcd").unwrap();
    for entry in std::fs::read_dir(model).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), snapshot.join(entry.file_name())).unwrap();
    }
}

/// The hub ids `models fetch` looks for, by role (the emotion model is not fetched: it is
/// trained).
const FETCHED: [(&str, &str); 4] = [
    ("clip", "openai/clip-vit-base-patch32"),
    ("blip", "Salesforce/blip-image-captioning-large"),
    ("falcon", "tiiuae/falcon-rw-1b"),
    ("musicgen", "facebook/musicgen-small"),
];

#[test]
fn tiny_models_written_and_found_by_fetch_in_the_cache() {
    let work = tempfile::tempdir().unwrap();
    let models = work.path().join("models");
    let out = ekphrasis(
        &["models", "tiny", "--out", models.to_str().unwrap()],
        work.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for role in ["emotion", "clip", "blip", "falcon", "musicgen"] {
        assert!(models.join(role).join("config.json").is_file(), "{role}");
        assert!(
            models.join(role).join("model.safetensors").is_file(),
            "{role}"
        );
    }

    let hf_home = work.path().join("hf");
    for (role, hub_id) in FETCHED {
        cache_as(&hf_home, hub_id, &models.join(role));
    }
    for (role, _) in FETCHED {
        let out = ekphrasis(&["models", "fetch", "--only", role], &hf_home);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{role}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("ok:"), "{role}: {stdout}");
    }
}

#[test]
fn fetch_names_a_foreign_checkpoint_and_an_unknown_role() {
    let work = tempfile::tempdir().unwrap();
    let models = work.path().join("models");
    let out = ekphrasis(
        &["models", "tiny", "--out", models.to_str().unwrap()],
        work.path(),
    );
    assert!(out.status.success());
    let hf_home = work.path().join("hf");
    cache_as(&hf_home, "tiiuae/falcon-rw-1b", &models.join("musicgen"));
    let out = ekphrasis(&["models", "fetch", "--only", "falcon"], &hf_home);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("model_type is `musicgen`"), "{stdout}");

    let out = ekphrasis(&["models", "fetch", "--only", "painter"], &hf_home);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model role `painter`"));
}

#[test]
fn evaluation_models_are_fetched_by_name_and_found_by_eval_in_the_cache() {
    let work = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/tests/data");
    // CLAP comes from the hub cache; VGGish and PANNs from `ekphrasis-eval/` beside it.
    cache_as(
        work.path(),
        "laion/clap-htsat-unfused",
        &data.join("clap-tiny"),
    );
    let out = ekphrasis(&["models", "fetch", "--only", "clap"], work.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("clap (how closely music matches words (CLAP))"),
        "{stdout}"
    );

    // A published file not yet downloaded, offline: named with where it comes from.
    let out = ekphrasis(&["models", "fetch", "--only", "vggish"], work.path());
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("github.com/harritaylor/torchvggish"),
        "{stdout}"
    );
    assert!(
        !work
            .path()
            .join("ekphrasis-eval/vggish-10086976.pth")
            .exists()
    );
    let out = ekphrasis(&["models", "fetch", "--only", "loudness"], work.path());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vggish, panns"));

    // Files already in the cache are what `eval` uses when no flag is given.
    let cache = work.path().join("ekphrasis-eval");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(
        data.join("vggish/vggish-narrow.pth"),
        cache.join("vggish-10086976.pth"),
    )
    .unwrap();
    std::fs::copy(
        data.join("panns/cnn14-tiny.pth"),
        cache.join("Cnn14_mAP=0.431.pth"),
    )
    .unwrap();
    let samples: Vec<i16> = (0..48_000)
        .map(|i| ((i as f32 * 0.07).sin() * 9000.0) as i16)
        .collect();
    for name in ["a", "b"] {
        common::write_wav(
            &work.path().join(format!("music/sad/{name}.wav")),
            48_000,
            1,
            &samples,
        );
    }
    let music = work.path().join("music");
    let out = ekphrasis(
        &[
            "eval",
            "--reference",
            music.to_str().unwrap(),
            "--generated",
            music.to_str().unwrap(),
            "--metrics",
            "fad,kl,clap",
            "--device",
            "cpu",
            "--json",
        ],
        work.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["fad", "kl_vggish_softmax", "kl_softmax", "clap"] {
        assert!(json[key].is_f64(), "{key} from the cached model: {json}");
    }
}
