//! The web node's job runtime: a request becomes a row in the shared database and a submission
//! on the broker's work queue; the job's messages and frames come back through the broker's
//! output stream, from whichever worker runs it, so any web node can follow any job and a
//! reconnecting client resumes from its last frame. A session whose client goes away leaves its
//! job detached for the grace; the web node holding it answers on the job's follow subject, so
//! that a `resume` on any web node takes it over (or is refused while another session follows
//! it), and cancels it when the grace runs out with nobody back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::consumer;
use async_nats::jetstream::message::PublishMessage;
use async_trait::async_trait;
use ekphrasis_shared::domain::Variant;
use ekphrasis_shared::{ErrorCode, ImageId, ImageRef, JobId, ServerMsg, Settings};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::broker::Broker;
use super::envelope::{self, Submission};
use super::roster::Roster;
use super::subjects;
use crate::gallery::Gallery;
use crate::jobs::{JobBackend, JobHandle, JobKind, Outgoing, Refusal, RuntimeInfo, StopJob};
use crate::metrics::{Metrics, Outcome};
use crate::store::{JobKind as StoredKind, JobRow, JobState, RequestKey, Store, unix_now};

/// The JetStream error a full work queue answers a publish with.
const STREAM_FULL: u64 = 10077;
/// How often a waiting job's place is looked up.
const POSITION_EVERY: Duration = Duration::from_secs(1);
/// How long a `resume` waits for the web node holding the job to answer.
const CLAIM_WAIT: Duration = Duration::from_secs(2);

/// Jobs through the broker, cheaply cloned.
#[derive(Clone)]
pub struct ClusterJobs {
    inner: Arc<Inner>,
}

struct Inner {
    broker: Broker,
    store: Store,
    gallery: Arc<Gallery>,
    roster: Roster,
    metrics: Metrics,
    closed: AtomicBool,
    stop: CancellationToken,
    /// The web node's own shutdown: its sessions' jobs are left running for the clients to
    /// follow from another web node.
    leaving: CancellationToken,
    /// How long a detached job waits for its client, and a finished one may still be resumed.
    grace: Duration,
    /// How long a job waits while no live worker serves its variant before it is withdrawn
    /// (`None`: however long it takes).
    unserved_wait: Option<Duration>,
}

impl ClusterJobs {
    /// A web node's runtime over a connected broker and the shared store. When `leaving` is
    /// cancelled (the node shuts down), the jobs its sessions follow are not cancelled. A job
    /// whose client went away waits `grace` for it; one no live worker serves, `unserved_wait`.
    pub async fn start(
        broker: Broker,
        store: Store,
        gallery: Arc<Gallery>,
        metrics: Metrics,
        leaving: CancellationToken,
        grace: Duration,
        unserved_wait: Option<Duration>,
    ) -> Self {
        let stop = CancellationToken::new();
        let roster = Roster::watch(broker.clone(), stop.clone()).await;
        tokio::spawn(give_up_poison_jobs(
            broker.clone(),
            store.clone(),
            stop.clone(),
        ));
        Self {
            inner: Arc::new(Inner {
                broker,
                store,
                gallery,
                roster,
                metrics,
                closed: AtomicBool::new(false),
                stop,
                leaving,
                grace,
                unserved_wait,
            }),
        }
    }

    /// The broker, for health answers.
    pub fn broker(&self) -> &Broker {
        &self.inner.broker
    }

    /// The live workers.
    pub fn roster(&self) -> &Roster {
        &self.inner.roster
    }

    /// Publishes a submission (a retry of the same job is dropped by the broker's duplicate
    /// window: one job runs). The queue's sequence number of the job.
    pub async fn publish(broker: &Broker, submission: &Submission) -> Result<u64, Refusal> {
        let subject = subjects::submission(submission.settings.variant);
        let publish = PublishMessage::build()
            .payload(submission.to_bytes())
            .message_id(submission.job.0.to_string());
        let sent = broker
            .jetstream
            .send_publish(subject, publish)
            .await
            .map_err(|e| broker_failed(broker, &e))?;
        match sent.await {
            Ok(ack) => Ok(ack.sequence),
            Err(e) if is_stream_full(&e) => Err(Refusal::new(
                ErrorCode::QueueFull,
                "the cluster is busy: its queue is full; try again in a minute",
            )),
            Err(e) => Err(broker_failed(broker, &e)),
        }
    }

