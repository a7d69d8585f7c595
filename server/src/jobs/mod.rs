//! The model runtime: worker threads that each own a loaded, warmed copy of the chain, a bounded
//! queue in front of them, and one async driver per job that turns the worker's reports into
//! protocol messages, enforces the time limit, and records the finished track before it says
//! `done`. An identical earlier request is answered from its stored track at once; a request
//! turned away at a full queue is told when to come back (`wait`).
//!
//! ```text
//! session ──submit──► Jobs ──► queue ──► worker thread (Pipeline::run) ──► WorkerUpdate
//!    ▲                  └─ driver task ◄──────────────────────────────────────┘
//!    └──────── Outgoing (JSON messages, audio frames) ◄── driver ──► TrackStore
//! ```

mod backend;
mod control;
mod driver;
mod queue;
mod replay;
pub mod setup;
mod wait;
mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use ekphrasis_shared::domain::Variant;
use ekphrasis_shared::{AudioFrame, ErrorCode, ImageId, ImageRef, JobId, ServerMsg, Settings};
use tokio::sync::mpsc;

pub use backend::JobBackend;
use control::JobControl;
pub use control::StopReason;
use queue::Queue;
pub use queue::QueueFull;
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

/// A job as its session holds it. Dropping it cancels the job.
pub struct JobHandle {
    pub id: JobId,
    /// Its place when taken (0: running or answered from a stored track).
    pub position: u32,
    /// Everything to send the client, ending with `done`, `described` or an error.
    pub updates: mpsc::UnboundedReceiver<Outgoing>,
    stopper: Arc<dyn StopJob>,
}

/// How a job is stopped, by whichever runtime runs it.
pub trait StopJob: Send + Sync {
    /// Stops the job: taken out of the queue if it waits, stopped within one decoder step if it
    /// runs. Its updates end with a `cancelled` error.
    fn cancel(&self);
    /// Whether it was cancelled or has ended (dropping the handle then does nothing).
    fn is_stopped(&self) -> bool;
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
        if !self.stopper.is_stopped() {
            self.stopper.cancel();
        }
    }
}

/// Stops a job of this process's runtime.
struct LocalStop {
    id: JobId,
    control: Arc<JobControl>,
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
}

/// The running model runtime, cheaply cloned.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
    gallery: Arc<Gallery>,
    next_id: Arc<AtomicU64>,
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
            }),
            gallery,
            next_id: Arc::new(AtomicU64::new(1)),
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
        let id = JobId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.take(id, kind, settings, image, false).await
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
        if self.shared.info.variants.contains(&settings.variant) {
            return Ok(());
        }
        Err(Refusal::new(
            ErrorCode::ModelsUnavailable,
            ekphrasis_models::pipeline::no_fine_tuned_musicgen().to_string(),
        ))
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
        let (to_session, updates) = mpsc::unbounded_channel();
        let stopper: Arc<dyn StopJob> = Arc::new(LocalStop {
            id,
            control: Arc::clone(&control),
            shared: Arc::clone(&self.shared),
        });
        let handle = |position| JobHandle::new(id, position, updates, stopper);

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
                tokio::spawn(replay::replay(id, track, store, job, to_session));
                return Ok(handle(0));
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
        let driver = driver::Driver {
            id,
            kind,
            settings,
            image,
            request_key: key,
            commit_job,
            control: Arc::clone(&control),
            from_worker,
            to_session,
            shared: Arc::clone(&self.shared),
        };
        tokio::spawn(driver.run());
        Ok(handle(position))
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
    /// session going away).
    pub fn shutdown(&self) {
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
