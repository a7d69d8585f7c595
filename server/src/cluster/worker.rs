//! The worker process (`ekphrasis worker`): it loads its models into `--workers` slots, takes a
//! submission of a variant it serves (`--variants`, else every one its models run) from the
//! broker only when a slot is free, runs it on this process's job runtime, publishes the job's
//! messages and frames in order, and acknowledges the submission last — after the track is in
//! the store and the database (the commit point) and `done` is out. A worker that stops mid-job
//! stops reporting progress, and the broker hands the job to another worker, which tells
//! followers it `restarted`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use ekphrasis_shared::domain::Variant;
use ekphrasis_shared::{ErrorCode, JobId, ServerMsg};
use futures_util::StreamExt;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::broker::{Broker, BrokerOptions};
use super::envelope::{self, Submission};
use super::roster::{CARD_EVERY, WorkerCard};
use super::subjects;
use crate::config::ServeConfig;
use crate::gallery::Gallery;
use crate::jobs::{Jobs, Outgoing, StopJob};
use crate::metrics::Metrics;
use crate::store::{JobState, Store};

/// How long a fetch waits for work before looking at every variant again.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// A running worker.
pub struct Worker {
    name: String,
    broker: Broker,
    store: Store,
    jobs: Jobs,
    metrics: Metrics,
    slots: usize,
    running: Mutex<HashMap<JobId, Arc<dyn StopJob>>>,
}

impl Worker {
    /// Connects to the broker and the shared store, and loads and warms the models (this takes
    /// a while: nothing is fetched before it is done).
    pub async fn start(config: &ServeConfig, name: &str) -> anyhow::Result<Arc<Self>> {
        config.validate_cluster("ekphrasis worker")?;
        let (database, files) = (
            config.database.as_deref().unwrap_or_default(),
            config.store.as_deref().unwrap_or_default(),
        );
        let store = crate::store::open_shared(database, files).await?;
        let broker = Broker::connect(
            config.broker.as_deref().unwrap_or_default(),
            name,
            BrokerOptions {
                queue_capacity: config.queue_capacity,
                ack_wait: Duration::from_secs(config.ack_wait_secs),
                max_deliver: BrokerOptions::MAX_DELIVER,
                output_kept: BrokerOptions::OUTPUT_KEPT,
            },
        )
        .await?;
        let metrics = Metrics::new();
        let slots = config.workers.max(1);
        let jobs = {
            let mut local = config.clone();
            // The broker queues; this process only holds what its slots run.
            local.queue_capacity = slots;
            let (store, metrics) = (store.clone(), metrics.clone());
            let gallery = Arc::new(Gallery::default());
            tokio::task::spawn_blocking(move || {
                crate::jobs::setup::start_jobs(&local, store, gallery, metrics)
            })
            .await
            .context("loading the models")??
        };
        Ok(Arc::new(Self {
            name: name.to_owned(),
            broker,
            store,
            jobs,
            metrics,
            slots,
            running: Mutex::new(HashMap::new()),
        }))
    }

    /// The worker's name on the broker.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it reports on `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Jobs running now.
    pub fn busy(&self) -> usize {
        self.running.lock().map_or(0, |running| running.len())
    }

    /// The variants it takes jobs of.
    pub fn variants(&self) -> &[Variant] {
        &self.jobs.info().variants
    }

    /// Slots: jobs it runs at once.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The broker, database and store, each `Ok` or why not.
    pub async fn health(&self) -> Vec<(&'static str, Result<(), String>)> {
        vec![
            ("broker", self.broker.health()),
            ("database", self.store.database_health().await),
            ("store", self.store.store_health().await),
        ]
    }

