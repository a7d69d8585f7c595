//! Turning a checkpoint argument into a local directory: a directory is used as it is; a Hugging
//! Face hub id (`facebook/musicgen-small`) is looked up in the standard Hugging Face cache
//! (`HF_HOME`, `~/.cache/huggingface`) and downloaded into it when the network allows.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hf_hub::{Cache, Repo};

/// The files a checkpoint needs; `weights` lists alternatives, the first present wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Files<'a> {
    pub required: &'a [&'a str],
    pub weights: &'a [&'a str],
}

/// A local directory for `spec`: the directory itself, or the cached snapshot of a hub id.
pub fn resolve(spec: &str, files: &Files<'_>) -> anyhow::Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if !looks_like_hub_id(spec) {
        bail!(
            "{spec}: no such directory (give a checkpoint directory, or a Hugging Face hub id as owner/name)"
        );
    }
    if let Some(dir) = cached(&Cache::from_env(), spec, files) {
        return Ok(dir);
    }
    download(spec, files).with_context(|| {
        format!(
            "{spec} is not in the Hugging Face cache and could not be downloaded; \
             download it where the network allows, or give a local directory"
        )
    })
}

/// A local directory for `spec` without touching the network: the directory itself, or the
/// cached snapshot of a hub id when every needed file is in the cache.
pub fn cached_only(spec: &str, files: &Files<'_>) -> Option<PathBuf> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Some(path.to_path_buf());
    }
    looks_like_hub_id(spec)
        .then(|| cached(&Cache::from_env(), spec, files))
        .flatten()
}

fn looks_like_hub_id(spec: &str) -> bool {
    let mut parts = spec.split('/');
    let (Some(owner), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    ok(owner) && ok(name)
}

/// The snapshot directory when every needed file is already cached.
fn cached(cache: &Cache, id: &str, files: &Files<'_>) -> Option<PathBuf> {
    let repo = cache.repo(Repo::model(id.to_string()));
    let mut dir = None;
    for name in files.required {
        dir = Some(repo.get(name)?.parent()?.to_path_buf());
    }
    files.weights.iter().find_map(|name| repo.get(name))?;
    dir
}

fn download(id: &str, files: &Files<'_>) -> anyhow::Result<PathBuf> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let api = hf_hub::api::tokio::ApiBuilder::from_env()
            .with_progress(true)
            .build()?;
        let repo = api.model(id.to_string());
        let mut dir = None;
        for name in files.required {
            let path = repo
                .get(name)
                .await
                .with_context(|| format!("downloading {name}"))?;
            dir = path.parent().map(Path::to_path_buf);
        }
        let mut last_error = None;
        for name in files.weights {
            match repo.get(name).await {
                Ok(_) => return dir.context("the snapshot has no directory"),
                Err(e) => last_error = Some(e),
            }
        }
        match last_error {
            Some(e) => Err(e).context("downloading the weights"),
            None => dir.context("no files were asked for"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MUSICGEN: Files<'static> = Files {
        required: &["config.json", "tokenizer.json"],
        weights: &["model.safetensors", "pytorch_model.bin"],
    };

    #[test]
    fn tells_hub_ids_from_paths() {
        assert!(looks_like_hub_id("facebook/musicgen-small"));
        assert!(looks_like_hub_id("Salesforce/blip-image-captioning-large"));
        assert!(!looks_like_hub_id("musicgen"));
        assert!(!looks_like_hub_id("./models/musicgen"));
        assert!(!looks_like_hub_id("/abs/path"));
        assert!(!looks_like_hub_id("a/b/c"));
    }

    #[test]
    fn a_directory_is_used_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().to_str().unwrap();
        assert_eq!(resolve(spec, &MUSICGEN).unwrap(), dir.path());
    }

    #[test]
    fn a_cached_snapshot_is_found_offline() {
        let home = tempfile::tempdir().unwrap();
        let snapshot = home.path().join("hub/models--acme--tiny/snapshots/abc123");
        std::fs::create_dir_all(&snapshot).unwrap();
        std::fs::create_dir_all(home.path().join("hub/models--acme--tiny/refs")).unwrap();
        std::fs::write(
            home.path().join("hub/models--acme--tiny/refs/main"),
            "abc123",
        )
        .unwrap();
        for name in ["config.json", "tokenizer.json", "pytorch_model.bin"] {
            std::fs::write(snapshot.join(name), b"x").unwrap();
        }
        let cache = Cache::new(home.path().join("hub"));
        assert_eq!(
            cached(&cache, "acme/tiny", &MUSICGEN),
            Some(snapshot.clone())
        );
        std::fs::remove_file(snapshot.join("pytorch_model.bin")).unwrap();
        assert_eq!(
            cached(&cache, "acme/tiny", &MUSICGEN),
            None,
            "weights are needed"
        );
    }
}
