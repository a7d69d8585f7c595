//! The broker's names: streams, subjects and consumers, in one place so web nodes and workers
//! agree.

use ekphrasis_shared::JobId;
use ekphrasis_shared::domain::Variant;

/// The work queue of submissions.
pub const JOBS_STREAM: &str = "EKPHRASIS_JOBS";
/// Every submission subject.
pub const JOBS_ALL: &str = "ekphrasis.jobs.*";
/// Each job's messages and audio frames, kept a short while.
pub const OUT_STREAM: &str = "EKPHRASIS_OUT";
/// Every job's output subject.
pub const OUT_ALL: &str = "ekphrasis.out.*";
/// The workers' cards, the last one each.
pub const WORKERS_STREAM: &str = "EKPHRASIS_WORKERS";
/// Every worker's card subject.
pub const WORKERS_ALL: &str = "ekphrasis.workers.*";
/// Every job's cancel subject (plain NATS, not a stream).
pub const CANCEL_ALL: &str = "ekphrasis.cancel.*";
/// A web node holding a job for a session (following it, or detached in its grace) answers on
/// the job's follow subject (plain NATS request and reply): [`FOLLOWED`], [`RELEASED`] or
/// [`GIVEN_UP`]; nobody answers for a job no web node holds.
pub const FOLLOWED: &[u8] = b"followed";
/// The answer of a web node that held the job detached: it lets it go to the asker.
pub const RELEASED: &[u8] = b"released";
/// The answer of a web node that cancelled the job when nobody came back within the grace.
pub const GIVEN_UP: &[u8] = b"given_up";

/// Where a submission for `variant` goes.
pub fn submission(variant: Variant) -> String {
    format!("ekphrasis.jobs.{}", variant.as_str())
}

/// Where a new submission for `variant` is announced, so an idle worker fetches at once.
pub fn wake(variant: Variant) -> String {
    format!("ekphrasis.wake.{}", variant.as_str())
}

/// The durable consumer the workers serving `variant` share.
pub fn consumer(variant: Variant) -> String {
    format!("workers-{}", variant.as_str())
}

/// Where `job`'s messages and frames are published.
pub fn out(job: JobId) -> String {
    format!("ekphrasis.out.{}", job.0)
}

/// Where a cancel for `job` is sent.
pub fn cancel(job: JobId) -> String {
    format!("ekphrasis.cancel.{}", job.0)
}

/// Where web nodes ask who holds `job` before a session follows it again.
pub fn follow(job: JobId) -> String {
    format!("ekphrasis.follow.{}", job.0)
}

/// The job a cancel subject names.
pub fn cancelled_job(subject: &str) -> Option<JobId> {
    subject
        .strip_prefix("ekphrasis.cancel.")
        .and_then(|id| id.parse().ok())
        .map(JobId)
}

/// Where worker `name` publishes its card.
pub fn worker_card(name: &str) -> String {
    format!("ekphrasis.workers.{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(submission(Variant::Lyrical), "ekphrasis.jobs.lyrical");
        assert_eq!(cancelled_job(&cancel(JobId(42))), Some(JobId(42)));
        assert_eq!(cancelled_job("ekphrasis.cancel.x"), None);
        assert_eq!(out(JobId(7)), "ekphrasis.out.7");
        assert_eq!(follow(JobId(7)), "ekphrasis.follow.7");
    }
}
