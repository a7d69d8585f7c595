//! The gallery: a folder of paintings with a `gallery.toml` naming each (title, artist, year,
//! credit, licence, alt text). At start every painting is checked like an upload and stored
//! with the images, so a gallery pick runs the same chain as an upload.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::Bytes;
use ekphrasis_shared::ImageId;
use ekphrasis_shared::ids::GalleryId;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::store::{ImageMeta, ImageStore};
use crate::upload;

/// The file in a gallery folder that lists its paintings.
pub const MANIFEST: &str = "gallery.toml";

/// One painting of the gallery, stored and ready to pick.
#[derive(Debug, Clone, PartialEq)]
pub struct GalleryEntry {
    pub id: GalleryId,
    pub title: String,
    pub artist: String,
    pub year: Option<String>,
    pub credit: String,
    pub licence: String,
    /// What the painting shows, for people who cannot see it.
    pub alt: String,
    /// The stored image.
    pub image: ImageId,
    pub width: u32,
    pub height: u32,
}

/// The gallery's paintings, in the manifest's order.
#[derive(Debug, Clone, Default)]
pub struct Gallery {
    entries: Vec<GalleryEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    item: Vec<ManifestItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestItem {
    id: String,
    file: PathBuf,
    title: String,
    artist: String,
    year: Option<String>,
    credit: String,
    licence: String,
    #[serde(default)]
    alt: String,
}

impl Gallery {
    /// Reads `dir/gallery.toml` and stores each painting. A broken manifest is an error naming
    /// it; a painting that cannot be read is left out with a warning naming its file.
    pub async fn load(dir: &Path, images: &ImageStore, max_pixels: u64) -> anyhow::Result<Self> {
        let path = dir.join(MANIFEST);
        let text = tokio::fs::read_to_string(&path)
            .await
            .with_context(|| format!("cannot read the gallery manifest {}", path.display()))?;
        let manifest: Manifest = toml::from_str(&text)
            .with_context(|| format!("{}: not a valid gallery", path.display()))?;
        let mut entries: Vec<GalleryEntry> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for item in manifest.item {
            let id = GalleryId::parse(&item.id).map_err(|_| {
                anyhow::anyhow!(
                    "{}: item id `{}` must be lowercase letters, digits and dashes (at most {} \
                     characters)",
                    path.display(),
                    item.id,
                    GalleryId::MAX_LEN
                )
            })?;
            if !seen.insert(id.clone()) {
                anyhow::bail!("{}: the id `{id}` is used twice", path.display());
            }
            let file = dir.join(&item.file);
            match store_painting(&file, images, max_pixels).await {
                Ok((image, meta)) => entries.push(GalleryEntry {
                    id,
                    title: item.title,
                    artist: item.artist,
                    year: item.year,
                    credit: item.credit,
                    licence: item.licence,
                    alt: item.alt,
                    image,
                    width: meta.width,
                    height: meta.height,
                }),
                Err(e) => tracing::warn!(
                    item = %id,
                    error = format!("{e:#}"),
                    "a gallery painting is left out"
                ),
            }
        }
        tracing::info!(dir = %dir.display(), paintings = entries.len(), "gallery loaded");
        Ok(Self { entries })
    }

    /// Every painting, in the manifest's order.
    pub fn entries(&self) -> &[GalleryEntry] {
        &self.entries
    }

    /// The painting with this id.
    pub fn get(&self, id: &GalleryId) -> Option<&GalleryEntry> {
        self.entries.iter().find(|e| &e.id == id)
    }
}

/// Checks a painting file as an upload is checked and stores it.
async fn store_painting(
    file: &Path,
    images: &ImageStore,
    max_pixels: u64,
) -> anyhow::Result<(ImageId, ImageMeta)> {
    let bytes = tokio::fs::read(file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let bytes = Bytes::from(bytes);
    let inspected = {
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || upload::inspect(&bytes, max_pixels)).await?
    }
    .with_context(|| format!("{}", file.display()))?;
    let id = ImageId::parse(&hex::encode(Sha256::digest(&bytes))).expect("sha256 hex is an id");
    let meta = ImageMeta {
        width: inspected.image.width(),
        height: inspected.image.height(),
        mime: inspected.mime.into(),
    };
    images.put(&id, bytes, &meta).await?;
    Ok((id, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 100, 50]));
        let mut bytes = Vec::new();
        image
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes
    }

    const ITEM: &str = r#"
[[item]]
id = "red-square"
file = "red.png"
title = "Red Square"
artist = "Test"
year = "2026"
credit = "made by the test"
licence = "CC0-1.0"
alt = "A red square."
"#;

    #[tokio::test]
    async fn paintings_are_stored_and_broken_ones_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let store = crate::store::open(data.path(), None).unwrap();
        std::fs::write(dir.path().join("red.png"), png(4, 3)).unwrap();
        std::fs::write(dir.path().join("broken.png"), b"not a png").unwrap();
        let manifest = format!(
            "{ITEM}\n[[item]]\nid = \"broken\"\nfile = \"broken.png\"\ntitle = \"B\"\n\
             artist = \"T\"\ncredit = \"c\"\nlicence = \"CC0-1.0\"\n"
        );
        std::fs::write(dir.path().join(MANIFEST), manifest).unwrap();
        let gallery = Gallery::load(dir.path(), &store.images, 1_000_000)
            .await
            .unwrap();
        assert_eq!(gallery.entries().len(), 1);
        let entry = gallery
            .get(&GalleryId::parse("red-square").unwrap())
            .unwrap();
        assert_eq!((entry.width, entry.height), (4, 3));
        assert_eq!(entry.alt, "A red square.");
        assert!(store.images.meta(&entry.image).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_bad_manifest_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let store = crate::store::open(data.path(), None).unwrap();
        std::fs::write(dir.path().join(MANIFEST), "[[item]]\nid = \"Not A Slug\"\n").unwrap();
        let err = Gallery::load(dir.path(), &store.images, 100)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains(MANIFEST), "{err:#}");
        std::fs::write(
            dir.path().join(MANIFEST),
            format!("{ITEM}{ITEM}").replace("red.png", "none.png"),
        )
        .unwrap();
        let err = Gallery::load(dir.path(), &store.images, 100)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("twice"), "{err:#}");
    }
}
