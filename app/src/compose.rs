//! Whether the Compose button can be pressed, and if not, why, in words.

use std::fmt;

use crate::form::FieldProblem;
use crate::painting::Painting;
use crate::upload::UploadState;

/// The first thing that keeps a piece from being asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocker {
    NotConnected,
    NoImage,
    Loading,
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
            Blocker::Loading => f.write_str("Waiting for the piece to load."),
            Blocker::Uploading => f.write_str("Waiting for the painting to upload."),
            Blocker::UploadFailed => f.write_str("Choose a painting that can be uploaded."),
            Blocker::Setting(problem) => write!(f, "{problem}"),
            Blocker::Composing => f.write_str("A piece is being composed."),
        }
    }
}

/// What keeps Compose (and Read the painting first) disabled, if anything. `busy` is true
/// while a request is being made or a stored piece is loading.
pub fn blocker(
    connected: bool,
    painting: &Painting,
    setting_problem: Option<FieldProblem>,
    busy: Busy,
) -> Option<Blocker> {
    match busy {
        Busy::Working => return Some(Blocker::Composing),
        Busy::Loading => return Some(Blocker::Loading),
        Busy::Free => {}
    }
    if !connected {
        return Some(Blocker::NotConnected);
    }
    match painting {
        Painting::Nothing => return Some(Blocker::NoImage),
        Painting::Upload { state, .. } => match state {
            UploadState::Idle => return Some(Blocker::NoImage),
            UploadState::Uploading => return Some(Blocker::Uploading),
            UploadState::Failed(_) => return Some(Blocker::UploadFailed),
            UploadState::Uploaded(_) => {}
        },
        Painting::Gallery(_) | Painting::Stored { .. } => {}
    }
    setting_problem.map(Blocker::Setting)
}

/// Whether the page is in the middle of something that a new request must wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    Free,
    /// The server is working on a request of this page.
    Working,
    /// A stored piece is being fetched.
    Loading,
}

#[cfg(test)]
mod tests {
    use ekphrasis_shared::ImageId;
    use ekphrasis_shared::api::UploadedImage;

    use super::*;
    use crate::problem::Problem;

    fn uploaded() -> Painting {
        file(UploadState::Uploaded(UploadedImage {
            id: ImageId::parse(&"f".repeat(64)).expect("a valid id"),
            width: 1,
            height: 1,
        }))
    }

    fn file(state: UploadState) -> Painting {
        Painting::Upload {
            state,
            preview: None,
        }
    }

    const FREE: Busy = Busy::Free;

    #[test]
    fn compose_needs_a_connection_an_uploaded_image_and_valid_settings() {
        assert_eq!(blocker(true, &uploaded(), None, FREE), None);
        assert_eq!(
            blocker(false, &uploaded(), None, FREE),
            Some(Blocker::NotConnected)
        );
        assert_eq!(
            blocker(true, &Painting::Nothing, None, FREE),
            Some(Blocker::NoImage)
        );
        assert_eq!(
            blocker(true, &file(UploadState::Uploading), None, FREE),
            Some(Blocker::Uploading)
        );
        assert_eq!(
            blocker(
                true,
                &file(UploadState::Failed(Problem::network())),
                None,
                FREE
            ),
            Some(Blocker::UploadFailed)
        );
        let problem = FieldProblem {
            field: "top_k",
            message: "Top-k must be a whole number.".to_owned(),
        };
        let blocked = blocker(true, &uploaded(), Some(problem), FREE).expect("blocked");
        assert_eq!(blocked.to_string(), "Top-k must be a whole number.");
        assert_eq!(
            blocker(true, &uploaded(), None, Busy::Working),
            Some(Blocker::Composing)
        );
        assert_eq!(
            blocker(true, &Painting::Nothing, None, Busy::Loading),
            Some(Blocker::Loading)
        );
        let gallery = Painting::Gallery(crate::painting::tests::item());
        assert_eq!(blocker(true, &gallery, None, FREE), None);
    }
}
