//! Whether the Compose button can be pressed, and if not, why, in words.

use std::fmt;

use crate::form::FieldProblem;
use crate::upload::UploadState;

/// The first thing that keeps a piece from being asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocker {
    NotConnected,
    NoImage,
    Uploading,
    UploadFailed,
    Setting(FieldProblem),
    Composing,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::NotConnected => f.write_str("Waiting for the connection to the server."),
            Blocker::NoImage => f.write_str("Choose a painting first."),
            Blocker::Uploading => f.write_str("Waiting for the painting to upload."),
            Blocker::UploadFailed => f.write_str("Choose a painting that can be uploaded."),
            Blocker::Setting(problem) => write!(f, "{problem}"),
            Blocker::Composing => f.write_str("A piece is being composed."),
        }
    }
}

/// What keeps Compose disabled, if anything.
pub fn blocker(
    connected: bool,
    upload: &UploadState,
    setting_problem: Option<FieldProblem>,
    composing: bool,
) -> Option<Blocker> {
    if composing {
        return Some(Blocker::Composing);
    }
    if !connected {
        return Some(Blocker::NotConnected);
    }
    match upload {
        UploadState::Idle => return Some(Blocker::NoImage),
        UploadState::Uploading => return Some(Blocker::Uploading),
        UploadState::Failed(_) => return Some(Blocker::UploadFailed),
        UploadState::Uploaded(_) => {}
    }
    setting_problem.map(Blocker::Setting)
}

#[cfg(test)]
mod tests {
    use ekphrasis_shared::ImageId;
    use ekphrasis_shared::api::UploadedImage;

    use super::*;
    use crate::problem::Problem;

    fn uploaded() -> UploadState {
        UploadState::Uploaded(UploadedImage {
            id: ImageId::parse(&"f".repeat(64)).expect("a valid id"),
            width: 1,
            height: 1,
        })
    }

    #[test]
    fn compose_needs_a_connection_an_uploaded_image_and_valid_settings() {
        assert_eq!(blocker(true, &uploaded(), None, false), None);
        assert_eq!(
            blocker(false, &uploaded(), None, false),
            Some(Blocker::NotConnected)
        );
        assert_eq!(
            blocker(true, &UploadState::Idle, None, false),
            Some(Blocker::NoImage)
        );
        assert_eq!(
            blocker(true, &UploadState::Uploading, None, false),
            Some(Blocker::Uploading)
        );
        assert_eq!(
            blocker(true, &UploadState::Failed(Problem::network()), None, false),
            Some(Blocker::UploadFailed)
        );
        let problem = FieldProblem {
            field: "top_k",
            message: "Top-k must be a whole number.".to_owned(),
        };
        let blocked = blocker(true, &uploaded(), Some(problem), false).expect("blocked");
        assert_eq!(blocked.to_string(), "Top-k must be a whole number.");
        assert_eq!(
            blocker(true, &uploaded(), None, true),
            Some(Blocker::Composing)
        );
    }
}