    /// The stored image a request names.
    async fn painting(&self, image: &ImageRef) -> Result<ImageId, Refusal> {
        let id = match image {
            ImageRef::Upload(id) => id.clone(),
            ImageRef::Gallery(item) => match self.inner.gallery.get(item) {
                Some(entry) => entry.image.clone(),
                None => {
                    return Err(Refusal::new(
                        ErrorCode::ImageNotFound,
                        format!("this server has no gallery item `{item}`"),
                    ));
                }
            },
        };
        match self.inner.store.images.meta(&id).await {
            Ok(Some(_)) => Ok(id),
            Ok(None) => Err(Refusal::new(
                ErrorCode::ImageNotFound,
                "that image is not on this server: upload it again",
            )),
            Err(e) => Err(database_failed(&e)),
        }
    }

    /// Starts relaying `job`'s output to a new handle.
    async fn follow(
        &self,
        job: JobId,
        variant: Variant,
        from_frame: u32,
        position: u32,
    ) -> Result<(JobHandle, Arc<ClusterStop>), Refusal> {
        let output = self.output(job).await?;
        let (to_session, updates) = mpsc::unbounded_channel();
        let stopper = Arc::new(ClusterStop {
            job,
            inner: Arc::clone(&self.inner),
            stopped: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            queue_seq: AtomicU64::new(0),
            hold: Mutex::new(Hold::Followed),
            let_go: CancellationToken::new(),
        });
        tokio::spawn(answer_claims(Arc::clone(&stopper)));
        let relay = Relay {
            job,
            variant,
            unserved_since: None,
            from_frame,
            position,
            stopper: Arc::clone(&stopper),
            to_session,
        };
        tokio::spawn(relay.run(output));
        let handle = JobHandle::new(job, position, updates, Arc::clone(&stopper) as _);
        Ok((handle, stopper))
    }

