//! Checking an uploaded image before anything keeps it: the format by content sniffing (JPEG,
//! PNG, WebP only), the pixel count from the header before decoding (against decompression
//! bombs), a full decode within a memory budget ([`decode_budget`]), and the EXIF orientation
//! applied to the size.

use std::io::Cursor;
use std::path::Path;

use anyhow::Context;
use ekphrasis_models::image_prep::to_rgb;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

/// A decodable upload.
#[derive(Debug)]
pub struct Inspected {
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub mime: &'static str,
    /// The decoded image, EXIF orientation applied.
    pub image: DynamicImage,
}

/// Why an upload is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error("only JPEG, PNG and WebP images are accepted; this file is {0}")]
    UnsupportedFormat(String),
    #[error(
        "the image is {width}×{height} pixels; the most this server accepts is {max} pixels in all"
    )]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("the image could not be decoded: {0}")]
    Undecodable(String),
}

/// The largest image file the command line reads by default (`--max-bytes`); uploads have their
/// own, smaller limit.
pub const MAX_FILE_BYTES: u64 = 200_000_000;

/// How many uploads the server decodes at once (a semaphore in the server's state): with
/// [`decode_budget`], the most memory decoding can take is this many budgets.
pub const DECODES_AT_ONCE: usize = 2;

/// The memory one decode may allocate: the largest accepted image at 8 bytes a pixel (RGBA at
/// 16 bits a channel), plus 32 MiB for metadata such as an ICC profile. Anything that would need
/// more (a PNG whose iCCP chunk inflates past it, say) is cut off there by the decoder.
pub fn decode_budget(max_pixels: u64) -> u64 {
    max_pixels.saturating_mul(8).saturating_add(32 << 20)
}

/// Reads an image file with the same checks as an upload (size first, then [`inspect`]); errors
/// name the file.
pub fn read_file(path: &Path, max_bytes: u64, max_pixels: u64) -> anyhow::Result<DynamicImage> {
    let cannot_read = || format!("{}: cannot read the image", path.display());
    let len = std::fs::metadata(path).with_context(cannot_read)?.len();
    if len > max_bytes {
        anyhow::bail!(
            "{}: the file is {len} bytes; the most accepted is {max_bytes} (--max-bytes)",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(cannot_read)?;
    inspect(&bytes, max_pixels)
        .map(|inspected| inspected.image)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Decodes image bytes with the upload checks into 8-bit RGB, or says why not.
pub fn decode_rgb(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, String> {
    inspect(bytes, max_pixels)
        .map(|inspected| to_rgb(&inspected.image))
        .map_err(|e| e.to_string())
}

/// Checks and decodes an upload.
pub fn inspect(bytes: &[u8], max_pixels: u64) -> Result<Inspected, UploadError> {
    let format = image::guess_format(bytes)
        .map_err(|_| UploadError::UnsupportedFormat("not a recognised image".into()))?;
    let mime = match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Png => "image/png",
        ImageFormat::WebP => "image/webp",
        other => {
            return Err(UploadError::UnsupportedFormat(
                other.to_mime_type().to_string(),
            ));
        }
    };
    let undecodable = |e: image::ImageError| UploadError::Undecodable(e.to_string());
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(decode_budget(max_pixels));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(UploadError::Undecodable("the image has no pixels".into()));
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(UploadError::TooManyPixels {
            width,
            height,
            max: max_pixels,
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    Ok(Inspected { mime, image })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        DynamicImage::new_rgb8(width, height)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn accepts_a_png_and_reports_its_size() {
        let inspected = inspect(&png(4, 3), 100).unwrap();
        assert_eq!(inspected.mime, "image/png");
        assert_eq!((inspected.image.width(), inspected.image.height()), (4, 3));
    }

    #[test]
    fn refuses_by_content_not_by_name() {
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert!(matches!(
            inspect(gif, 100),
            Err(UploadError::UnsupportedFormat(f)) if f.contains("gif")
        ));
        assert!(matches!(
            inspect(b"hello, world", 100),
            Err(UploadError::UnsupportedFormat(_))
        ));
    }

    #[test]
    fn refuses_too_many_pixels_before_decoding() {
        assert_eq!(
            inspect(&png(20, 10), 199).unwrap_err(),
            UploadError::TooManyPixels {
                width: 20,
                height: 10,
                max: 199
            }
        );
    }

    #[test]
    fn refuses_a_truncated_image() {
        let bytes = png(64, 64);
        let err = inspect(&bytes[..bytes.len() / 2], 1_000_000).unwrap_err();
        assert!(matches!(err, UploadError::Undecodable(_)), "{err}");
    }
}
