//! Image and audio files, kept through the `object_store` crate: a local folder by default
//! (`--data`/blobs, written to a temporary file, synced and renamed, so a reader sees all of a
//! file or none of it), or, in a build with the `s3` feature, any S3-compatible bucket given as
//! `--store s3://bucket/prefix` (credentials from the usual `AWS_*` environment variables).

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The blob store, cheaply cloned.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Where it is, for messages.
    shown: String,
}

/// Why a blob could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no blob `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

impl Blobs {
    /// A local folder (created if needed), with every write synced to disk.
    pub fn local(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("cannot use {} for files", dir.display()))?
            .with_fsync(true);
        Ok(Self {
            store: Arc::new(store),
            shown: dir.display().to_string(),
        })
    }

    /// The store `spec` names: a folder path or `file://` URL, else (with the `s3` feature) an
    /// object-store URL such as `s3://bucket/prefix`, configured by the process's `AWS_*`
    /// environment variables.
    pub fn open(spec: &str) -> anyhow::Result<Self> {
        Self::open_with(spec, Self::env_options())
    }

    /// Like [`open`](Self::open), with an object store's options given rather than read from
    /// the environment: `(name, value)` pairs named as the `AWS_*` variables are
    /// (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, …; any case). A folder takes none.
    pub fn open_with(spec: &str, options: Vec<(String, String)>) -> anyhow::Result<Self> {
        if let Some(dir) = spec.strip_prefix("file://") {
            return Self::local(Path::new(dir));
        }
        if !spec.contains("://") {
            return Self::local(Path::new(spec));
        }
        let options = options
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        Self::remote(spec, options)
    }

    /// The process's `AWS_*` environment variables.
    pub fn env_options() -> Vec<(String, String)> {
        std::env::vars()
            .filter(|(name, _)| name.starts_with("AWS_"))
            .collect()
    }

    #[cfg(feature = "s3")]
    fn remote(spec: &str, options: Vec<(String, String)>) -> anyhow::Result<Self> {
        let url = url::Url::parse(spec).with_context(|| format!("--store {spec}: not a URL"))?;
        if url.scheme() != "s3" {
            let (store, prefix) = object_store::parse_url_opts(&url, options)
                .with_context(|| format!("--store {spec}"))?;
            return Ok(Self {
                store: Arc::new(object_store::prefix::PrefixStore::new(store, prefix)),
                shown: spec.to_owned(),
            });
        }
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_url(spec)
            // An unreachable store is reported within seconds, not after minutes of retries.
            .with_retry(object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(10),
                ..Default::default()
            });
        for (name, value) in options {
            if let Ok(key) = name.parse::<object_store::aws::AmazonS3ConfigKey>() {
                builder = builder.with_config(key, value);
            }
        }
        let store = builder.build().with_context(|| format!("--store {spec}"))?;
        let prefix = object_store::path::Path::from(url.path());
        Ok(Self {
            store: Arc::new(object_store::prefix::PrefixStore::new(store, prefix)),
            shown: spec.to_owned(),
        })
    }

    #[cfg(not(feature = "s3"))]
    fn remote(spec: &str, _options: Vec<(String, String)>) -> anyhow::Result<Self> {
        anyhow::bail!(
            "--store {spec}: this build keeps files in local folders only; build with \
             `--features ekphrasis-server/s3` for S3-compatible storage"
        )
    }

    /// Where the store is: its folder or URL.
    pub fn location(&self) -> &str {
        &self.shown
    }

    /// Whether the store answers now: a listing of one (normally empty) folder, which needs the
    /// bucket to exist and the credentials to be accepted.
    pub async fn check(&self) -> anyhow::Result<()> {
        self.store
            .list_with_delimiter(Some(&Key::from("health")))
            .await
            .with_context(|| format!("the blob store {} does not answer", self.shown))?;
        Ok(())
    }

    /// Stores `bytes` under `key`, replacing what was there; when it returns, the blob is whole
    /// and durable.
    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.store
            .put(&Key::from(key), PutPayload::from_bytes(bytes))
            .await
            .with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    /// The whole blob.
    pub async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        let result = self
            .store
            .get(&Key::from(key))
            .await
            .map_err(not_found(key))?;
        Ok(result.bytes().await?)
    }

    /// The blob's size in bytes.
    pub async fn size(&self, key: &str) -> Result<u64, BlobError> {
        Ok(self
            .store
            .head(&Key::from(key))
            .await
            .map_err(not_found(key))?
            .size)
    }

    /// Every blob whose key starts with `prefix` (a folder, `tracks/`), with when it was last
    /// written.
    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<(String, std::time::SystemTime)>> {
        use futures_util::TryStreamExt;
        let prefix = Key::from(prefix.trim_end_matches('/'));
        let found: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .with_context(|| format!("listing {prefix}/"))?;
        Ok(found
            .into_iter()
            .map(|meta| (meta.location.to_string(), meta.last_modified.into()))
            .collect())
    }

    /// Deletes the blob under `key` (nothing if there is none).
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Key::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting {key}")),
        }
    }

    /// Part of the blob.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, BlobError> {
        self.store
            .get_range(&Key::from(key), range)
            .await
            .map_err(not_found(key))
    }
}

fn not_found(key: &str) -> impl FnOnce(object_store::Error) -> BlobError + '_ {
    move |e| match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound(key.to_owned()),
        other => BlobError::Store(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blobs_round_trip_whole_and_in_part() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path().to_str().unwrap()).unwrap();
        blobs
            .put("tracks/a.wav", Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        assert_eq!(blobs.get("tracks/a.wav").await.unwrap(), "0123456789");
        assert_eq!(blobs.size("tracks/a.wav").await.unwrap(), 10);
        assert_eq!(blobs.get_range("tracks/a.wav", 2..5).await.unwrap(), "234");
        assert!(matches!(
            blobs.get("tracks/none.wav").await,
            Err(BlobError::NotFound(_))
        ));
        assert!(dir.path().join("tracks").join("a.wav").is_file());
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn a_remote_store_needs_the_s3_build() {
        let err = Blobs::open("s3://bucket/prefix").err().unwrap();
        assert!(err.to_string().contains("s3"), "{err}");
    }
}