    /// A reader of `job`'s output from its first message.
    async fn output(&self, job: JobId) -> Result<consumer::pull::Ordered, Refusal> {
        let broker = &self.inner.broker;
        let read = async {
            let stream = broker
                .jetstream
                .get_stream(subjects::OUT_STREAM)
                .await
                .context("the jobs' output stream")?;
            let consumer = stream
                .create_consumer(consumer::pull::OrderedConfig {
                    filter_subject: subjects::out(job),
                    deliver_policy: consumer::DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .context("following a job")?;
            consumer.messages().await.context("following a job")
        };
        read.await
            .map_err(|e: anyhow::Error| broker_failed(broker, &e))
    }

    /// Asks whether another session holds `job`: a web node following it refuses, one holding
    /// it detached lets it go, one that gave it up says so; nobody answers for a job no web
    /// node holds (its node went away, or it was never followed).
    async fn claim(&self, job: JobId) -> Result<(), Refusal> {
        let request = async_nats::Request::new()
            .payload(bytes::Bytes::new())
            .timeout(Some(CLAIM_WAIT));
        let client = &self.inner.broker.client;
        match client.send_request(subjects::follow(job), request).await {
            Ok(answer) if answer.payload.as_ref() == subjects::FOLLOWED => Err(Refusal::new(
                ErrorCode::Busy,
                format!("piece {job} is followed by another connection"),
            )),
            Ok(answer) if answer.payload.as_ref() == subjects::GIVEN_UP => {
                Err(given_up(job, self.inner.grace))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == async_nats::client::RequestErrorKind::NoResponders => Ok(()),
            Err(e) => {
                // A node that cannot answer cannot hold the job back either.
                tracing::warn!(%job, error = %e, "asking who follows a job");
                Ok(())
            }
        }
    }
}

#[async_trait]
impl JobBackend for ClusterJobs {
    fn info(&self) -> RuntimeInfo {
        self.inner.roster.info()
    }

    async fn submit(&self, kind: JobKind, settings: Settings) -> Result<JobHandle, Refusal> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(Refusal::new(
                ErrorCode::Internal,
                "the server is shutting down; try again soon",
            ));
        }
        let info = self.inner.roster.info();
        if !info.variants.contains(&settings.variant) {
            let message = if info.variants.is_empty() {
                "no worker is running: the cluster cannot make music until one starts".to_owned()
            } else if settings.variant == Variant::Optimized {
                "no running worker serves the optimized variant: it needs a worker with a \
                 fine-tuned MusicGen (`ekphrasis worker --optimized-musicgen DIR`); choose another \
                 variant"
                    .to_owned()
            } else {
                format!(
                    "no running worker serves the {} variant",
                    settings.variant.as_str()
                )
            };
            return Err(Refusal::new(ErrorCode::ModelsUnavailable, message));
        }
        let image = self.painting(&settings.image).await?;
        let job = JobId((rand::random::<u64>() >> 11).max(1));
        let stored_kind = match kind {
            JobKind::Generate => StoredKind::Generate,
            JobKind::Describe => StoredKind::Describe,
        };
        let row = JobRow::queued(
            job,
            RequestKey::new(&image, &settings, &info.revisions),
            stored_kind,
            settings.clone(),
            image.clone(),
        );
        let store = &self.inner.store;
        store
            .jobs
            .insert(&row)
            .await
            .map_err(|e| database_failed(&e))?;
        // Following starts before the submission, so no message of it can be missed.
        let (mut handle, stop) = self.follow(job, settings.variant, 0, 1).await?;
        let submission = Submission {
            job,
            describe: kind == JobKind::Describe,
            settings,
            image,
        };
        let seq = match Self::publish(&self.inner.broker, &submission).await {
            Ok(seq) => seq,
            Err(refusal) => {
                stop.ended.store(true, Ordering::SeqCst);
                let _ = store
                    .jobs
                    .finish(job, JobState::Failed, Some(&refusal.message))
                    .await;
                if refusal.code == ErrorCode::QueueFull {
                    self.inner.metrics.count(Outcome::QueueFull);
                }
                return Err(refusal);
            }
        };
        let _ = self
            .inner
            .broker
            .client
            .publish(subjects::wake(submission.settings.variant), "".into())
            .await;
        stop.queue_seq.store(seq, Ordering::SeqCst);
        if let Err(e) = store.jobs.set_queue_seq(job, seq).await {
            tracing::warn!(%job, error = format!("{e:#}"), "recording a job's queue place");
        }
        // A worker may have taken it already.
        let taken = matches!(
            store.jobs.get(job).await,
            Ok(Some(row)) if row.state != JobState::Queued
        );
        let position = match store.jobs.queued_ahead(seq).await {
            _ if taken => 0,
            Ok(ahead) => u32::try_from(ahead + 1).unwrap_or(u32::MAX),
            Err(_) => 1,
        };
        handle.position = position;
        Ok(handle)
    }

    async fn resume(&self, job: JobId, from_frame: u32) -> Result<JobHandle, Refusal> {
        let row = match self.inner.store.jobs.get(job).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                return Err(Refusal::new(
                    ErrorCode::NotFound,
                    format!("this cluster has no piece {job}"),
                ));
            }
            Err(e) => return Err(database_failed(&e)),
        };
        let grace = self.inner.grace;
        let ended_ago = unix_now().saturating_sub(row.updated_at);
        if row.state.is_finished() && ended_ago > grace.as_secs() as i64 {
            return Err(Refusal::new(
                ErrorCode::NotFound,
                format!(
                    "piece {job} ended more than {} s ago: it can no longer be followed",
                    grace.as_secs()
                ),
            ));
        }
        self.claim(job).await?;
        let position = match row.state {
            JobState::Queued => 1,
            _ => 0,
        };
        let (handle, stop) = self
            .follow(job, row.settings.variant, from_frame, position)
            .await?;
        if let Some(seq) = row.queue_seq {
            stop.queue_seq.store(seq, Ordering::SeqCst);
        }
        Ok(handle)
    }

    fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.stop.cancel();
    }
}

/// How a web node stops a cluster job: the database's cancel flag, the queued submission
/// deleted if it still waits, and a cancel message the running worker hears within a step.
/// It also holds the job for its session (see [`Hold`]).
struct ClusterStop {
    job: JobId,
    inner: Arc<Inner>,
    stopped: AtomicBool,
    /// The job's last message went by: nothing to stop.
    ended: AtomicBool,
    queue_seq: AtomicU64,
    hold: Mutex<Hold>,
    /// Cancelled when this node holds the job no more: answering on its follow subject ends.
    let_go: CancellationToken,
}

