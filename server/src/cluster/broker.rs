//! The broker: a NATS connection with JetStream, and the streams and consumers every cluster
//! process relies on, created or brought up to date at start (any process may come first).

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, consumer, stream};
use ekphrasis_shared::domain::Variant;

use super::subjects;

/// How the broker's streams and consumers are set up.
#[derive(Debug, Clone, Copy)]
pub struct BrokerOptions {
    /// Submissions that may wait; one more is refused (`queue_full`).
    pub queue_capacity: usize,
    /// How long a worker may go silent on a job before it is handed to another.
    pub ack_wait: Duration,
    /// Deliveries of one job before it is given up as poison.
    pub max_deliver: i64,
    /// How long a job's messages and frames are kept for followers and reconnecting clients.
    pub output_kept: Duration,
}

impl BrokerOptions {
    /// Deliveries of one job: its first run and two restarts.
    pub const MAX_DELIVER: i64 = 3;
    /// A job's output is kept 15 minutes (longer than the longest job's default limit).
    pub const OUTPUT_KEPT: Duration = Duration::from_secs(15 * 60);
}

/// A connected broker, cheaply cloned.
#[derive(Clone)]
pub struct Broker {
    pub client: async_nats::Client,
    pub jetstream: jetstream::Context,
    pub options: BrokerOptions,
    url: String,
}

impl Broker {
    /// Connects to `url` and makes sure the streams exist as `options` say.
    pub async fn connect(url: &str, name: &str, options: BrokerOptions) -> anyhow::Result<Self> {
        let shown = super::redact(url);
        let (reconnected, mut reconnects) = tokio::sync::mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .event_callback(move |event| {
                let reconnected = reconnected.clone();
                async move {
                    if matches!(event, async_nats::Event::Connected) {
                        let _ = reconnected.send(());
                    }
                }
            })
            .connect(url)
            .await
            .with_context(|| format!("cannot reach the broker at {shown}"))?;
        let jetstream = jetstream::new(client.clone());
        let broker = Self {
            client,
            jetstream,
            options,
            url: shown,
        };
        broker
            .ensure_streams()
            .await
            .with_context(|| format!("setting up the streams on {}", broker.url))?;
        // A broker that restarted without its streams (or lost them) gets them back.
        let again = broker.clone();
        tokio::spawn(async move {
            while reconnects.recv().await.is_some() {
                match again.ensure_streams().await {
                    Ok(()) => tracing::info!(broker = again.url(), "reconnected to the broker"),
                    Err(e) => tracing::warn!(
                        broker = again.url(),
                        error = format!("{e:#}"),
                        "setting up the streams after a reconnect"
                    ),
                }
            }
        });
        Ok(broker)
    }

    /// The broker's address, without a password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the connection is up now.
    pub fn health(&self) -> Result<(), String> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            state => Err(format!("the broker at {} is {state:?}", self.url)),
        }
    }

    async fn ensure_streams(&self) -> anyhow::Result<()> {
        let js = &self.jetstream;
        // The queue's capacity is the cluster's, set by whichever process set up last: say so
        // when this one changes what another set.
        if let Ok(mut jobs) = js.get_stream(subjects::JOBS_STREAM).await
            && let Ok(info) = jobs.info().await
        {
            let wanted = self.options.queue_capacity.max(1) as i64;
            if info.config.max_messages != wanted {
                tracing::warn!(
                    was = info.config.max_messages,
                    now = wanted,
                    "this process changes the cluster's queue capacity (--queue-capacity): give \
                     every web node and worker the same"
                );
            }
        }
        js.create_or_update_stream(stream::Config {
            name: subjects::JOBS_STREAM.into(),
            subjects: vec![subjects::JOBS_ALL.into()],
            retention: stream::RetentionPolicy::WorkQueue,
            max_messages: self.options.queue_capacity.max(1) as i64,
            discard: stream::DiscardPolicy::New,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .context("the submissions' stream")?;
        js.create_or_update_stream(stream::Config {
            name: subjects::OUT_STREAM.into(),
            subjects: vec![subjects::OUT_ALL.into()],
            // On disk (written back lazily, not synced per message) rather than in memory: a
            // memory stream is gone after a broker restart, and its followers, who resume by
            // stream sequence, would wait forever on the new one.
            storage: stream::StorageType::File,
            max_age: self.options.output_kept,
            ..Default::default()
        })
        .await
        .context("the jobs' output stream")?;
        js.create_or_update_stream(stream::Config {
            name: subjects::WORKERS_STREAM.into(),
            subjects: vec![subjects::WORKERS_ALL.into()],
            storage: stream::StorageType::File,
            max_messages_per_subject: 1,
            max_age: super::roster::CARD_KEPT,
            ..Default::default()
        })
        .await
        .context("the workers' stream")?;
        Ok(())
    }

    /// The durable consumer the workers serving `variant` share.
    pub async fn consumer(&self, variant: Variant) -> anyhow::Result<consumer::PullConsumer> {
        let name = subjects::consumer(variant);
        let stream = self
            .jetstream
            .get_stream(subjects::JOBS_STREAM)
            .await
            .context("the submissions' stream")?;
        if let Ok(info) = stream.consumer_info(&name).await
            && info.config.ack_wait != self.options.ack_wait
        {
            tracing::warn!(
                consumer = %name,
                was_s = info.config.ack_wait.as_secs(),
                now_s = self.options.ack_wait.as_secs(),
                "this worker changes how long a silent job is kept (--ack-wait-secs): give every \
                 worker the same"
            );
        }
        stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: subjects::submission(variant),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: self.options.ack_wait,
                max_deliver: self.options.max_deliver,
                ..Default::default()
            })
            .await
            .with_context(|| format!("the consumer {name}"))
    }

    /// The submissions' stream (for deleting a queued job).
    pub async fn jobs_stream(&self) -> anyhow::Result<stream::Stream> {
        self.jetstream
            .get_stream(subjects::JOBS_STREAM)
            .await
            .context("the submissions' stream")
    }
}
