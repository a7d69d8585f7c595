//! A job's output as its followers see it: everything its driver sends, kept in order while the
//! job runs and through the grace after (bounded by the piece: its messages and its audio once),
//! and passed on to the one session following it. A session that goes away leaves the job
//! detached; a `resume` attaches another session and replays what was kept — every message
//! again, audio frames from a sequence number on — before anything new, under one lock with
//! the driver's sends, so nothing is missed or sent twice.

use std::sync::{Mutex, MutexGuard};

use ekphrasis_shared::ServerMsg;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use super::Outgoing;

/// One job's output and its follower.
pub struct JobOutput {
    state: Mutex<State>,
}

struct State {
    /// Everything sent so far, in order; `None` for a job whose followers never come back here
    /// (a cluster worker's: they follow it through the broker).
    kept: Option<Vec<Outgoing>>,
    /// The session following the job now.
    follower: Option<UnboundedSender<Outgoing>>,
    /// The job's last message was sent.
    ended: bool,
    /// Counts detachments, so that a grace running out knows whether it is still the latest.
    detachments: u64,
}

/// Why a job could not be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFollowable {
    /// Another connection follows it now.
    Followed,
    /// It keeps no output to replay.
    NotKept,
}

impl JobOutput {
    /// The output of a new job, followed by the session that asked for it (the receiver).
    /// `keep`: whether what is sent is kept for a later `resume`.
    pub fn new(keep: bool) -> (Self, UnboundedReceiver<Outgoing>) {
        let (follower, updates) = mpsc::unbounded_channel();
        let output = Self {
            state: Mutex::new(State {
                kept: keep.then(Vec::new),
                follower: Some(follower),
                ended: false,
                detachments: 0,
            }),
        };
        (output, updates)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change below leaves the state whole, even if a send panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `update` and passes it to the follower, if any.
    pub fn send(&self, update: Outgoing) {
        let mut state = self.lock();
        if update.ends_job() {
            state.ended = true;
        }
        if let Some(follower) = &state.follower {
            // A closed channel means the session left; it detaches or cancels on its own.
            let _ = follower.send(update.clone());
        }
        if let Some(kept) = state.kept.as_mut() {
            kept.push(update);
        }
    }

    /// Whether the job's last message was sent.
    pub fn is_ended(&self) -> bool {
        self.lock().ended
    }

    /// The follower went away: the job goes on unfollowed. Returns which detachment this is,
    /// for [`Self::still_detached`].
    pub fn detach(&self) -> u64 {
        let mut state = self.lock();
        state.follower = None;
        state.detachments += 1;
        state.detachments
    }

    /// Whether the job still runs unfollowed since detachment number `detachment`.
    pub fn still_detached(&self, detachment: u64) -> bool {
        let state = self.lock();
        state.detachments == detachment && !state.ended && !is_followed(&state)
    }

    /// Whether no session follows the job.
    pub fn is_unfollowed(&self) -> bool {
        !is_followed(&self.lock())
    }

    /// A new follower: it gets every message kept (its first, `accepted`, is the session's own
    /// and never kept) and the audio frames from sequence number `from_frame` on, then what
    /// comes next.
    pub fn attach(&self, from_frame: u32) -> Result<UnboundedReceiver<Outgoing>, NotFollowable> {
        let mut state = self.lock();
        if is_followed(&state) {
            return Err(NotFollowable::Followed);
        }
        let kept = state.kept.as_ref().ok_or(NotFollowable::NotKept)?;
        let (follower, updates) = mpsc::unbounded_channel();
        let mut from_frame = from_frame;
        for update in kept {
            match update {
                Outgoing::Audio(frame) if frame.seq < from_frame => continue,
                // The same rule as a cluster's relay: after a restart frames count from 0.
                Outgoing::Message(ServerMsg::Restarted { .. }) => from_frame = 0,
                _ => {}
            }
            let _ = follower.send(update.clone());
        }
        state.follower = Some(follower);
        Ok(updates)
    }
}

fn is_followed(state: &State) -> bool {
    state
        .follower
        .as_ref()
        .is_some_and(|follower| !follower.is_closed())
}

#[cfg(test)]
mod tests {
    use ekphrasis_shared::{AudioFrame, ErrorCode, JobId};

    use super::*;

    fn frame(seq: u32) -> Outgoing {
        Outgoing::Audio(AudioFrame {
            seq,
            first_sample: u64::from(seq) * 2,
            samples: vec![seq as i16, 0],
        })
    }

    fn queued(position: u32) -> Outgoing {
        Outgoing::Message(ServerMsg::Queued {
            job: JobId(1),
            position,
        })
    }

    fn drain(updates: &mut UnboundedReceiver<Outgoing>) -> Vec<Outgoing> {
        std::iter::from_fn(|| updates.try_recv().ok()).collect()
    }

    #[test]
    fn a_new_follower_gets_every_message_and_the_frames_from_its_own_on() {
        let (output, mut first) = JobOutput::new(true);
        output.send(queued(0));
        output.send(frame(0));
        output.send(frame(1));
        assert_eq!(drain(&mut first).len(), 3);
        assert_eq!(output.attach(0).unwrap_err(), NotFollowable::Followed);
        drop(first);
        let detachment = output.detach();
        assert!(output.still_detached(detachment));
        output.send(frame(2));

        let mut second = output.attach(1).unwrap();
        assert!(!output.still_detached(detachment));
        output.send(frame(3));
        let done = Outgoing::Message(ServerMsg::Error {
            code: ErrorCode::Cancelled,
            message: "cancelled".into(),
            job: Some(JobId(1)),
        });
        output.send(done.clone());
        assert_eq!(
            drain(&mut second),
            [queued(0), frame(1), frame(2), frame(3), done]
        );
        assert!(output.is_ended());
    }

    #[test]
    fn a_closed_follower_counts_as_gone_and_an_unkept_output_cannot_be_followed() {
        let (output, first) = JobOutput::new(true);
        drop(first);
        assert!(output.is_unfollowed());
        let second = output.attach(0).unwrap();
        assert!(!output.is_unfollowed());
        drop(second);
        assert!(output.is_unfollowed());

        let (unkept, first) = JobOutput::new(false);
        drop(first);
        assert_eq!(unkept.attach(0).unwrap_err(), NotFollowable::NotKept);
    }

    #[test]
    fn after_a_restart_every_frame_is_replayed() {
        let (output, first) = JobOutput::new(true);
        drop(first);
        output.send(frame(0));
        output.send(frame(1));
        let restarted = Outgoing::Message(ServerMsg::Restarted {
            job: JobId(1),
            attempt: 2,
        });
        output.send(restarted.clone());
        output.send(frame(0));
        let mut follower = output.attach(1).unwrap();
        assert_eq!(drain(&mut follower), [frame(1), restarted, frame(0)]);
    }
}
