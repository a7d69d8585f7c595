//! What most tests ask for: a noisy test painting uploaded, and a generate request for it with a
//! given length and seed.

use ekphrasis_shared::api::UploadedImage;
use ekphrasis_shared::{GenerateRequest, ImageRef};

use crate::images;

/// Uploads a 48×32 noisy PNG to `images_url` (a server's or web node's `/api/images`).
pub async fn upload_noisy(images_url: String) -> UploadedImage {
    reqwest::Client::new()
        .post(images_url)
        .body(images::noisy_png(48, 32))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A request for `seconds` of music from `image` with `seed`, the rest left to the server.
pub fn request(image: &UploadedImage, seconds: f32, seed: u64) -> GenerateRequest {
    let mut request = GenerateRequest::new(ImageRef::Upload(image.id.clone()));
    request.seconds = Some(seconds);
    request.seed = Some(seed);
    request
}
