//! Running past one machine: web nodes (`serve --role web`) and workers (`ekphrasis worker`)
//! that share a NATS JetStream broker, a PostgreSQL database and an S3 store.
//!
//! ```text
//! web node ──Submission──► EKPHRASIS_JOBS (work queue, ekphrasis.jobs.<variant>)
//!    │                         │ durable pull consumer per variant, shared by the workers
//!    │                         ▼
//!    │                     worker: jobs::Jobs (its model slots) ─► track: S3, then one
//!    │                         │   PostgreSQL transaction (track row + job done), then `done`,
//!    │                         │   then the ack
//!    ◄──── messages, frames ── EKPHRASIS_OUT (ekphrasis.out.<job>, in order)
//! ```
//!
//! - [`subjects`]: the streams', subjects' and consumers' names.
//! - [`broker`]: connecting and creating the streams and consumers (idempotent).
//! - [`envelope`]: what travels: a submission, and a job's messages and audio frames.
//! - [`roster`]: workers announcing what they serve; web nodes reading it.
//! - [`web`]: the web node's [`crate::jobs::JobBackend`].
//! - [`worker`]: the worker process.

pub mod broker;
pub mod envelope;
pub mod roster;
pub mod subjects;
pub mod web;
pub mod worker;

/// A password in a URL replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://me:secret@db:5432/e"),
            "postgres://me:***@db:5432/e"
        );
        assert_eq!(redact("postgres://me@db/e"), "postgres://me@db/e");
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }
}
