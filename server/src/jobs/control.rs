//! How a job is stopped: one flag the pipeline checks before every decoder step (and between
//! stages), and why it was raised, so the job ends with `cancelled` or `timed_out`.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Why a job was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The client sent Cancel or went away.
    Cancelled,
    /// The job ran past the server's time limit.
    TimedOut,
}

/// A job's stop flag, shared by its session, its driver and the worker running it.
#[derive(Debug, Default)]
pub struct JobControl {
    stop: AtomicBool,
    reason: AtomicU8,
}

impl JobControl {
    /// Raises the flag; the first reason given is kept.
    pub fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Cancelled => 1,
            StopReason::TimedOut => 2,
        };
        let _ = self
            .reason
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is raised.
    pub fn is_cancelled(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Why the flag was raised, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        match self.reason.load(Ordering::SeqCst) {
            1 => Some(StopReason::Cancelled),
            2 => Some(StopReason::TimedOut),
            _ => None,
        }
    }

    /// The flag as the pipeline takes it.
    pub fn flag(&self) -> &AtomicBool {
        &self.stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_stands() {
        let control = JobControl::default();
        assert!(!control.is_cancelled());
        assert_eq!(control.reason(), None);
        control.stop(StopReason::TimedOut);
        control.stop(StopReason::Cancelled);
        assert!(control.is_cancelled());
        assert!(control.flag().load(Ordering::SeqCst));
        assert_eq!(control.reason(), Some(StopReason::TimedOut));
    }
}
