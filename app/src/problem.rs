//! Problems in plain words: every error the server reports, and the page's own (network
//! failures, refused files, a dropped connection), as a sentence, what the server said, and
//! what to do next.

use ekphrasis_shared::{ErrorCode, PROTOCOL_VERSION};

use crate::form::field_label;

/// What kind of problem it is; its [`ProblemCode::name`] is the `data-code` of the notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemCode {
    /// A code the server sent.
    Server(ErrorCode),
    /// The server could not be reached.
    Network,
    /// The chosen file is larger than the server accepts.
    TooLarge,
    /// The chosen file is not a JPEG, PNG or WebP image.
    WrongType,
    /// The connection dropped while a piece was being composed.
    ConnectionLost,
    /// The server answered something this page cannot read.
    UnreadableAnswer,
}

impl ProblemCode {
    /// The snake_case name: the server's code as it is on the wire, or the page's own.
    pub fn name(self) -> String {
        match self {
            ProblemCode::Server(code) => serde_json::to_value(code)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_else(|| "unknown".to_owned()),
            ProblemCode::Network => "network".to_owned(),
            ProblemCode::TooLarge => "too_large".to_owned(),
            ProblemCode::WrongType => "wrong_type".to_owned(),
            ProblemCode::ConnectionLost => "connection_lost".to_owned(),
            ProblemCode::UnreadableAnswer => "unreadable_answer".to_owned(),
        }
    }
}

/// A problem as the person reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub code: ProblemCode,
    /// What went wrong, in one sentence.
    pub summary: String,
    /// More about it, such as what the server said.
    pub detail: Option<String>,
    /// What the person can do about it.
    pub advice: Option<String>,
}

const RELOAD: &str = "Reload the page to get the version that matches the server.";

impl Problem {
    fn new(code: ProblemCode, summary: impl Into<String>) -> Self {
        Self {
            code,
            summary: summary.into(),
            detail: None,
            advice: None,
        }
    }

    fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    fn with_advice(mut self, advice: impl Into<String>) -> Self {
        self.advice = Some(advice.into());
        self
    }

    /// An error the server reported, with its message.
    pub fn from_server(code: ErrorCode, message: &str) -> Self {
        let (summary, advice) = server_words(code, message);
        let problem = Problem::new(ProblemCode::Server(code), summary);
        let problem = match message.trim() {
            "" => problem,
            said => problem.with_detail(format!("The server said: “{said}”")),
        };
        match advice {
            Some(advice) => problem.with_advice(advice),
            None => problem,
        }
    }

    /// The server's hello names a protocol this page does not speak.
    pub fn server_speaks(protocol: u32) -> Self {
        Problem::new(
            ProblemCode::Server(ErrorCode::ProtocolMismatch),
            "This page and the server speak different versions of their protocol.",
        )
        .with_detail(format!(
            "The server speaks protocol {protocol}; this page speaks protocol {PROTOCOL_VERSION}."
        ))
        .with_advice(RELOAD)
    }

    /// The server could not be reached.
    pub fn network() -> Self {
        Problem::new(
            ProblemCode::Network,
            "Couldn't reach the server. Check your connection and try again.",
        )
    }

    /// The server answered with something that is not what this page expects.
    pub fn unreadable_answer(status: u16) -> Self {
        Problem::new(
            ProblemCode::UnreadableAnswer,
            "The server's answer could not be understood.",
        )
        .with_detail(format!("It answered with HTTP status {status}."))
        .with_advice("Try again; if it keeps happening, reload the page.")
    }

    /// The connection dropped while music was being made.
    pub fn connection_lost() -> Self {
        Problem::new(
            ProblemCode::ConnectionLost,
            "The connection to the server dropped while the music was being made.",
        )
        .with_advice("Compose again once the page has reconnected.")
    }

    /// The connection dropped while music was being made, and the server would not let the
    /// page pick the piece up again (it gave up waiting, or another page follows it).
    pub fn not_resumed(code: ErrorCode, message: &str) -> Self {
        let problem = Problem::new(
            ProblemCode::Server(code),
            "The connection dropped while the music was being made, and the piece could not be \
             picked up again.",
        );
        let problem = match message.trim() {
            "" => problem,
            said => problem.with_detail(format!("The server said: “{said}”")),
        };
        problem.with_advice("Compose again.")
    }

    /// A track the server does not have.
    pub fn missing_track() -> Self {
        Problem::new(
            ProblemCode::Server(ErrorCode::NotFound),
            "This track is not on this server.",
        )
        .with_advice("Choose a painting to make a new piece.")
    }

