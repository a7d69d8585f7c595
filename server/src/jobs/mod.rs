//! The model runtime: worker threads that each own a loaded, warmed copy of the chain, a bounded
//! queue in front of them, and one async driver per job that turns the worker's reports into
//! protocol messages, enforces the time limit, and records the finished track before it says
//! `done`. An identical earlier request is answered from its stored track at once; a request
//! turned away at a full queue is told when to come back (`wait`). A job outlives a session
//! that goes away for a grace (`resumable`): its `output` is kept, and a `resume` on another
//! connection follows it again from an audio frame on.
//!
//! ```text
//! session ──submit──► Jobs ──► queue ──► worker thread (Pipeline::run) ──► WorkerUpdate
//!    ▲                  └─ driver task ◄──────────────────────────────────────┘
//!    └── Outgoing (JSON messages, audio frames) ◄── JobOutput (kept) ◄── driver ──► TrackStore
//! ```

mod backend;
mod control;
mod driver;
mod output;
mod queue;
mod replay;
mod resumable;
pub mod setup;
mod wait;
mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ekphrasis_shared::domain::Variant;
use ekphrasis_shared::{AudioFrame, ErrorCode, ImageId, ImageRef, JobId, ServerMsg, Settings};
use tokio::sync::mpsc;

pub use backend::JobBackend;
use control::JobControl;
pub use control::StopReason;
use output::{JobOutput, NotFollowable};
use queue::Queue;
pub use queue::QueueFull;
pub use resumable::RESUME_GRACE;
use resumable::{Followable, Resumable};
pub use worker::JobKind;
use worker::WorkItem;

use crate::checkpoints::model_set::LoadOptions;
use crate::checkpoints::source::ModelSource;
use crate::gallery::Gallery;
use crate::metrics::{Metrics, Outcome};
use crate::store::{RequestKey, Store};

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Copies of the models, each running one job at a time.
    pub workers: usize,
    /// Jobs that may wait for a worker.
    pub queue_capacity: usize,
    /// The longest a job may run on a worker.
    pub job_timeout: Duration,
    /// Largest image accepted, in pixels.
    pub max_pixels: u64,
    /// How long a job whose session went away waits for its client to `resume` it, and how
    /// long a finished job's output is kept for one.
    pub resume_grace: Duration,
    pub load: LoadOptions,
}

/// What the loaded models are, for health answers and stored tracks.
#[derive(Debug, Clone)]
pub struct RuntimeInfo {
    /// Each role's checkpoint revision.
    pub revisions: BTreeMap<String, String>,
    /// True for the tiny demo models (their music is noise).
    pub demo: bool,
    pub variants: Vec<Variant>,
    /// The role (in `revisions`) of the MusicGen that composes each variant it can run.
    pub composers: BTreeMap<Variant, String>,
    pub sample_rate: u32,
}

/// Something a session sends on to its client.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    Message(ServerMsg),
    Audio(AudioFrame),
}

impl Outgoing {
    /// Whether this is the job's last message.
    pub fn ends_job(&self) -> bool {
        matches!(
            self,
            Outgoing::Message(
                ServerMsg::Done { .. }
                    | ServerMsg::Described { .. }
                    | ServerMsg::Error { job: Some(_), .. }
            )
        )
    }
}

/// Why a request was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A job as its session holds it. Dropping it cancels the job; [`JobHandle::detach`] leaves it
/// running for a client that comes back.
pub struct JobHandle {
    pub id: JobId,
    /// Its place when taken (0: running or answered from a stored track).
    pub position: u32,
    /// Everything to send the client, ending with `done`, `described` or an error.
    pub updates: mpsc::UnboundedReceiver<Outgoing>,
    stopper: Arc<dyn StopJob>,
    /// Detached: dropping the handle leaves the job alone.
    let_go: bool,
}

/// How a job is stopped, by whichever runtime runs it.
pub trait StopJob: Send + Sync {
    /// Stops the job: taken out of the queue if it waits, stopped within one decoder step if it
    /// runs. Its updates end with a `cancelled` error.
    fn cancel(&self);
    /// Whether it was cancelled or has ended (dropping the handle then does nothing).
    fn is_stopped(&self) -> bool;
    /// Its follower went away without cancelling: the job goes on for the runtime's grace,
    /// for the client to `resume` it, and is cancelled if nobody does. Runtimes that keep
    /// nothing for a later follower cancel at once.
    fn detach(self: Arc<Self>) {
        self.cancel();
    }
}

