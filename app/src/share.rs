//! Sharing a piece in words: its absolute link, the title and text handed to the Web Share
//! API, and what the page says after Copy link.

use ekphrasis_shared::Emotion;

use crate::job::title_case;

/// `path` on the server at `origin` (e.g. `https://ekphrasis.example`); an absolute URL stays
/// as it is.
pub fn absolute_url(origin: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        return path.to_owned();
    }
    let origin = origin.trim_end_matches('/');
    if path.starts_with('/') {
        format!("{origin}{path}")
    } else {
        format!("{origin}/{path}")
    }
}

/// The piece's title: its emotion, and the painting's title when it has one.
pub fn title(emotion: Option<Emotion>, painting: Option<&str>) -> String {
    let mood = emotion.map_or_else(
        || "Music".to_owned(),
        |e| format!("{} music", title_case(e.as_str())),
    );
    match painting {
        Some(name) => format!("{mood} from “{name}”"),
        None => format!("{mood} from a painting"),
    }
}

/// The text that goes with a shared link.
pub const SHARE_TEXT: &str = "Music made from a painting with Ekphrasis.";

/// What happened when the person pressed Copy link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyOutcome {
    Copied,
    /// The clipboard could not be written; the link is selected for the person to copy.
    Selected,
}

impl CopyOutcome {
    /// The outcome in words.
    pub fn words(self) -> &'static str {
        match self {
            CopyOutcome::Copied => "Link copied.",
            CopyOutcome::Selected => {
                "This browser did not let the page copy. The link is selected: press Ctrl+C \
                 (⌘C on a Mac) to copy it."
            }
        }
    }

    /// The machine-readable name, for `data-state`.
    pub fn name(self) -> &'static str {
        match self {
            CopyOutcome::Copied => "copied",
            CopyOutcome::Selected => "selected",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_paths_become_absolute_links() {
        assert_eq!(
            absolute_url("http://127.0.0.1:8080", "/t/abc"),
            "http://127.0.0.1:8080/t/abc"
        );
        assert_eq!(
            absolute_url("https://x.example/", "t/abc"),
            "https://x.example/t/abc"
        );
        assert_eq!(
            absolute_url("https://x.example", "https://y.example/t/abc"),
            "https://y.example/t/abc"
        );
    }

    #[test]
    fn titles_name_the_mood_and_the_painting() {
        assert_eq!(
            title(Some(Emotion::Sad), Some("Moonlit Lake")),
            "Sad music from “Moonlit Lake”"
        );
        assert_eq!(title(Some(Emotion::Fun), None), "Fun music from a painting");
        assert_eq!(title(None, None), "Music from a painting");
    }

    #[test]
    fn copy_outcomes_say_what_to_do() {
        assert_eq!(CopyOutcome::Copied.words(), "Link copied.");
        assert!(CopyOutcome::Selected.words().contains("Ctrl+C"));
        assert_eq!(CopyOutcome::Selected.name(), "selected");
    }
}