/// How this web node holds a job for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// A session follows it here.
    Followed,
    /// Its client went away; the grace runs.
    Detached,
    /// A `resume` elsewhere took it over.
    Released,
    /// Nobody came back within the grace: it was cancelled.
    GivenUp,
}

impl ClusterStop {
    fn hold(&self) -> MutexGuard<'_, Hold> {
        self.hold.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer to a web node asking who holds the job; a detached job is let go to it.
    fn answer(&self) -> &'static [u8] {
        let mut hold = self.hold();
        match *hold {
            Hold::Followed => subjects::FOLLOWED,
            Hold::GivenUp => subjects::GIVEN_UP,
            Hold::Detached | Hold::Released => {
                *hold = Hold::Released;
                self.let_go.cancel();
                subjects::RELEASED
            }
        }
    }

    /// Whether the grace ran out with the job still detached: it is given up.
    fn give_up(&self) -> bool {
        let mut hold = self.hold();
        if *hold != Hold::Detached {
            return false;
        }
        *hold = Hold::GivenUp;
        true
    }
}

impl StopJob for ClusterStop {
    fn cancel(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) || self.inner.leaving.is_cancelled() {
            return;
        }
        let (job, inner) = (self.job, Arc::clone(&self.inner));
        let seq = self.queue_seq.load(Ordering::SeqCst);
        tokio::spawn(async move {
            if let Err(e) = cancel(job, seq, &inner).await {
                tracing::warn!(%job, error = format!("{e:#}"), "cancelling a cluster job");
            }
        });
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst) || self.ended.load(Ordering::SeqCst)
    }

    fn detach(self: Arc<Self>) {
        if self.inner.leaving.is_cancelled() {
            // This node goes away: its jobs go on for their clients to follow elsewhere.
            self.let_go.cancel();
            return;
        }
        *self.hold() = Hold::Detached;
        tracing::info!(job = %self.job, "its client went away: it goes on for a while");
        tokio::spawn(async move {
            let grace = self.inner.grace;
            tokio::select! {
                () = self.let_go.cancelled() => return,
                () = tokio::time::sleep(grace) => {}
            }
            let finished = matches!(
                self.inner.store.jobs.get(self.job).await,
                Ok(Some(row)) if row.state.is_finished()
            );
            if finished {
                // Its output stays in the broker; a resume follows it there.
                self.let_go.cancel();
                return;
            }
            if !self.give_up() {
                return;
            }
            tracing::info!(job = %self.job, "nobody came back for it: cancelled");
            self.cancel();
            // Say so to a client that comes back late, until the job's row (whole seconds)
            // shows it ended more than a grace ago.
            tokio::time::sleep(grace + Duration::from_secs(2)).await;
            self.let_go.cancel();
        });
    }
}

/// Answers on `stop`'s job's follow subject while this node holds the job.
async fn answer_claims(stop: Arc<ClusterStop>) {
    let client = &stop.inner.broker.client;
    let mut asks = match client.subscribe(subjects::follow(stop.job)).await {
        Ok(asks) => asks,
        Err(e) => {
            tracing::warn!(job = %stop.job, error = %e, "answering for a followed job");
            return;
        }
    };
    loop {
        let ask = tokio::select! {
            () = stop.let_go.cancelled() => return,
            ask = asks.next() => match ask {
                Some(ask) => ask,
                None => return,
            },
        };
        let Some(reply) = ask.reply else { continue };
        let answer = stop.answer();
        if let Err(e) = client.publish(reply, answer.into()).await {
            tracing::warn!(job = %stop.job, error = %e, "answering for a followed job");
        }
        if answer == subjects::RELEASED {
            return;
        }
    }
}

/// The refusal of a job given up when nobody came back for it.
fn given_up(job: JobId, grace: Duration) -> Refusal {
    Refusal::new(
        ErrorCode::NotFound,
        format!(
            "piece {job} was cancelled: nobody came back for it within {} s",
            grace.as_secs()
        ),
    )
}