impl JobHandle {
    /// A handle over a runtime's own way of stopping the job.
    pub fn new(
        id: JobId,
        position: u32,
        updates: mpsc::UnboundedReceiver<Outgoing>,
        stopper: Arc<dyn StopJob>,
    ) -> Self {
        Self {
            id,
            position,
            updates,
            stopper,
            let_go: false,
        }
    }

    /// Lets the job go on without this follower (its client went away without cancelling):
    /// see [`StopJob::detach`].
    pub fn detach(mut self) {
        self.let_go = true;
        if !self.stopper.is_stopped() {
            Arc::clone(&self.stopper).detach();
        }
    }

    /// Stops the job (see [`StopJob::cancel`]).
    pub fn cancel(&self) {
        self.stopper.cancel();
    }

    /// What stops the job, for holding apart from the handle.
    pub fn stopper(&self) -> Arc<dyn StopJob> {
        Arc::clone(&self.stopper)
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        if !self.let_go && !self.stopper.is_stopped() {
            self.stopper.cancel();
        }
    }
}

/// Stops a job of this process's runtime.
struct LocalStop {
    id: JobId,
    control: Arc<JobControl>,
    output: Arc<JobOutput>,
    shared: Arc<Shared>,
}

impl StopJob for LocalStop {
    fn cancel(&self) {
        self.control.stop(StopReason::Cancelled);
        if let Some(item) = self.shared.queue.remove(self.id) {
            let _ = item.updates.send(worker::WorkerUpdate::Failed {
                code: ErrorCode::Cancelled,
                message: "cancelled while waiting".into(),
            });
        }
        self.shared
            .metrics
            .set_queue_length(self.shared.queue.len());
    }

    fn is_stopped(&self) -> bool {
        self.control.is_cancelled()
    }

    fn detach(self: Arc<Self>) {
        let detachment = self.output.detach();
        if self.shared.resumable.get(self.id).is_none() {
            // Nothing is kept for a later follower (a cluster worker's job).
            return self.cancel();
        }
        tracing::info!(job = %self.id, "its client went away: it goes on for a while");
        tokio::spawn(async move {
            tokio::time::sleep(self.shared.resumable.grace()).await;
            if self.output.still_detached(detachment) {
                tracing::info!(job = %self.id, "nobody came back for it: cancelled");
                self.shared.resumable.forget(self.id, &self.output);
                self.cancel();
            }
        });
    }
}

/// What the drivers share.
struct Shared {
    queue: Arc<Queue<WorkItem>>,
    store: Store,
    metrics: Metrics,
    info: RuntimeInfo,
    job_timeout: Duration,
    workers: usize,
    /// How long finished jobs took, for telling a turned-away person when to come back.
    durations: wait::JobDurations,
    /// The jobs a client may follow again.
    resumable: Arc<Resumable>,
}

/// The running model runtime, cheaply cloned.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
    gallery: Arc<Gallery>,
}

impl Jobs {
    /// Starts the workers and waits until every one has loaded and warmed its models (this
    /// blocks: call it off the async runtime).
    pub fn start(
        models: Arc<dyn ModelSource>,
        demo: bool,
        options: &RuntimeOptions,
        store: Store,
        gallery: Arc<Gallery>,
        metrics: Metrics,
    ) -> anyhow::Result<Self> {
        let workers = options.workers.max(1);
        let queue = Arc::new(Queue::new(options.queue_capacity));
        let (ready, loaded) = std::sync::mpsc::channel();
        for index in 0..workers {
            let (models, queue, ready) = (Arc::clone(&models), Arc::clone(&queue), ready.clone());
            let (load, max_pixels) = (options.load, options.max_pixels);
            std::thread::Builder::new()
                .name(format!("ekphrasis-worker-{index}"))
                .spawn(move || worker::run(index, &*models, load, max_pixels, queue, ready))
                .context("cannot start a worker thread")?;
        }
        drop(ready);
        let mut ready = None;
        for _ in 0..workers {
            match loaded.recv() {
                Ok(Ok(worker)) => ready = Some(worker),
                Ok(Err(e)) => {
                    queue.close();
                    return Err(e.context("loading the models"));
                }
                Err(_) => {
                    queue.close();
                    anyhow::bail!("a worker thread stopped while loading the models");
                }
            }
        }
        let ready = ready.context("no worker loaded the models")?;
        let mut revisions = models.revisions();
        if let Some(quantization) = ready.quantization {
            // Quantized weights make other music: a stored track is found only for the same.
            revisions.insert("quantization".into(), quantization);
        }
        let info = RuntimeInfo {
            revisions,
            demo,
            variants: models.variants(),
            composers: models
                .variants()
                .into_iter()
                .filter_map(|v| models.composer_role(v).map(|role| (v, role)))
                .collect(),
            sample_rate: ready.sample_rate,
        };
        Ok(Self {
            shared: Arc::new(Shared {
                queue,
                store,
                metrics,
                info,
                job_timeout: options.job_timeout,
                workers,
                durations: wait::JobDurations::default(),
                resumable: Arc::new(Resumable::new(options.resume_grace)),
            }),
            gallery,
        })
    }

