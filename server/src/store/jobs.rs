//! Jobs as the database keeps them: what was asked (request key, kind, settings, image), where it
//! stands (queued, running, done, failed, cancelled), its attempts and worker, the cancel flag,
//! and the broker sequence of its submission, from which queue positions are counted. A job
//! becomes done only with its track, in `TrackStore::record_for_job`'s transaction.

use std::sync::Arc;

use ekphrasis_shared::{ImageId, JobId, Settings, TrackId};

use super::{Database, RequestKey, unix_now};

/// What a job makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// The whole chain, to a track.
    Generate,
    /// The stages before the music only.
    Describe,
}

impl JobKind {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generate => "generate",
            Self::Describe => "describe",
        }
    }

    /// The kind a stored name means.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Generate, Self::Describe]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Done,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state a stored name means.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Done, failed or cancelled: nothing more happens to it.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

/// A job's row.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRow {
    pub id: JobId,
    /// The request key of the track it makes.
    pub request_key: RequestKey,
    pub kind: JobKind,
    /// The resolved settings (the variant is stored beside them too).
    pub settings: Settings,
    pub image: ImageId,
    pub state: JobState,
    /// How many times a worker started it.
    pub attempt: u32,
    /// The worker running it, or that ran it last.
    pub worker: Option<String>,
    pub cancel_requested: bool,
    /// The broker sequence of its submission, once published.
    pub queue_seq: Option<u64>,
    /// Its track, once done.
    pub track: Option<TrackId>,
    /// Why it failed.
    pub error: Option<String>,
    /// Seconds since 1970-01-01 UTC.
    pub created_at: i64,
    pub updated_at: i64,
}

