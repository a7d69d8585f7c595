//! Picking a piece up again after the connection drops: the server keeps making it for a while
//! (its grace, about 30 s), so the page keeps what it has, and once a new connection is up asks
//! for the rest with `resume` from the frames it already holds. The server then sends the
//! piece's messages again from the start (the page already knows them) and its audio from that
//! frame on, so its `audio_format` is a repeat, not a new start. While the old connection still
//! holds the piece at the server (it has not noticed the drop yet), the resume is refused as
//! `busy` and tried again a little later.

use ekphrasis_shared::{ClientMsg, ErrorCode, JobId};

/// How often a resume refused because the old connection still held the piece is tried again:
/// the server notices a dead connection within three pings (a minute by default).
pub const MAX_HELD_RETRIES: u32 = 30;
/// The wait before trying such a resume again, in milliseconds.
pub const HELD_RETRY_MS: u32 = 3_000;

/// How the page follows its piece across connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Link {
    /// On the current connection (or there is nothing to follow).
    #[default]
    Live,
    /// The connection dropped while the piece was being made; it is asked for again once a
    /// new connection is up.
    Lost,
    /// `resume` was sent on the new connection; nothing has come back yet.
    Asked,
}

impl Link {
    /// The machine-readable name, for `data-link`.
    pub fn name(self) -> &'static str {
        match self {
            Link::Live => "live",
            Link::Lost => "lost",
            Link::Asked => "resuming",
        }
    }
}

/// What a resume's refusal means for the piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The old connection still holds it: ask again after [`HELD_RETRY_MS`].
    TryAgain,
    /// It cannot be followed any more.
    Lost,
}

/// The page's side of following one piece across connections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Follow {
    link: Link,
    /// Resumes refused because another connection still held the piece.
    held_retries: u32,
    /// An `audio_format` of the piece reached the player (since its start or last restart).
    format_known: bool,
    /// The `audio_format` a resume repeats is still to come.
    format_repeats: bool,
}

impl Follow {
    /// How the piece is followed now.
    pub fn link(&self) -> Link {
        self.link
    }

    /// The connection dropped: the piece is to be asked for again.
    pub fn lost(&mut self) {
        self.link = Link::Lost;
    }

    /// On a new connection: the messages that pick up `job` again, when it was lost. The
    /// audio is asked for from `from_frame` (the frames the page holds); `cancel` adds a
    /// cancel for a piece the person stopped while the connection was down.
    pub fn resume(&mut self, job: JobId, from_frame: u32, cancel: bool) -> Vec<ClientMsg> {
        if self.link != Link::Lost {
            return Vec::new();
        }
        self.link = Link::Asked;
        self.format_repeats = self.format_known;
        let mut messages = vec![ClientMsg::Resume { job, from_frame }];
        if cancel {
            messages.push(ClientMsg::Cancel);
        }
        messages
    }

    /// Something about the piece came back: it is followed again.
    pub fn heard(&mut self) {
        if self.link == Link::Asked {
            self.link = Link::Live;
            self.held_retries = 0;
        }
    }

    /// What an error about the piece means while a resume is asked: `None` when it is not a
    /// refusal of the resume (the piece itself ended with that error).
    pub fn refused(&mut self, code: ErrorCode) -> Option<Refused> {
        if self.link != Link::Asked {
            return None;
        }
        match code {
            ErrorCode::Busy if self.held_retries < MAX_HELD_RETRIES => {
                self.held_retries += 1;
                self.link = Link::Lost;
                Some(Refused::TryAgain)
            }
            ErrorCode::Busy | ErrorCode::NotFound => {
                self.link = Link::Live;
                Some(Refused::Lost)
            }
            _ => None,
        }
    }

    /// An `audio_format` arrived: whether it starts the piece's audio (false for the repeat a
    /// resume sends, which must not throw away what was received).
    pub fn takes_format(&mut self) -> bool {
        if std::mem::take(&mut self.format_repeats) {
            return false;
        }
        self.format_known = true;
        true
    }

    /// The piece runs again from its start elsewhere (a cluster's `restarted`): its next
    /// `audio_format` is a new start.
    pub fn restarted(&mut self) {
        self.format_known = false;
        self.format_repeats = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_piece_is_asked_for_once_from_its_frame() {
        let mut follow = Follow::default();
        assert!(follow.resume(JobId(4), 0, false).is_empty(), "nothing lost");
        follow.lost();
        assert_eq!(follow.link().name(), "lost");
        assert_eq!(
            follow.resume(JobId(4), 12, false),
            [ClientMsg::Resume {
                job: JobId(4),
                from_frame: 12
            }]
        );
        assert_eq!(follow.link(), Link::Asked);
        assert!(follow.resume(JobId(4), 12, false).is_empty(), "asked once");
        follow.heard();
        assert_eq!(follow.link(), Link::Live);
    }

    #[test]
    fn a_piece_stopped_while_disconnected_is_cancelled_after_the_resume() {
        let mut follow = Follow::default();
        follow.lost();
        assert_eq!(
            follow.resume(JobId(4), 3, true),
            [
                ClientMsg::Resume {
                    job: JobId(4),
                    from_frame: 3
                },
                ClientMsg::Cancel
            ]
        );
    }

    #[test]
    fn the_format_a_resume_repeats_is_not_a_new_start() {
        let mut follow = Follow::default();
        assert!(follow.takes_format());
        follow.lost();
        follow.resume(JobId(1), 5, false);
        follow.heard();
        assert!(!follow.takes_format(), "the repeat");
        assert!(follow.takes_format(), "a later one starts again");

        // Lost before any audio: the format that comes is the first.
        let mut early = Follow::default();
        early.lost();
        early.resume(JobId(1), 0, false);
        assert!(early.takes_format());

        // After a restart elsewhere the format starts the audio again.
        let mut restarted = Follow::default();
        restarted.takes_format();
        restarted.lost();
        restarted.resume(JobId(1), 5, false);
        restarted.restarted();
        assert!(restarted.takes_format());
    }

    #[test]
    fn a_piece_still_held_elsewhere_is_asked_again_then_given_up() {
        let mut follow = Follow::default();
        assert_eq!(follow.refused(ErrorCode::Busy), None, "not asked");
        for _ in 0..MAX_HELD_RETRIES {
            follow.lost();
            follow.resume(JobId(1), 0, false);
            assert_eq!(follow.refused(ErrorCode::Busy), Some(Refused::TryAgain));
            assert_eq!(follow.link(), Link::Lost);
        }
        follow.resume(JobId(1), 0, false);
        assert_eq!(follow.refused(ErrorCode::Busy), Some(Refused::Lost));
        assert_eq!(follow.link(), Link::Live);

        let mut gone = Follow::default();
        gone.lost();
        gone.resume(JobId(1), 0, false);
        assert_eq!(
            gone.refused(ErrorCode::TimedOut),
            None,
            "the piece's own end"
        );
        assert_eq!(gone.refused(ErrorCode::NotFound), Some(Refused::Lost));
    }
}
