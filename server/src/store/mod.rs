//! What the server keeps under `--data`.

mod images;

pub use images::{ImageMeta, ImageStore};

/// Writes a file so that readers see either nothing or all of it: a temporary file in the same
/// folder, flushed to disk, then renamed into place.
pub(crate) async fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let tmp = path.with_extension(format!("tmp-{:016x}", rand::random::<u64>()));
    let result = async {
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}
