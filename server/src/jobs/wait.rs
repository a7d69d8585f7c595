//! When a person turned away at a full queue should come back: a running average of how long
//! finished jobs took, and the wait it gives for everyone ahead shared among the workers.

use std::sync::Mutex;

/// How much the newest job counts in the running average.
const WEIGHT: f64 = 0.3;

/// The running average of finished jobs' durations.
#[derive(Debug, Default)]
pub struct JobDurations {
    average: Mutex<Option<f64>>,
}

impl JobDurations {
    /// Counts a job that took `seconds` from its start on a worker to its end.
    pub fn record(&self, seconds: f64) {
        let mut average = self.average.lock().expect("never poisoned");
        *average = Some(match *average {
            Some(old) => old + WEIGHT * (seconds - old),
            None => seconds,
        });
    }

    /// The running average, once a job has finished.
    pub fn average(&self) -> Option<f64> {
        *self.average.lock().expect("never poisoned")
    }
}

/// The advice for a newcomer when `waiting` jobs are queued for `workers` workers: the minutes
/// until a place is likely free (every waiting job and the running ones done), or a vaguer
/// "a few minutes" before any job has finished.
pub fn come_back_after(waiting: usize, workers: usize, average_seconds: Option<f64>) -> String {
    match average_seconds {
        Some(seconds) if seconds.is_finite() && seconds > 0.0 => {
            let rounds = (waiting + workers).div_ceil(workers.max(1)) as f64;
            let minutes = (rounds * seconds / 60.0).ceil().max(1.0) as u64;
            match minutes {
                1 => "try again in about 1 minute".into(),
                n => format!("try again in about {n} minutes"),
            }
        }
        _ => "try again in a few minutes".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_everyone_ahead_shared_among_the_workers() {
        // 4 waiting and 2 running on 2 workers: 3 rounds of 50 s, 2.5 minutes, said as 3.
        assert_eq!(
            come_back_after(4, 2, Some(50.0)),
            "try again in about 3 minutes"
        );
        assert_eq!(
            come_back_after(0, 1, Some(5.0)),
            "try again in about 1 minute"
        );
        assert_eq!(come_back_after(9, 1, None), "try again in a few minutes");
    }

    #[test]
    fn the_average_leans_to_recent_jobs() {
        let durations = JobDurations::default();
        assert_eq!(durations.average(), None);
        durations.record(100.0);
        assert_eq!(durations.average(), Some(100.0));
        durations.record(200.0);
        assert_eq!(durations.average(), Some(130.0));
    }
}
