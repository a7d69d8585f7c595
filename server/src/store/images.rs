//! Paintings the server has been given (uploads and gallery items): the original bytes in the
//! blob store under `images/{sha256}`, and a row in `images` written after them, so a row always
//! names a whole file.

use std::sync::Arc;

use bytes::Bytes;
use ekphrasis_shared::ImageId;

use super::{Blobs, Database, unix_now};

/// What is known of a stored image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageMeta {
    /// Width after EXIF orientation.
    pub width: u32,
    /// Height after EXIF orientation.
    pub height: u32,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: String,
}

/// The stored images.
#[derive(Clone)]
pub struct ImageStore {
    db: Arc<dyn Database>,
    blobs: Blobs,
}

impl ImageStore {
    /// Images over the database and blob store.
    pub fn new(db: Arc<dyn Database>, blobs: Blobs) -> Self {
        Self { db, blobs }
    }

    fn key(id: &ImageId) -> String {
        format!("images/{id}")
    }

    /// Stores an image unless it is already there (the id is its content hash).
    pub async fn put(&self, id: &ImageId, bytes: Bytes, meta: &ImageMeta) -> anyhow::Result<()> {
        if self.meta(id).await?.is_some() {
            return Ok(());
        }
        let key = Self::key(id);
        self.blobs.put(&key, bytes).await?;
        self.db.insert_image(id, meta, &key, unix_now()).await?;
        Ok(())
    }

    /// The stored metadata, if the image is there.
    pub async fn meta(&self, id: &ImageId) -> anyhow::Result<Option<ImageMeta>> {
        self.db.image_meta(id).await
    }

    /// The image's bytes and metadata, if it is there.
    pub async fn get(&self, id: &ImageId) -> anyhow::Result<Option<(Bytes, ImageMeta)>> {
        let Some(meta) = self.meta(id).await? else {
            return Ok(None);
        };
        let bytes = self.blobs.get(&Self::key(id)).await?;
        Ok(Some((bytes, meta)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_once_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::super::open(dir.path(), None).unwrap().images;
        let id = ImageId::parse(&"ab".repeat(32)).unwrap();
        assert_eq!(store.meta(&id).await.unwrap(), None);
        let meta = ImageMeta {
            width: 3,
            height: 2,
            mime: "image/png".into(),
        };
        store
            .put(&id, Bytes::from_static(b"bytes"), &meta)
            .await
            .unwrap();
        store
            .put(&id, Bytes::from_static(b"bytes"), &meta)
            .await
            .unwrap();
        assert_eq!(store.meta(&id).await.unwrap(), Some(meta.clone()));
        let (bytes, read) = store.get(&id).await.unwrap().unwrap();
        assert_eq!((&bytes[..], read), (&b"bytes"[..], meta));
        let names: Vec<_> = std::fs::read_dir(dir.path().join("blobs").join("images"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [id.to_string()], "no temporary files are left");
    }
}