impl JobRow {
    /// A new queued job, not yet published.
    pub fn queued(
        id: JobId,
        request_key: RequestKey,
        kind: JobKind,
        settings: Settings,
        image: ImageId,
    ) -> Self {
        let now = unix_now();
        Self {
            id,
            request_key,
            kind,
            settings,
            image,
            state: JobState::Queued,
            attempt: 0,
            worker: None,
            cancel_requested: false,
            queue_seq: None,
            track: None,
            error: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// The stored jobs.
#[derive(Clone)]
pub struct JobStore {
    pub(super) db: Arc<dyn Database>,
}

impl JobStore {
    /// Jobs in the database.
    pub fn new(db: Arc<dyn Database>) -> Self {
        Self { db }
    }

    /// Adds a job; false when one with its id is there already (a duplicate submission).
    pub async fn insert(&self, job: &JobRow) -> anyhow::Result<bool> {
        self.db.insert_job(job).await
    }

    /// The job with this id.
    pub async fn get(&self, id: JobId) -> anyhow::Result<Option<JobRow>> {
        self.db.job(id).await
    }

    /// Records the broker sequence of the job's submission (after it was published).
    pub async fn set_queue_seq(&self, id: JobId, seq: u64) -> anyhow::Result<()> {
        self.db.set_job_queue_seq(id, seq).await
    }

    /// A worker takes the job: queued or running becomes running, one attempt more, under
    /// `worker`. The row after; a finished job's row comes back unchanged, so the caller sees it
    /// is finished; None for an unknown job.
    pub async fn start(&self, id: JobId, worker: &str) -> anyhow::Result<Option<JobRow>> {
        self.db.start_job(id, worker).await
    }

    /// The job is done with `track`, a track already stored (an identical request's, replayed;
    /// a track the job made itself is recorded with `TrackStore::record_for_job`, which marks it
    /// done in the same transaction); false for an unknown job.
    pub async fn done(&self, id: JobId, track: &TrackId) -> anyhow::Result<bool> {
        self.db.complete_job(id, track).await
    }

    /// An unfinished job ends: failed or cancelled, or done without a track (a describe job;
    /// a generate job is done with its track, through `TrackStore::record_for_job`). False when
    /// it was finished already or is unknown.
    pub async fn finish(
        &self,
        id: JobId,
        state: JobState,
        error: Option<&str>,
    ) -> anyhow::Result<bool> {
        if !state.is_finished() {
            anyhow::bail!(
                "job {id}: finish takes an end state, not {}",
                state.as_str()
            );
        }
        self.db.finish_job(id, state, error).await
    }

    /// Raises the job's cancel flag; true when the job was not finished.
    pub async fn request_cancel(&self, id: JobId) -> anyhow::Result<bool> {
        self.db.request_job_cancel(id).await
    }

    /// Whether someone asked to cancel the job.
    pub async fn cancel_requested(&self, id: JobId) -> anyhow::Result<bool> {
        self.db.job_cancel_requested(id).await
    }

    /// How many queued jobs are ahead of the submission with broker sequence `seq`.
    pub async fn queued_ahead(&self, seq: u64) -> anyhow::Result<u64> {
        self.db.jobs_queued_ahead(seq).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;
    use ekphrasis_shared::{GenerateRequest, ImageRef};

    use super::*;
    use crate::store::{ImageMeta, NewTrack, Store, TrackTexts};

    fn job(id: u64, image: &ImageId, seed: u64) -> JobRow {
        let mut request = GenerateRequest::new(ImageRef::Upload(image.clone()));
        request.seed = Some(seed);
        request.seconds = Some(1.0);
        let settings = request.resolve(|| unreachable!()).unwrap();
        let revisions = BTreeMap::from([("musicgen".to_owned(), "abc".to_owned())]);
        let key = RequestKey::new(image, &settings, &revisions);
        JobRow::queued(JobId(id), key, JobKind::Generate, settings, image.clone())
    }

    fn track_for(row: &JobRow) -> NewTrack {
        NewTrack {
            request_key: row.request_key.clone(),
            image: row.image.clone(),
            settings: row.settings.clone(),
            texts: TrackTexts {
                emotion: ekphrasis_shared::domain::Emotion::Fun,
                probabilities: ekphrasis_shared::domain::EmotionProbabilities {
                    happy: 0.0,
                    angry: 0.0,
                    sad: 0.0,
                    fun: 1.0,
                    neutral: 0.0,
                },
                labeller: "clip-zero-shot".into(),
                caption: None,
                description: None,
                description_fallback: true,
                music_text: "drums".into(),
            },
            model_revisions: BTreeMap::from([("musicgen".to_owned(), "abc".to_owned())]),
            demo: true,
            clap: None,
            sample_rate: 8000,
            pcm: vec![0; 800],
        }
    }

    async fn store_with_image(dir: &std::path::Path) -> (Store, ImageId) {
        let store = crate::store::open(dir, None).unwrap();
        let image = ImageId::parse(&"ef".repeat(32)).unwrap();
        let meta = ImageMeta {
            width: 1,
            height: 1,
            mime: "image/png".into(),
        };
        store
            .images
            .put(&image, Bytes::from_static(b"png"), &meta)
            .await
            .unwrap();
        (store, image)
    }

    #[tokio::test]
    async fn a_job_goes_from_queued_to_running_to_finished() {
        let dir = tempfile::tempdir().unwrap();
        let (store, image) = store_with_image(dir.path()).await;
        let jobs = &store.jobs;
        let row = job(u64::MAX, &image, 1);
        assert!(jobs.insert(&row).await.unwrap());
        assert!(!jobs.insert(&row).await.unwrap(), "a duplicate submission");
        assert_eq!(jobs.get(row.id).await.unwrap(), Some(row.clone()));
        assert_eq!(jobs.get(JobId(7)).await.unwrap(), None);

        jobs.set_queue_seq(row.id, 41).await.unwrap();
        let started = jobs.start(row.id, "w1").await.unwrap().unwrap();
        assert_eq!(
            (started.state, started.attempt, started.worker.as_deref()),
            (JobState::Running, 1, Some("w1"))
        );
        assert_eq!(started.queue_seq, Some(41));
        let again = jobs.start(row.id, "w2").await.unwrap().unwrap();
        assert_eq!((again.attempt, again.worker.as_deref()), (2, Some("w2")));
        assert_eq!(jobs.start(JobId(7), "w1").await.unwrap(), None);

        assert!(!jobs.cancel_requested(row.id).await.unwrap());
        assert!(jobs.request_cancel(row.id).await.unwrap());
        assert!(jobs.cancel_requested(row.id).await.unwrap());
        assert!(
            jobs.finish(row.id, JobState::Cancelled, Some("asked"))
                .await
                .unwrap()
        );
        assert!(!jobs.finish(row.id, JobState::Failed, None).await.unwrap());
        assert!(!jobs.request_cancel(row.id).await.unwrap());
        let finished = jobs.start(row.id, "w3").await.unwrap().unwrap();
        assert_eq!(
            (finished.state, finished.attempt, finished.error.as_deref()),
            (JobState::Cancelled, 2, Some("asked")),
            "a finished job comes back unchanged"
        );
        assert!(jobs.finish(row.id, JobState::Queued, None).await.is_err());
        assert!(jobs.finish(row.id, JobState::Running, None).await.is_err());
    }

    #[tokio::test]
    async fn queue_positions_count_queued_jobs_submitted_earlier() {
        let dir = tempfile::tempdir().unwrap();
        let (store, image) = store_with_image(dir.path()).await;
        let jobs = &store.jobs;
        for (id, seq) in [(1, 10), (2, 11), (3, 12), (4, 13)] {
            jobs.insert(&job(id, &image, id)).await.unwrap();
            jobs.set_queue_seq(JobId(id), seq).await.unwrap();
        }
        jobs.insert(&job(5, &image, 5)).await.unwrap(); // not yet published
        assert_eq!(jobs.queued_ahead(10).await.unwrap(), 0);
        assert_eq!(jobs.queued_ahead(13).await.unwrap(), 3);
        jobs.start(JobId(1), "w").await.unwrap();
        jobs.finish(JobId(2), JobState::Failed, Some("x"))
            .await
            .unwrap();
        assert_eq!(jobs.queued_ahead(13).await.unwrap(), 1);
        assert_eq!(jobs.queued_ahead(100).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_recorded_track_finishes_its_job_and_an_identical_one_shares_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, image) = store_with_image(dir.path()).await;
        let (first, second) = (job(1, &image, 9), job(2, &image, 9));
        assert_eq!(first.request_key, second.request_key);
        for row in [&first, &second] {
            store.jobs.insert(row).await.unwrap();
            store.jobs.start(row.id, "w").await.unwrap();
        }
        let made = store
            .tracks
            .record_for_job(track_for(&first), Some(first.id))
            .await
            .unwrap();
        let shared = store
            .tracks
            .record_for_job(track_for(&second), Some(second.id))
            .await
            .unwrap();
        assert_eq!(shared, made);
        for id in [first.id, second.id] {
            let row = store.jobs.get(id).await.unwrap().unwrap();
            assert_eq!(
                (row.state, row.track),
                (JobState::Done, Some(made.id.clone()))
            );
        }

        let third = job(3, &image, 9);
        store.jobs.insert(&third).await.unwrap();
        assert!(store.jobs.done(third.id, &made.id).await.unwrap());
        let row = store.jobs.get(third.id).await.unwrap().unwrap();
        assert_eq!(
            (row.state, row.track),
            (JobState::Done, Some(made.id.clone()))
        );
        assert!(!store.jobs.done(JobId(99), &made.id).await.unwrap());
    }
}
