//! The job runtime as sessions see it, whatever runs the models: this process's worker threads
//! ([`super::Jobs`]) or a cluster's workers behind a broker (`crate::cluster::web`).

use async_trait::async_trait;
use ekphrasis_shared::{JobId, Settings};

use super::{JobHandle, JobKind, Jobs, Refusal, RuntimeInfo};

/// Taking, following and stopping jobs.
#[async_trait]
pub trait JobBackend: Send + Sync {
    /// What the models are (for a cluster: what its live workers report).
    fn info(&self) -> RuntimeInfo;

    /// Takes a request with resolved settings.
    async fn submit(&self, kind: JobKind, settings: Settings) -> Result<JobHandle, Refusal>;

    /// Follows a job started on another connection: its messages again from the start, its
    /// audio frames from `from_frame` on. Refused (naming the piece) for a job that is
    /// unknown, ended or given up more than the grace ago, or followed by another connection.
    async fn resume(&self, job: JobId, from_frame: u32) -> Result<JobHandle, Refusal>;

    /// Refuses new jobs; running ones end as their sessions close (a single process also
    /// cancels those that no session follows).
    fn shutdown(&self);
}

#[async_trait]
impl JobBackend for Jobs {
    fn info(&self) -> RuntimeInfo {
        Jobs::info(self).clone()
    }

    async fn submit(&self, kind: JobKind, settings: Settings) -> Result<JobHandle, Refusal> {
        Jobs::submit(self, kind, settings).await
    }

    async fn resume(&self, job: JobId, from_frame: u32) -> Result<JobHandle, Refusal> {
        Jobs::resume(self, job, from_frame)
    }

    fn shutdown(&self) {
        Jobs::shutdown(self);
    }
}
