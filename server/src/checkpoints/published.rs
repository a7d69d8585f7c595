//! Checkpoints that are single files on their publishers' sites rather than Hugging Face hub
//! repositories (VGGish on GitHub, PANNs CNN14 on Zenodo): where they are cached, downloading
//! one with a progress bar, and checking it against the publisher's own pin.
//!
//! The cache is `ekphrasis-eval/` beside the Hugging Face hub cache (`$HF_HOME`, else
//! `~/.cache/huggingface`), so one folder holds every model `ekphrasis models fetch` brings.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use md5::Md5;
use sha2::{Digest, Sha256};

/// How a publisher pins its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// The leading hex digits of the file's SHA-256, as torch.hub names its files
    /// (`vggish-10086976.pth`).
    Sha256Prefix(&'static str),
    /// The MD5 a Zenodo record lists beside the file.
    Md5(&'static str),
}

/// One published checkpoint file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedFile {
    /// The name `ekphrasis models fetch --only` takes.
    pub role: &'static str,
    /// What it does, for progress lines.
    pub purpose: &'static str,
    /// The file's published name, kept in the cache.
    pub file_name: &'static str,
    /// Where the publisher serves it.
    pub url: &'static str,
    /// The publisher's checksum.
    pub pin: Pin,
    /// Its licence, for the credits.
    pub licence: &'static str,
}

/// torchvggish's port of VGGish (Hershey et al.), the network behind the paper's FAD and KL.
pub const VGGISH: PublishedFile = PublishedFile {
    role: "vggish",
    purpose: "FAD and the paper's histogram KL",
    file_name: "vggish-10086976.pth",
    url: "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
    pin: Pin::Sha256Prefix("10086976"),
    licence: "Apache-2.0",
};

/// PANNs CNN14 (Kong et al.), the AudioSet tagger behind the paired KL and the Inception Score.
pub const PANNS: PublishedFile = PublishedFile {
    role: "panns",
    purpose: "paired KL and Inception Score",
    file_name: "Cnn14_mAP=0.431.pth",
    url: "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth?download=1",
    pin: Pin::Md5("541141fa2ee191a88f24a3219fff024e"),
    licence: "MIT",
};

/// Every published file `ekphrasis models fetch` can bring.
pub const FILES: [PublishedFile; 2] = [VGGISH, PANNS];

/// The folder the published files are cached in.
pub fn cache_dir() -> PathBuf {
    let hub = hf_hub::Cache::from_env().path().clone();
    hub.parent().unwrap_or(&hub).join("ekphrasis-eval")
}

/// The cached copy of `file`, if it has been downloaded.
pub fn cached(file: &PublishedFile) -> Option<PathBuf> {
    let path = cache_dir().join(file.file_name);
    path.is_file().then_some(path)
}

/// The cached copy of `file`, downloaded first if it is not there.
pub fn fetch(file: &PublishedFile) -> anyhow::Result<PathBuf> {
    if let Some(path) = cached(file) {
        return Ok(path);
    }
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let path = dir.join(file.file_name);
    let partial = dir.join(format!("{}.partial", file.file_name));
    download(file.url, &partial).with_context(|| format!("downloading {}", file.url))?;
    if let Err(e) = check_pin(&partial, file.pin) {
        let _ = std::fs::remove_file(&partial);
        return Err(e.context(format!("{} from {}", file.file_name, file.url)));
    }
    std::fs::rename(&partial, &path)
        .with_context(|| format!("{}: cannot move into place", path.display()))?;
    Ok(path)
}

fn download(url: &str, to: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut response = reqwest::Client::new()
            .get(url)
            .send()
            .await?
            .error_for_status()?;
        let bar = ProgressBar::new(response.content_length().unwrap_or(0)).with_style(
            ProgressStyle::with_template(
                "  {bytes}/{total_bytes} {wide_bar} {bytes_per_sec}, {eta} left",
            )
            .expect("a valid template"),
        );
        let mut out = std::fs::File::create(to)
            .with_context(|| format!("{}: cannot create", to.display()))?;
        while let Some(chunk) = response.chunk().await? {
            out.write_all(&chunk)
                .with_context(|| format!("{}: cannot write", to.display()))?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        out.sync_all()?;
        Ok(())
    })
}

/// Checks the file at `path` against `pin`.
pub fn check_pin(path: &Path, pin: Pin) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let (found, wanted, matches) = match pin {
        Pin::Sha256Prefix(prefix) => {
            let hex = hex::encode(Sha256::digest(&bytes));
            let ok = hex.starts_with(prefix);
            (format!("sha256 {hex}"), format!("sha256 {prefix}…"), ok)
        }
        Pin::Md5(md5) => {
            let hex = hex::encode(Md5::digest(&bytes));
            let ok = hex == md5;
            (format!("md5 {hex}"), format!("md5 {md5}"), ok)
        }
    };
    if !matches {
        bail!("the download has {found}, but the publisher pins {wanted}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_checked_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        // sha256("abc") = ba7816bf…, md5("abc") = 900150983cd24fb0d6963f7d28e17f72
        check_pin(&path, Pin::Sha256Prefix("ba7816bf")).unwrap();
        check_pin(&path, Pin::Md5("900150983cd24fb0d6963f7d28e17f72")).unwrap();
        let err = check_pin(&path, Pin::Sha256Prefix("10086976")).unwrap_err();
        assert!(err.to_string().contains("sha256 ba7816bf"), "{err}");
        assert!(check_pin(&path, Pin::Md5("541141fa2ee191a88f24a3219fff024e")).is_err());
    }

    #[test]
    fn the_cache_sits_beside_the_hub_cache() {
        let hub = hf_hub::Cache::from_env().path().clone();
        assert_eq!(cache_dir().parent(), hub.parent());
    }
}
