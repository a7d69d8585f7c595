//! What the server keeps: rows for images, tracks and jobs in a database behind one trait
//! (`Database`: SQLite under `--data`, `ekphrasis.sqlite3`, for one server; PostgreSQL shared by
//! a cluster), and their files in a blob store (`blobs/`, or S3-compatible storage given with
//! `--store`). A row is always written after the files it names.

mod blobs;
mod database;
mod images;
mod jobs;
mod postgres;
mod rows;
mod sqlite;
mod tracks;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use blobs::{BlobError, Blobs};
pub use database::Database;
pub use images::{ImageMeta, ImageStore};
pub use jobs::{JobKind, JobRow, JobState, JobStore};
pub use postgres::Postgres;
pub use sqlite::Sqlite;
pub use tracks::{NewTrack, RequestKey, TrackRecord, TrackStore, TrackTexts, revisions_key};

/// The database file under the data folder.
pub const DB_FILE: &str = "ekphrasis.sqlite3";

/// How long a health probe waits for an answer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything kept, opened together.
#[derive(Clone)]
pub struct Store {
    pub images: ImageStore,
    pub tracks: TrackStore,
    pub jobs: JobStore,
    pub blobs: Blobs,
}

/// Opens (creating and migrating) the store in `data`; `blob_store` overrides where files go
/// (a folder, or an object-store URL), by default `data/blobs`.
pub fn open(data: &Path, blob_store: Option<&str>) -> anyhow::Result<Store> {
    std::fs::create_dir_all(data)
        .map_err(|e| anyhow::anyhow!("cannot create the data folder {}: {e}", data.display()))?;
    let db = Sqlite::open(&data.join(DB_FILE))?;
    let blobs = match blob_store {
        Some(spec) => Blobs::open(spec)?,
        None => Blobs::local(&data.join("blobs"))?,
    };
    Ok(Store::new(Arc::new(db), blobs))
}

/// Opens a cluster's shared store: the PostgreSQL database at `database_url` (migrated to this
/// build's schema) and the blob store `blob_store` (`s3://bucket/prefix`, configured by the
/// `AWS_*` environment variables, or a folder).
pub async fn open_shared(database_url: &str, blob_store: &str) -> anyhow::Result<Store> {
    open_shared_with(database_url, blob_store, Blobs::env_options()).await
}

/// Like [`open_shared`], with the blob store's options (`AWS_*` names) given.
pub async fn open_shared_with(
    database_url: &str,
    blob_store: &str,
    blob_options: Vec<(String, String)>,
) -> anyhow::Result<Store> {
    let blobs = Blobs::open_with(blob_store, blob_options)?;
    let db = Postgres::open(database_url).await?;
    Ok(Store::new(Arc::new(db), blobs))
}

impl Store {
    /// The stores over one database and blob store.
    pub fn new(db: Arc<dyn Database>, blobs: Blobs) -> Self {
        Self {
            images: ImageStore::new(Arc::clone(&db), blobs.clone()),
            tracks: TrackStore::new(Arc::clone(&db), blobs.clone()),
            jobs: JobStore::new(db),
            blobs,
        }
    }

    /// Whether the database answers (within a few seconds); why not, naming it, otherwise.
    pub async fn database_health(&self) -> Result<(), String> {
        let db = &self.jobs.db;
        match tokio::time::timeout(HEALTH_TIMEOUT, db.check()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err(format!(
                "{} did not answer within {} s",
                db.name(),
                HEALTH_TIMEOUT.as_secs()
            )),
        }
    }

    /// Whether the blob store answers (within a few seconds); why not, naming it, otherwise.
    pub async fn store_health(&self) -> Result<(), String> {
        match tokio::time::timeout(HEALTH_TIMEOUT, self.blobs.check()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err(format!(
                "the blob store {} did not answer within {} s",
                self.blobs.location(),
                HEALTH_TIMEOUT.as_secs()
            )),
        }
    }
}

/// Whether `error` comes from a full disk (ENOSPC anywhere in its chain of causes), which is
/// answered as 507 `insufficient_storage` rather than an internal failure.
pub fn is_disk_full(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(cause);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && (io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28))
            {
                return true;
            }
            cause = e.source();
        }
        false
    })
}

/// Seconds since 1970-01-01 UTC.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_found_however_deep_it_is() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let wrapped = anyhow::Error::new(full)
            .context("storing images/ab")
            .context("upload");
        assert!(is_disk_full(&wrapped));
        let enospc = anyhow::Error::new(std::io::Error::from_raw_os_error(28));
        assert!(is_disk_full(&enospc));
        let other = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert!(!is_disk_full(&other.context("storing")));
    }
}