async fn cancel(job: JobId, seq: u64, inner: &Inner) -> anyhow::Result<()> {
    inner.store.jobs.request_cancel(job).await?;
    let broker = &inner.broker;
    broker
        .client
        .publish(subjects::cancel(job), "".into())
        .await
        .context("sending the cancel")?;
    if seq == 0 {
        return Ok(());
    }
    // Still waiting: out of the queue, and its followers told here.
    let deleted = broker
        .jobs_stream()
        .await?
        .delete_message(seq)
        .await
        .unwrap_or(false);
    if deleted {
        inner
            .store
            .jobs
            .finish(job, JobState::Cancelled, Some("cancelled while waiting"))
            .await?;
        let message = Outgoing::Message(ServerMsg::Error {
            code: ErrorCode::Cancelled,
            message: "cancelled while waiting".into(),
            job: Some(job),
        });
        let (headers, body) = envelope::encode(&message, 1);
        broker
            .jetstream
            .publish_with_headers(subjects::out(job), headers, body)
            .await?
            .await?;
        inner.metrics.count(Outcome::Cancelled);
    }
    Ok(())
}

/// Forwards one job's output from the broker to a session.
struct Relay {
    job: JobId,
    variant: Variant,
    /// Since when no live worker has served the job's variant.
    unserved_since: Option<tokio::time::Instant>,
    from_frame: u32,
    position: u32,
    stopper: Arc<ClusterStop>,
    to_session: mpsc::UnboundedSender<Outgoing>,
}

impl Relay {
    async fn run(mut self, mut output: consumer::pull::Ordered) {
        let mut started = self.position == 0;
        let mut places = tokio::time::interval(POSITION_EVERY);
        loop {
            let message = tokio::select! {
                () = self.to_session.closed() => return self.session_gone(),
                _ = places.tick() => {
                    if !started {
                        self.tell_place().await;
                    }
                    if self.unserved_too_long() {
                        return self.withdraw();
                    }
                    continue;
                }
                message = output.next() => message,
            };
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    tracing::warn!(job = %self.job, error = %e, "following a job's output");
                    continue;
                }
                None => {
                    self.end(
                        ErrorCode::Internal,
                        "the broker stopped sending this piece; try again".into(),
                    );
                    return;
                }
            };
            let (update, _attempt) = match envelope::decode(
                message.message.headers.as_ref(),
                &message.message.payload,
            ) {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(job = %self.job, error = format!("{e:#}"), "skipped");
                    continue;
                }
            };
            match &update {
                Outgoing::Message(ServerMsg::Queued { position: 0, .. }) => started = true,
                // Frames count from 0 again: the client needs them all.
                Outgoing::Message(ServerMsg::Restarted { .. }) => self.from_frame = 0,
                Outgoing::Audio(frame) if frame.seq < self.from_frame => continue,
                _ => {}
            }
            let ends = update.ends_job();
            if ends {
                self.stopper.ended.store(true, Ordering::SeqCst);
                self.stopper.let_go.cancel();
            }
            if self.to_session.send(update).is_err() {
                return self.session_gone();
            }
            if ends {
                return;
            }
        }
    }

    /// The session let go of the job: detached, the job stays held here for its grace;
    /// otherwise this node holds it no more.
    fn session_gone(&self) {
        if *self.stopper.hold() != Hold::Detached {
            self.stopper.let_go.cancel();
        }
    }

    /// Sends the job's place in the queue when it changed.
    async fn tell_place(&mut self) {
        let seq = self.stopper.queue_seq.load(Ordering::SeqCst);
        if seq == 0 {
            return;
        }
        let jobs = &self.stopper.inner.store.jobs;
        let Ok(Some(row)) = jobs.get(self.job).await else {
            return;
        };
        if row.state != JobState::Queued {
            return;
        }
        let Ok(ahead) = jobs.queued_ahead(seq).await else {
            return;
        };
        let position = u32::try_from(ahead + 1).unwrap_or(u32::MAX);
        if position != self.position {
            self.position = position;
            let _ = self.to_session.send(Outgoing::Message(ServerMsg::Queued {
                job: self.job,
                position,
            }));
        }
    }

    /// Whether no live worker has served the job's variant for the node's `unserved_wait`
    /// (its last worker stopped, or died and its card lapsed): the job would wait forever.
    fn unserved_too_long(&mut self) -> bool {
        let Some(limit) = self.stopper.inner.unserved_wait else {
            return false;
        };
        if self
            .stopper
            .inner
            .roster
            .info()
            .variants
            .contains(&self.variant)
        {
            self.unserved_since = None;
            return false;
        }
        let since = *self
            .unserved_since
            .get_or_insert_with(tokio::time::Instant::now);
        since.elapsed() >= limit
    }

    /// Takes the job out of the cluster (as a cancel does) and tells the session why.
    fn withdraw(&self) {
        let limit = self.stopper.inner.unserved_wait.unwrap_or_default();
        tracing::warn!(job = %self.job, variant = %self.variant, "no worker serves it: withdrawn");
        self.stopper.cancel();
        self.end(
            ErrorCode::ModelsUnavailable,
            format!(
                "no running worker has served the {} variant for {} s, so this piece was \
                 withdrawn; try again later or choose another variant",
                self.variant.as_str(),
                limit.as_secs()
            ),
        );
    }

    /// Ends the job for its session with an error.
    fn end(&self, code: ErrorCode, message: String) {
        self.stopper.ended.store(true, Ordering::SeqCst);
        self.stopper.let_go.cancel();
        let _ = self.to_session.send(Outgoing::Message(ServerMsg::Error {
            code,
            message,
            job: Some(self.job),
        }));
    }
}