    /// A stored track whose audio this page cannot play.
    pub fn unplayable_audio() -> Self {
        Problem::new(
            ProblemCode::UnreadableAnswer,
            "The piece's audio could not be played in this page.",
        )
        .with_advice("Compose a new piece, or download the piece from its own page.")
    }

    /// A file larger than the upload limit.
    pub fn too_large(size_text: &str, limit_text: &str) -> Self {
        Problem::new(ProblemCode::TooLarge, "That image is too large to upload.")
            .with_detail(format!("It is {size_text}; the limit is {limit_text}."))
            .with_advice("Choose a smaller image, or save it at a lower size or quality.")
    }

    /// A file that is not a JPEG, PNG or WebP image.
    pub fn wrong_type(file_type: &str) -> Self {
        let problem = Problem::new(
            ProblemCode::WrongType,
            "That file isn't a JPEG, PNG or WebP image.",
        );
        let problem = match file_type {
            "" => problem,
            known => problem.with_detail(format!("Its type is {known}.")),
        };
        problem.with_advice("Choose a JPEG, PNG or WebP picture of a painting.")
    }
}

/// The sentence and the advice for a server error code.
fn server_words(code: ErrorCode, message: &str) -> (String, Option<String>) {
    let words = |summary: &str, advice: &str| (summary.to_owned(), Some(advice.to_owned()));
    match code {
        ErrorCode::ProtocolMismatch => words(
            "This page and the server speak different versions of their protocol.",
            RELOAD,
        ),
        ErrorCode::HandshakeRequired => words(
            "The server and this page did not greet each other properly.",
            "Reload the page.",
        ),
        ErrorCode::MalformedMessage => words(
            "The server could not read a message from this page.",
            "Reload the page; if it keeps happening, tell the person running this server.",
        ),
        ErrorCode::InvalidRequest => {
            let field = message.split(':').next().unwrap_or_default().trim();
            let summary = match field_label(field) {
                Some(label) => format!("The server refused the {label} setting."),
                None => "The server refused one of the settings.".to_owned(),
            };
            (summary, Some("Change it and compose again.".to_owned()))
        }
        ErrorCode::ImageNotFound => words(
            "The server no longer has that image.",
            "Upload the image again.",
        ),
        ErrorCode::ModelsUnavailable => words(
            "The music models aren't available on this server right now.",
            "Try again later, or ask the person running this server to install the models.",
        ),
        ErrorCode::Busy => words(
            "A piece is already being composed on this connection.",
            "Wait for it to finish, or cancel it.",
        ),
        ErrorCode::QueueFull => (
            "The server is busy composing for other people.".to_owned(),
            Some(when_to_come_back(message).unwrap_or_else(|| "Try again in a minute.".into())),
        ),
        ErrorCode::Cancelled => ("The music was cancelled.".to_owned(), None),
        ErrorCode::TimedOut => words(
            "Composing took longer than the server allows.",
            "Try a shorter length.",
        ),
        ErrorCode::PayloadTooLarge => words(
            "That image is too large to upload.",
            "Choose a smaller image, or save it at a lower size or quality.",
        ),
        ErrorCode::UnsupportedMediaType => words(
            "That file isn't a JPEG, PNG or WebP image.",
            "Choose a JPEG, PNG or WebP picture of a painting.",
        ),
        ErrorCode::UnprocessableImage => words(
            "That image could not be read.",
            "It may be damaged or have too many pixels. Try another image.",
        ),
        ErrorCode::BadRequest => words(
            "The server did not accept the request.",
            "Try again; if it keeps happening, reload the page.",
        ),
        ErrorCode::NotFound => words(
            "The server could not find what this page asked for.",
            "Reload the page.",
        ),
        ErrorCode::InsufficientStorage => words(
            "The server has no room left to keep new pictures or music.",
            "Try again later, or tell the person running this server.",
        ),
        ErrorCode::Internal => words(
            "Something went wrong on the server.",
            "Try again; if it keeps happening, tell the person running this server.",
        ),
        ErrorCode::Unknown => words(
            "The server reported a problem this page does not know about.",
            "Reload the page to get the newest version.",
        ),
    }
}

