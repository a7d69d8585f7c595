//! The chosen image before and during its upload: which files are refused before sending, and
//! the states the upload goes through.

use ekphrasis_shared::ImageRef;
use ekphrasis_shared::api::UploadedImage;

use crate::problem::Problem;

/// The largest file sent, in bytes: the server's default limit of 20 MB.
pub const MAX_UPLOAD_BYTES: f64 = 20_000_000.0;

/// The media types the server accepts, as the file inputs' `accept` attribute.
pub const ACCEPTED_TYPES: &str = "image/jpeg,image/png,image/webp";

/// Refuses a file the server would refuse anyway, before sending it.
pub fn check_file(file_type: &str, size_bytes: f64) -> Result<(), Problem> {
    if !ACCEPTED_TYPES
        .split(',')
        .any(|accepted| accepted == file_type)
    {
        return Err(Problem::wrong_type(file_type));
    }
    if size_bytes > MAX_UPLOAD_BYTES {
        return Err(Problem::too_large(
            &megabytes_rounded_up(size_bytes),
            &megabytes_rounded_up(MAX_UPLOAD_BYTES),
        ));
    }
    Ok(())
}

/// A size in megabytes (10^6 bytes) to a tenth, rounded up so that a file just over the limit
/// does not read as equal to it.
fn megabytes_rounded_up(bytes: f64) -> String {
    let mb = (bytes / 100_000.0).ceil() / 10.0;
    if mb.fract() == 0.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

/// Where the chosen image is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum UploadState {
    /// Nothing chosen yet.
    #[default]
    Idle,
    Uploading,
    Uploaded(UploadedImage),
    Failed(Problem),
}

impl UploadState {
    /// The machine-readable name, for `data-state`.
    pub fn name(&self) -> &'static str {
        match self {
            UploadState::Idle => "idle",
            UploadState::Uploading => "uploading",
            UploadState::Uploaded(_) => "uploaded",
            UploadState::Failed(_) => "failed",
        }
    }

    /// The state in words.
    pub fn words(&self) -> String {
        match self {
            UploadState::Idle => "No painting chosen yet.".to_owned(),
            UploadState::Uploading => "Uploading…".to_owned(),
            UploadState::Uploaded(image) => {
                format!("Uploaded, {}×{} pixels.", image.width, image.height)
            }
            UploadState::Failed(_) => "Not uploaded.".to_owned(),
        }
    }

    /// The image to compose from, once it is on the server.
    pub fn image(&self) -> Option<ImageRef> {
        match self {
            UploadState::Uploaded(image) => Some(ImageRef::Upload(image.id.clone())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use ekphrasis_shared::ImageId;

    use super::*;
    use crate::problem::ProblemCode;

    #[test]
    fn only_small_enough_jpeg_png_and_webp_pass() {
        for accepted in ["image/jpeg", "image/png", "image/webp"] {
            assert_eq!(check_file(accepted, 1_000.0), Ok(()));
        }
        assert_eq!(check_file("image/png", MAX_UPLOAD_BYTES), Ok(()));
        let code = |result: Result<(), Problem>| result.expect_err("refused").code;
        assert_eq!(code(check_file("image/gif", 10.0)), ProblemCode::WrongType);
        assert_eq!(code(check_file("", 10.0)), ProblemCode::WrongType);
        assert_eq!(
            code(check_file("image/png", MAX_UPLOAD_BYTES + 1.0)),
            ProblemCode::TooLarge
        );
    }

    #[test]
    fn too_large_files_say_their_size() {
        let problem = check_file("image/jpeg", 23_456_789.0).expect_err("too large");
        assert_eq!(
            problem.detail.as_deref(),
            Some("It is 23.5 MB; the limit is 20 MB.")
        );
        let just_over = check_file("image/jpeg", MAX_UPLOAD_BYTES + 1.0).expect_err("too large");
        assert_eq!(
            just_over.detail.as_deref(),
            Some("It is 20.1 MB; the limit is 20 MB.")
        );
    }

    #[test]
    fn uploaded_images_show_their_size_and_can_be_composed_from() {
        let id = ImageId::parse(&"0".repeat(64)).expect("a valid id");
        let state = UploadState::Uploaded(UploadedImage {
            id: id.clone(),
            width: 640,
            height: 480,
        });
        assert_eq!(state.name(), "uploaded");
        assert!(state.words().contains("640×480"));
        assert_eq!(state.image(), Some(ImageRef::Upload(id)));
        assert_eq!(UploadState::Uploading.image(), None);
    }
}
