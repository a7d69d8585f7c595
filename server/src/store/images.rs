//! Uploaded images, kept as their original bytes under `data/images/{sha256}` with a JSON
//! sidecar `{sha256}.json`; the sidecar is written last, so its presence means the image is whole.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ekphrasis_shared::ImageId;
use serde::{Deserialize, Serialize};

use super::write_atomically;

/// What is known of a stored image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMeta {
    /// Width after EXIF orientation.
    pub width: u32,
    /// Height after EXIF orientation.
    pub height: u32,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: String,
}

/// The folder of uploaded images.
#[derive(Clone, Debug)]
pub struct ImageStore {
    dir: PathBuf,
}

impl ImageStore {
    /// Opens (creating) `images/` under the data folder.
    pub fn open(data: &Path) -> anyhow::Result<Self> {
        let dir = data.join("images");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self { dir })
    }

    fn bytes_path(&self, id: &ImageId) -> PathBuf {
        self.dir.join(id.as_str())
    }

    fn meta_path(&self, id: &ImageId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Stores an image unless it is already there (the id is its content hash).
    pub async fn put(&self, id: &ImageId, bytes: &[u8], meta: &ImageMeta) -> std::io::Result<()> {
        if self.contains(id) {
            return Ok(());
        }
        write_atomically(&self.bytes_path(id), bytes).await?;
        let json = serde_json::to_vec(meta).expect("image metadata serialises");
        write_atomically(&self.meta_path(id), &json).await
    }

    /// Whether a whole image with this id is stored.
    pub fn contains(&self, id: &ImageId) -> bool {
        self.meta_path(id).is_file()
    }

    /// The stored metadata, if the image is there.
    pub async fn meta(&self, id: &ImageId) -> std::io::Result<Option<ImageMeta>> {
        match tokio::fs::read(self.meta_path(id)).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_once_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let id = ImageId::parse(&"ab".repeat(32)).unwrap();
        assert!(!store.contains(&id));
        assert_eq!(store.meta(&id).await.unwrap(), None);
        let meta = ImageMeta {
            width: 3,
            height: 2,
            mime: "image/png".into(),
        };
        store.put(&id, b"bytes", &meta).await.unwrap();
        store.put(&id, b"bytes", &meta).await.unwrap();
        assert!(store.contains(&id));
        assert_eq!(store.meta(&id).await.unwrap(), Some(meta));
        let names: Vec<_> = std::fs::read_dir(dir.path().join("images"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "no temporary files are left: {names:?}");
    }
}