    /// Takes and runs jobs until `stop` is cancelled; jobs running then are handed back to the
    /// broker at once, for another worker.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) -> anyhow::Result<()> {
        let info = self.jobs.info().clone();
        let card = WorkerCard::new(&self.name, &info, self.slots);
        card.publish(&self.broker).await?;
        let heartbeat = {
            let (broker, stop, card) = (self.broker.clone(), stop.clone(), card.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(CARD_EVERY);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = every.tick() => {
                            if let Err(e) = card.publish(&broker).await {
                                tracing::warn!(error = format!("{e:#}"), "publishing the card");
                            }
                        }
                    }
                }
            })
        };
        let mut cancels = self
            .broker
            .client
            .subscribe(subjects::CANCEL_ALL)
            .await
            .context("listening for cancels")?;
        let listening = {
            let worker = Arc::clone(&self);
            tokio::spawn(async move {
                while let Some(message) = cancels.next().await {
                    let Some(job) = subjects::cancelled_job(&message.subject) else {
                        continue;
                    };
                    let stopper = worker
                        .running
                        .lock()
                        .ok()
                        .and_then(|running| running.get(&job).cloned());
                    if let Some(stopper) = stopper {
                        tracing::info!(%job, "cancelled by its client");
                        stopper.cancel();
                    }
                }
            })
        };
        let wake = Arc::new(Notify::new());
        let mut wakers = Vec::new();
        let mut consumers = Vec::new();
        for variant in &info.variants {
            consumers.push(self.broker.consumer(*variant).await?);
            let mut woken = self
                .broker
                .client
                .subscribe(subjects::wake(*variant))
                .await
                .context("listening for submissions")?;
            let wake = Arc::clone(&wake);
            wakers.push(tokio::spawn(async move {
                while woken.next().await.is_some() {
                    wake.notify_one();
                }
            }));
        }
        tracing::info!(
            worker = %self.name,
            slots = self.slots,
            variants = ?info.variants,
            "taking jobs"
        );
        let slots = Arc::new(Semaphore::new(self.slots));
        loop {
            let permit = tokio::select! {
                () = stop.cancelled() => break,
                permit = Arc::clone(&slots).acquire_owned() => permit.expect("never closed"),
            };
            let message = tokio::select! {
                () = stop.cancelled() => break,
                message = next_submission(&consumers, &wake) => message,
            };
            let worker = Arc::clone(&self);
            let stop = stop.clone();
            tokio::spawn(async move {
                worker.run_one(message, stop).await;
                drop(permit);
            });
        }
        heartbeat.abort();
        listening.abort();
        for waker in wakers {
            waker.abort();
        }
        // No card published after the withdrawal; the variants only this worker served are
        // refused from now on, while their queued jobs wait for a worker.
        let _ = heartbeat.await;
        if let Err(e) = card.withdraw(&self.broker).await {
            tracing::warn!(error = format!("{e:#}"), "withdrawing the card");
        }
        // Let running jobs hand themselves back (each notices `stop`).
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            Arc::clone(&slots).acquire_many_owned(self.slots as u32),
        )
        .await;
        self.jobs.shutdown();
        Ok(())
    }

    /// Runs one submission to its end and acknowledges it.
    async fn run_one(&self, message: async_nats::jetstream::Message, stop: CancellationToken) {
        let submission = match Submission::from_bytes(&message.message.payload) {
            Ok(submission) => submission,
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    "dropping an unreadable submission"
                );
                let _ = message.ack_with(AckKind::Term).await;
                return;
            }
        };
        let job = submission.job;
        let attempt = message
            .info()
            .map_or(1, |info| u32::try_from(info.delivered).unwrap_or(1));
        let publisher = Publisher::new(&self.broker, job, attempt);
        let row = match self.store.jobs.start(job, &self.name).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                tracing::warn!(%job, "a submission without a job row: dropped");
                let _ = message.ack_with(AckKind::Term).await;
                return;
            }
            Err(e) => {
                // The database is away: the job waits for another try.
                tracing::warn!(%job, error = format!("{e:#}"), "cannot start a job");
                let _ = message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                    .await;
                return;
            }
        };
        if matches!(
            row.state,
            JobState::Done | JobState::Failed | JobState::Cancelled
        ) {
            // Finished before a worker stopped short of its ack: its output is out.
            let _ = message.double_ack().await;
            return;
        }
        if row.cancel_requested {
            publisher.send(&Outgoing::Message(ServerMsg::Error {
                code: ErrorCode::Cancelled,
                message: "cancelled while waiting".into(),
                job: Some(job),
            }));
            let _ = publisher.flush().await;
            let _ = self
                .store
                .jobs
                .finish(job, JobState::Cancelled, Some("cancelled while waiting"))
                .await;
            let _ = message.double_ack().await;
            return;
        }
        if attempt > 1 {
            tracing::info!(%job, attempt, "running a job again after its worker stopped");
            publisher.send(&Outgoing::Message(ServerMsg::Restarted { job, attempt }));
        }
        let kind = submission.kind();
        let mut handle = match self
            .jobs
            .submit_assigned(job, kind, submission.settings, submission.image)
            .await
        {
            Ok(handle) => handle,
            Err(refusal) => {
                publisher.send(&Outgoing::Message(ServerMsg::Error {
                    code: refusal.code,
                    message: refusal.message.clone(),
                    job: Some(job),
                }));
                let _ = publisher.flush().await;
                let _ = self
                    .store
                    .jobs
                    .finish(job, JobState::Failed, Some(&refusal.message))
                    .await;
                let _ = message.double_ack().await;
                return;
            }
        };
        if let Ok(mut running) = self.running.lock() {
            running.insert(job, handle.stopper());
        }
        let mut progress = tokio::time::interval(self.broker.options.ack_wait / 3);
        progress.tick().await;
        let mut last = None;
        let handed_back = loop {
            tokio::select! {
                () = stop.cancelled() => break true,
                _ = progress.tick() => {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
                update = handle.updates.recv() => {
                    let Some(update) = update else { break false };
                    let ends = update.ends_job();
                    publisher.send(&update);
                    if ends {
                        last = Some(update);
                        break false;
                    }
                }
            }
        };
        if let Ok(mut running) = self.running.lock() {
            running.remove(&job);
        }
        if handed_back {
            // This worker is stopping: another takes the job now, from the start.
            let _ = message.ack_with(AckKind::Nak(None)).await;
            handle.cancel();
            return;
        }
        if let Err(e) = publisher.flush().await {
            // Followers may have missed the end: the job runs again elsewhere.
            tracing::warn!(%job, error = format!("{e:#}"), "publishing a job's output");
            let _ = message.ack_with(AckKind::Nak(None)).await;
            return;
        }
        let ended = match &last {
            Some(Outgoing::Message(ServerMsg::Done { .. })) => None,
            Some(Outgoing::Message(ServerMsg::Described { .. })) => Some((JobState::Done, None)),
            Some(Outgoing::Message(ServerMsg::Error { code, message, .. })) => {
                let state = if *code == ErrorCode::Cancelled {
                    JobState::Cancelled
                } else {
                    JobState::Failed
                };
                Some((state, Some(message.clone())))
            }
            _ => Some((
                JobState::Failed,
                Some("the job ended without a word".to_owned()),
            )),
        };
        if let Some((state, error)) = ended
            && let Err(e) = self.store.jobs.finish(job, state, error.as_deref()).await
        {
            tracing::warn!(%job, error = format!("{e:#}"), "recording how a job ended");
        }
        let _ = message.double_ack().await;
    }
}