/// Ends the jobs the broker stopped delivering after their last allowed run (every worker that
/// took them stopped): their followers are told, their rows failed, their submissions deleted.
/// Every web node hears the broker's advisory; the one whose row update wins tells.
async fn give_up_poison_jobs(broker: Broker, store: Store, stop: CancellationToken) {
    let subject = format!(
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.*",
        subjects::JOBS_STREAM
    );
    let mut advisories = match broker.client.subscribe(subject).await {
        Ok(advisories) => advisories,
        Err(e) => {
            tracing::warn!(error = %e, "listening for jobs given up");
            return;
        }
    };
    loop {
        let advisory = tokio::select! {
            () = stop.cancelled() => return,
            advisory = advisories.next() => match advisory {
                Some(advisory) => advisory,
                None => return,
            },
        };
        if let Err(e) = give_up(&broker, &store, &advisory.payload).await {
            tracing::warn!(error = format!("{e:#}"), "giving up a job");
        }
    }
}

async fn give_up(broker: &Broker, store: &Store, advisory: &[u8]) -> anyhow::Result<()> {
    #[derive(serde::Deserialize)]
    struct MaxDeliveries {
        stream_seq: u64,
        deliveries: u64,
    }
    let advisory: MaxDeliveries =
        serde_json::from_slice(advisory).context("an unreadable advisory")?;
    let stream = broker.jobs_stream().await?;
    let message = stream
        .get_raw_message(advisory.stream_seq)
        .await
        .context("the submission given up")?;
    let submission = Submission::from_bytes(&message.payload)?;
    let job = submission.job;
    let reason = format!(
        "this piece stopped its worker {} times; it is not tried again",
        advisory.deliveries
    );
    if store
        .jobs
        .finish(job, JobState::Failed, Some(&reason))
        .await?
    {
        tracing::error!(%job, deliveries = advisory.deliveries, "a job given up");
        let message = Outgoing::Message(ServerMsg::Error {
            code: ErrorCode::Internal,
            message: reason,
            job: Some(job),
        });
        let (headers, body) = envelope::encode(&message, 0);
        broker
            .jetstream
            .publish_with_headers(subjects::out(job), headers, body)
            .await?
            .await?;
    }
    let _ = stream.delete_message(advisory.stream_seq).await;
    Ok(())
}

fn is_stream_full(error: &async_nats::jetstream::context::PublishError) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<async_nats::jetstream::Error>())
        .is_some_and(|e| e.error_code().0 == STREAM_FULL)
}

fn broker_failed(broker: &Broker, error: &dyn std::fmt::Display) -> Refusal {
    tracing::error!(broker = broker.url(), error = %error, "the broker failed");
    Refusal::new(
        ErrorCode::Internal,
        "the job broker is unreachable; try again soon",
    )
}

fn database_failed(error: &anyhow::Error) -> Refusal {
    tracing::error!(error = format!("{error:#}"), "the database failed");
    Refusal::new(
        ErrorCode::Internal,
        "the database is unreachable; try again soon",
    )
}
