//! What the server keeps under `--data`: the SQLite database (`ekphrasis.sqlite3`, with
//! migrations) for images and tracks, and their files in a blob store (`blobs/`, or S3-compatible
//! storage given with `--store`). A row is always written after the files it names.

mod blobs;
mod db;
mod images;
mod tracks;

use std::path::Path;

pub use blobs::{BlobError, Blobs};
pub use db::Db;
pub use images::{ImageMeta, ImageStore};
pub use tracks::{NewTrack, RequestKey, TrackRecord, TrackStore, TrackTexts, revisions_key};

/// The database file under the data folder.
pub const DB_FILE: &str = "ekphrasis.sqlite3";

/// Everything kept, opened together.
#[derive(Clone)]
pub struct Store {
    pub images: ImageStore,
    pub tracks: TrackStore,
    pub blobs: Blobs,
}

/// Opens (creating and migrating) the store in `data`; `blob_store` overrides where files go
/// (a folder, or an object-store URL), by default `data/blobs`.
pub fn open(data: &Path, blob_store: Option<&str>) -> anyhow::Result<Store> {
    std::fs::create_dir_all(data)
        .map_err(|e| anyhow::anyhow!("cannot create the data folder {}: {e}", data.display()))?;
    let db = Db::open(&data.join(DB_FILE))?;
    let blobs = match blob_store {
        Some(spec) => Blobs::open(spec)?,
        None => Blobs::local(&data.join("blobs"))?,
    };
    Ok(Store {
        images: ImageStore::new(db.clone(), blobs.clone()),
        tracks: TrackStore::new(db, blobs.clone()),
        blobs,
    })
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
