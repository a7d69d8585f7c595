//! The jobs of this process a client may follow again on another connection (`resume`): each
//! job's output and stop flag by its id, from submission until the grace after it ends or is
//! given up. The grace is the same for a job left without a follower: when it runs out with
//! nobody back, the job is cancelled (see `LocalStop::detach`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ekphrasis_shared::JobId;

use super::control::JobControl;
use super::output::JobOutput;

/// How long a job waits for its client to come back, and how long a finished job's output is
/// kept for one that comes back late: about half a minute, time for a page to reconnect with
/// backoff (`--resume-grace-secs`).
pub const RESUME_GRACE: Duration = Duration::from_secs(30);

/// A job that may be followed again.
#[derive(Clone)]
pub struct Followable {
    pub output: Arc<JobOutput>,
    pub control: Arc<JobControl>,
}

/// The followable jobs by id.
pub struct Resumable {
    grace: Duration,
    jobs: Mutex<HashMap<JobId, Followable>>,
}

impl Resumable {
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            jobs: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<JobId, Followable>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The grace a job without a follower, or a finished one, is kept for.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Whether `id` is taken.
    pub fn contains(&self, id: JobId) -> bool {
        self.lock().contains_key(&id)
    }

    /// Keeps a new job.
    pub fn insert(&self, id: JobId, job: Followable) {
        self.lock().insert(id, job);
    }

    /// The job `id`, while it may be followed.
    pub fn get(&self, id: JobId) -> Option<Followable> {
        self.lock().get(&id).cloned()
    }

    /// Forgets `id` (when it is still the job `output` belongs to).
    pub fn forget(&self, id: JobId, output: &Arc<JobOutput>) {
        let mut jobs = self.lock();
        if jobs
            .get(&id)
            .is_some_and(|job| Arc::ptr_eq(&job.output, output))
        {
            jobs.remove(&id);
        }
    }

    /// The job `id` ended: it is forgotten once the grace has passed.
    pub fn ended(self: &Arc<Self>, id: JobId) {
        let Some(job) = self.get(id) else {
            return;
        };
        let resumable = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(resumable.grace).await;
            resumable.forget(id, &job.output);
        });
    }

    /// Takes out every job nobody follows now (at shutdown, to be cancelled).
    pub fn take_unfollowed(&self) -> Vec<(JobId, Followable)> {
        let mut jobs = self.lock();
        let unfollowed: Vec<JobId> = jobs
            .iter()
            .filter(|(_, job)| job.output.is_unfollowed() && !job.output.is_ended())
            .map(|(id, _)| *id)
            .collect();
        unfollowed
            .into_iter()
            .filter_map(|id| jobs.remove(&id).map(|job| (id, job)))
            .collect()
    }
}
