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

/// Seconds since 1970-01-01 UTC.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