/// The server's estimate of when to try again ("… try again in about 3 minutes"), as advice.
fn when_to_come_back(message: &str) -> Option<String> {
    let at = message.find("try again in about ")?;
    let clause = message[at..].trim_end_matches(['.', ' ']);
    let mut advice = String::with_capacity(clause.len() + 1);
    advice.push('T');
    advice.push_str(&clause[1..]);
    advice.push('.');
    Some(advice)
}

/// The error code a bare HTTP status stands for, when the body says nothing readable.
pub fn code_for_status(status: u16) -> Option<ErrorCode> {
    match status {
        400 => Some(ErrorCode::BadRequest),
        404 => Some(ErrorCode::NotFound),
        413 => Some(ErrorCode::PayloadTooLarge),
        415 => Some(ErrorCode::UnsupportedMediaType),
        422 => Some(ErrorCode::UnprocessableImage),
        500 => Some(ErrorCode::Internal),
        507 => Some(ErrorCode::InsufficientStorage),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_says_when_to_come_back_when_the_server_knows() {
        let (_, advice) = server_words(
            ErrorCode::QueueFull,
            "the server is busy: 4 waiting; try again in about 3 minutes",
        );
        assert_eq!(advice.as_deref(), Some("Try again in about 3 minutes."));
        let (_, advice) = server_words(ErrorCode::QueueFull, "the server is busy");
        assert_eq!(advice.as_deref(), Some("Try again in a minute."));
        assert_eq!(code_for_status(507), Some(ErrorCode::InsufficientStorage));
    }

    #[test]
    fn codes_are_named_as_on_the_wire() {
        let name = |code| ProblemCode::Server(code).name();
        assert_eq!(name(ErrorCode::ModelsUnavailable), "models_unavailable");
        assert_eq!(
            name(ErrorCode::UnsupportedMediaType),
            "unsupported_media_type"
        );
        assert_eq!(name(ErrorCode::Unknown), "unknown");
        assert_eq!(ProblemCode::Network.name(), "network");
        assert_eq!(ProblemCode::TooLarge.name(), "too_large");
        assert_eq!(ProblemCode::WrongType.name(), "wrong_type");
    }

    #[test]
    fn models_unavailable_says_what_to_do_and_what_the_server_said() {
        let problem = Problem::from_server(
            ErrorCode::ModelsUnavailable,
            "music cannot be made here: no weights",
        );
        assert_eq!(
            problem.summary,
            "The music models aren't available on this server right now."
        );
        assert!(problem.detail.unwrap().contains("no weights"));
        assert!(problem.advice.unwrap().contains("install the models"));
    }

    #[test]
    fn upload_refusals_are_in_plain_words() {
        let summary = |code| Problem::from_server(code, "").summary;
        assert_eq!(
            summary(ErrorCode::UnsupportedMediaType),
            "That file isn't a JPEG, PNG or WebP image."
        );
        assert_eq!(
            summary(ErrorCode::PayloadTooLarge),
            "That image is too large to upload."
        );
        assert_eq!(
            summary(ErrorCode::UnprocessableImage),
            "That image could not be read."
        );
        assert_eq!(Problem::from_server(ErrorCode::Internal, " ").detail, None);
    }

    #[test]
    fn invalid_requests_name_the_field() {
        let problem = Problem::from_server(
            ErrorCode::InvalidRequest,
            "top_k: must be between 1 and 2048, got 0",
        );
        assert_eq!(problem.summary, "The server refused the Top-k setting.");
        let unnamed = Problem::from_server(ErrorCode::InvalidRequest, "something else");
        assert_eq!(unnamed.summary, "The server refused one of the settings.");
    }

    #[test]
    fn missing_images_ask_for_another_upload() {
        let problem = Problem::from_server(ErrorCode::ImageNotFound, "upload it again");
        assert_eq!(problem.advice.as_deref(), Some("Upload the image again."));
    }

    #[test]
    fn a_server_of_another_protocol_asks_for_a_reload() {
        let problem = Problem::server_speaks(PROTOCOL_VERSION + 1);
        assert_eq!(
            problem.code,
            ProblemCode::Server(ErrorCode::ProtocolMismatch)
        );
        assert!(problem.advice.unwrap().starts_with("Reload the page"));
    }

    #[test]
    fn bare_statuses_map_to_codes() {
        assert_eq!(code_for_status(413), Some(ErrorCode::PayloadTooLarge));
        assert_eq!(code_for_status(415), Some(ErrorCode::UnsupportedMediaType));
        assert_eq!(code_for_status(422), Some(ErrorCode::UnprocessableImage));
        assert_eq!(code_for_status(502), None);
    }
}