    /// What the loaded models are.
    pub fn info(&self) -> &RuntimeInfo {
        &self.shared.info
    }

    /// Takes a request with resolved settings: answered from a stored track when an identical
    /// one exists, else queued for a worker.
    pub async fn submit(&self, kind: JobKind, settings: Settings) -> Result<JobHandle, Refusal> {
        self.check_variant(&settings)?;
        let image = self.painting(&settings.image).await?;
        self.take(self.new_id(), kind, settings, image, false).await
    }

    /// An unused job id that another client cannot guess (53 bits, exact in JSON), so that
    /// only the page that started a piece can follow it again.
    fn new_id(&self) -> JobId {
        loop {
            let id = JobId((rand::random::<u64>() >> 11).max(1));
            if !self.shared.resumable.contains(id) {
                return id;
            }
        }
    }

    /// Follows job `id` again on another connection: its messages again from the start, its
    /// audio frames from `from_frame` on, then live to its end. Refused for a job this process
    /// does not keep (unknown, or ended or given up more than the grace ago) and for one that
    /// another connection follows now.
    pub fn resume(&self, id: JobId, from_frame: u32) -> Result<JobHandle, Refusal> {
        let grace = self.shared.resumable.grace().as_secs();
        let gone = || {
            Refusal::new(
                ErrorCode::NotFound,
                format!(
                    "piece {id} cannot be followed here: it ended, or was left without a \
                     follower, more than {grace} s ago (or never was); make it again"
                ),
            )
        };
        let Some(Followable { output, control }) = self.shared.resumable.get(id) else {
            return Err(gone());
        };
        let updates = match output.attach(from_frame) {
            Ok(updates) => updates,
            Err(NotFollowable::NotKept) => return Err(gone()),
            Err(NotFollowable::Followed) => {
                return Err(Refusal::new(
                    ErrorCode::Busy,
                    format!("piece {id} is followed by another connection"),
                ));
            }
        };
        let stopper: Arc<dyn StopJob> = Arc::new(LocalStop {
            id,
            control,
            output,
            shared: Arc::clone(&self.shared),
        });
        Ok(JobHandle::new(id, 0, updates, stopper))
    }

    /// Runs a job a cluster's broker handed this worker: its id is the cluster's, its painting
    /// already found, and its finished track is recorded in the same transaction that marks
    /// the job's row done (the commit point; an identical request's track is replayed instead).
    pub async fn submit_assigned(
        &self,
        id: JobId,
        kind: JobKind,
        settings: Settings,
        image: ImageId,
    ) -> Result<JobHandle, Refusal> {
        self.check_variant(&settings)?;
        self.take(id, kind, settings, image, true).await
    }

    fn check_variant(&self, settings: &Settings) -> Result<(), Refusal> {
        let info = &self.shared.info;
        if info.variants.contains(&settings.variant) {
            return Ok(());
        }
        let message = if settings.variant == Variant::Optimized
            && !info.revisions.contains_key("optimized")
        {
            ekphrasis_models::pipeline::no_fine_tuned_musicgen().to_string()
        } else {
            // Models that could, held back by `--variants`.
            let served: Vec<_> = info.variants.iter().map(|v| v.as_str()).collect();
            format!(
                "this server does not serve the {} variant (it serves {})",
                settings.variant,
                served.join(", ")
            )
        };
        Err(Refusal::new(ErrorCode::ModelsUnavailable, message))
    }