/// The next submission any of `consumers` holds, waiting for one.
async fn next_submission(
    consumers: &[PullConsumer],
    wake: &Notify,
) -> async_nats::jetstream::Message {
    loop {
        for consumer in consumers {
            let batch = consumer.fetch().max_messages(1).messages().await;
            let Ok(mut batch) = batch else { continue };
            if let Some(Ok(message)) = batch.next().await {
                return message;
            }
        }
        let _ = tokio::time::timeout(IDLE_POLL, wake.notified()).await;
    }
}

/// Publishes one job's output in order from a task of its own, then waits for the broker to
/// have stored all of it.
struct Publisher {
    attempt: u32,
    sends: tokio::sync::mpsc::UnboundedSender<(async_nats::HeaderMap, bytes::Bytes)>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Publisher {
    fn new(broker: &Broker, job: JobId, attempt: u32) -> Self {
        let (sends, mut queue) = tokio::sync::mpsc::unbounded_channel();
        let (broker, subject) = (broker.clone(), subjects::out(job));
        let task = tokio::spawn(async move {
            let mut acks = Vec::new();
            while let Some((headers, body)) = queue.recv().await {
                let ack = broker
                    .jetstream
                    .publish_with_headers(subject.clone(), headers, body)
                    .await
                    .context("publishing a job's output")?;
                acks.push(ack);
            }
            for ack in acks {
                ack.await.context("the broker storing a job's output")?;
            }
            Ok(())
        });
        Self {
            attempt,
            sends,
            task,
        }
    }

    /// Queues one output for publishing, in order.
    fn send(&self, output: &Outgoing) {
        let _ = self.sends.send(envelope::encode(output, self.attempt));
    }

    /// Waits until everything sent is stored by the broker.
    async fn flush(self) -> anyhow::Result<()> {
        drop(self.sends);
        self.task.await.context("the publishing task")?
    }
}
