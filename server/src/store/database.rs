//! The one interface over the database, whichever it is: SQLite under `--data` for a single
//! server, PostgreSQL shared by a cluster's nodes. `ImageStore`, `TrackStore` and `JobStore` speak
//! only this trait; each backend keeps its own migrations.

use std::collections::BTreeMap;

use async_trait::async_trait;
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{ImageId, JobId, TrackId};

use super::{ImageMeta, JobRow, JobState, RequestKey, TrackRecord};

/// The row operations the stores need. Every method is one statement or one transaction.
#[async_trait]
pub trait Database: Send + Sync {
    /// The backend and where it is, for messages: `SQLite at …`, `PostgreSQL at …` (never with a
    /// password).
    fn name(&self) -> String;

    /// Whether the database answers now.
    async fn check(&self) -> anyhow::Result<()>;

    /// Adds an image's row unless one with its id is there; false when it was.
    async fn insert_image(
        &self,
        id: &ImageId,
        meta: &ImageMeta,
        blob_key: &str,
        created_at: i64,
    ) -> anyhow::Result<bool>;

    /// What is known of an image, if it is there.
    async fn image_meta(&self, id: &ImageId) -> anyhow::Result<Option<ImageMeta>>;

    /// In one transaction: adds the track's row unless one with its request key is there, and,
    /// when `job` is given, marks that job done with the winning track (this one, or the one
    /// already there). False when the request key was taken: the track already there stands.
    async fn insert_track(
        &self,
        track: &TrackRecord,
        request_key: &RequestKey,
        job: Option<JobId>,
    ) -> anyhow::Result<bool>;

    /// The track with this id.
    async fn track(&self, id: &TrackId) -> anyhow::Result<Option<TrackRecord>>;

    /// The track with this request key.
    async fn track_by_key(&self, key: &RequestKey) -> anyhow::Result<Option<TrackRecord>>;

    /// Every track's id.
    async fn track_ids(&self) -> anyhow::Result<Vec<String>>;

    /// Marks `track` as a gallery item's pre-rendered track for the revisions hashed to
    /// `revisions_key`, replacing an earlier one.
    async fn set_gallery_track(
        &self,
        item: &GalleryId,
        revisions_key: &str,
        track: &TrackId,
    ) -> anyhow::Result<()>;

    /// Each gallery item's pre-rendered track for the revisions hashed to `revisions_key`.
    async fn gallery_tracks(
        &self,
        revisions_key: &str,
    ) -> anyhow::Result<BTreeMap<String, TrackId>>;

    /// Adds a job's row; false when a job with its id is there (a duplicate submission).
    async fn insert_job(&self, job: &JobRow) -> anyhow::Result<bool>;

    /// The job with this id.
    async fn job(&self, id: JobId) -> anyhow::Result<Option<JobRow>>;

    /// Records the broker sequence of the job's submission.
    async fn set_job_queue_seq(&self, id: JobId, seq: u64) -> anyhow::Result<()>;

    /// A queued or running job becomes running under `worker`, one attempt more; the row after
    /// (a finished job's row unchanged), or None for an unknown job.
    async fn start_job(&self, id: JobId, worker: &str) -> anyhow::Result<Option<JobRow>>;

    /// The job is done with `track`, a track already stored (an identical request's, replayed);
    /// false for an unknown job.
    async fn complete_job(&self, id: JobId, track: &TrackId) -> anyhow::Result<bool>;

    /// An unfinished job ends in `state` (done without a track, failed or cancelled) with
    /// `error`; false when it was finished already or is unknown.
    async fn finish_job(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&str>,
    ) -> anyhow::Result<bool>;

    /// Raises an unfinished job's cancel flag; false when it was finished or is unknown.
    async fn request_job_cancel(&self, id: JobId) -> anyhow::Result<bool>;

    /// Whether the job's cancel flag is raised.
    async fn job_cancel_requested(&self, id: JobId) -> anyhow::Result<bool>;

    /// How many queued jobs were submitted before broker sequence `seq`.
    async fn jobs_queued_ahead(&self, seq: u64) -> anyhow::Result<u64>;
}