    async fn take(
        &self,
        id: JobId,
        kind: JobKind,
        settings: Settings,
        image: ImageId,
        commit_job: bool,
    ) -> Result<JobHandle, Refusal> {
        let info = &self.shared.info;
        let control = Arc::new(JobControl::default());
        // A cluster's followers come back through its broker, not to this worker.
        let keep = !commit_job;
        let (output, updates) = JobOutput::new(keep);
        let output = Arc::new(output);
        let stopper: Arc<dyn StopJob> = Arc::new(LocalStop {
            id,
            control: Arc::clone(&control),
            output: Arc::clone(&output),
            shared: Arc::clone(&self.shared),
        });
        let resumable = Arc::clone(&self.shared.resumable);
        let handle = |position| {
            if keep {
                let control = Arc::clone(&control);
                let output = Arc::clone(&output);
                resumable.insert(id, Followable { output, control });
            }
            JobHandle::new(id, position, updates, stopper)
        };

        let key = RequestKey::new(&image, &settings, &info.revisions);
        if kind == JobKind::Generate {
            let stored = self
                .shared
                .store
                .tracks
                .find_by_key(&key)
                .await
                .map_err(|e| {
                    tracing::error!(error = format!("{e:#}"), "looking up stored tracks failed");
                    Refusal::new(ErrorCode::Internal, "the track store failed; try again")
                })?;
            if let Some(track) = stored {
                self.shared.metrics.count(Outcome::Reused);
                let store = self.shared.store.clone();
                let job = commit_job.then_some(id);
                let handle = handle(0);
                let resumable = Arc::clone(&self.shared.resumable);
                tokio::spawn(async move {
                    replay::replay(id, track, store, job, &output).await;
                    resumable.ended(id);
                });
                return Ok(handle);
            }
        }

        let bytes = match self.shared.store.images.get(&image).await {
            Ok(Some((bytes, _))) => bytes,
            Ok(None) => return Err(image_not_found(&settings.image)),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "reading a stored image failed");
                return Err(Refusal::new(
                    ErrorCode::Internal,
                    "the image store failed; try again",
                ));
            }
        };
        let (worker_tx, from_worker) = mpsc::unbounded_channel();
        let item = WorkItem {
            id,
            kind,
            settings: settings.clone(),
            image: bytes,
            control: Arc::clone(&control),
            updates: worker_tx,
        };
        let position = self.shared.queue.push(item).map_err(|(full, _)| {
            self.shared.metrics.count(Outcome::QueueFull);
            let advice = wait::come_back_after(
                full.waiting,
                self.shared.workers,
                self.shared.durations.average(),
            );
            Refusal::new(
                ErrorCode::QueueFull,
                format!("the server is busy: {full}; {advice}"),
            )
        })?;
        self.shared
            .metrics
            .set_queue_length(self.shared.queue.len());
        let handle = handle(position);
        let driver = driver::Driver {
            id,
            kind,
            settings,
            image,
            request_key: key,
            commit_job,
            control: Arc::clone(&control),
            from_worker,
            output,
            shared: Arc::clone(&self.shared),
        };
        let resumable = Arc::clone(&self.shared.resumable);
        tokio::spawn(async move {
            driver.run().await;
            resumable.ended(id);
        });
        Ok(handle)
    }

    /// The stored image a request names.
    async fn painting(&self, image: &ImageRef) -> Result<ImageId, Refusal> {
        let id = match image {
            ImageRef::Upload(id) => id.clone(),
            ImageRef::Gallery(item) => match self.gallery.get(item) {
                Some(entry) => entry.image.clone(),
                None => return Err(image_not_found(image)),
            },
        };
        match self.shared.store.images.meta(&id).await {
            Ok(Some(_)) => Ok(id),
            Ok(None) => Err(image_not_found(image)),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "reading the image table failed");
                Err(Refusal::new(
                    ErrorCode::Internal,
                    "the image store failed; try again",
                ))
            }
        }
    }

    /// Refuses new jobs and lets the workers exit after their current job (stopped by its
    /// session closing, or here when no session follows it).
    pub fn shutdown(&self) {
        for (id, Followable { output, control }) in self.shared.resumable.take_unfollowed() {
            let shared = Arc::clone(&self.shared);
            LocalStop {
                id,
                control,
                output,
                shared,
            }
            .cancel();
        }
        for item in self.shared.queue.close() {
            item.control.stop(StopReason::Cancelled);
            let _ = item.updates.send(worker::WorkerUpdate::Failed {
                code: ErrorCode::Cancelled,
                message: "the server is shutting down".into(),
            });
        }
    }
}

fn image_not_found(image: &ImageRef) -> Refusal {
    let message = match image {
        ImageRef::Upload(_) => "that image is not on this server: upload it again".to_owned(),
        ImageRef::Gallery(item) => format!("this server has no gallery item `{item}`"),
    };
    Refusal::new(ErrorCode::ImageNotFound, message)
}
