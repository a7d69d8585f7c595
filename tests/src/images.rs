//! Test images made on the spot: every accepted format, an EXIF-rotated JPEG, a decompression
//! bomb header, and files that only pretend to be images.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

/// A colourful picture (a gradient, so encoders cannot collapse it).
pub fn picture(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            128,
        ])
    }))
}

/// An image encoded in a format.
pub fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    picture(width, height)
        .write_to(&mut Cursor::new(&mut out), format)
        .expect("encodes");
    out
}

/// A PNG of deterministic noise, which no encoder can shrink much: about 3 bytes a pixel.
pub fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let image = RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [r, g, b, ..] = state.to_le_bytes();
        Rgb([r, g, b])
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("encodes");
    out
}

/// A PNG.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    encoded(width, height, ImageFormat::Png)
}

/// A JPEG whose EXIF orientation tag says "rotate 90° clockwise to display" (value 6), so the
/// displayed image is `height × width`.
pub fn jpeg_rotated(width: u32, height: u32) -> Vec<u8> {
    let jpeg = encoded(width, height, ImageFormat::Jpeg);
    // A little-endian TIFF header with one IFD entry: tag 0x0112 (orientation), SHORT, 1, 6.
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&6u16.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A small PNG whose header claims `width × height` pixels: a decompression bomb's shape.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(8, 8);
    // IHDR's data starts at byte 16 (8 signature + 4 length + 4 type); its CRC follows 13 bytes.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A PNG whose pixel data is corrupted after the header.
pub fn png_corrupted() -> Vec<u8> {
    let mut bytes = png(32, 32);
    let len = bytes.len();
    for b in &mut bytes[40..len - 12] {
        *b ^= 0x5a;
    }
    bytes
}

/// A one-pixel GIF89a, byte by byte: a real image in a format the server refuses.
pub fn gif() -> Vec<u8> {
    let mut bytes = b"GIF89a".to_vec();
    bytes.extend_from_slice(&[1, 0, 1, 0, 0x80, 0, 0]); // 1×1, a 2-colour global table
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0, 0, 0]); // white, black
    bytes.extend_from_slice(&[0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // image descriptor
    bytes.extend_from_slice(&[2, 2, 0x44, 1, 0]); // LZW data: one pixel
    bytes.push(0x3b); // trailer
    bytes
}

/// CRC-32 (IEEE), as PNG chunks use.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_png_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn a_claimed_size_is_read_back_by_a_decoder() {
        let bytes = png_claiming(100_000, 100_000);
        let reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .unwrap();
        assert_eq!(reader.into_dimensions().unwrap(), (100_000, 100_000));
    }
}
