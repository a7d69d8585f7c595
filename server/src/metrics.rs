//! Prometheus metrics, served as text at `/metrics`: the queue, jobs by outcome, how long each
//! stage takes, the time from request to the first audio, open connections and WebSockets,
//! connections refused at the cap, and how closely each new track's music matches its words
//! (CLAP, when the server has a CLAP model).

use std::sync::Arc;
use std::time::Duration;

use ekphrasis_shared::api::ClapAlignment;
use ekphrasis_shared::domain::{Stage, Variant};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a job ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Reused,
    Described,
    Cancelled,
    TimedOut,
    Failed,
    /// Refused at the door: the queue was full.
    QueueFull,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Reused => "reused",
            Outcome::Described => "described",
            Outcome::Cancelled => "cancelled",
            Outcome::TimedOut => "timed_out",
            Outcome::Failed => "failed",
            Outcome::QueueFull => "queue_full",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlignmentLabels {
    variant: &'static str,
    /// `emotion` ("{emotion} song") or `music_text`.
    text: &'static str,
}

/// Every metric, cheaply cloned.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    queue_length: Gauge,
    jobs_running: Gauge,
    jobs: Family<OutcomeLabels, Counter>,
    stage_seconds: Family<StageLabels, Histogram, fn() -> Histogram>,
    first_audio_seconds: Histogram,
    job_seconds: Histogram,
    websockets: Gauge,
    connections: Gauge,
    connections_refused: Counter,
    clap_alignment: Family<AlignmentLabels, Histogram, fn() -> Histogram>,
}

fn cosine_buckets() -> Histogram {
    // CLAP cosines of music and text lie mostly between −0.2 and 0.6.
    Histogram::new((0..=16).map(|i| -0.2 + 0.05 * f64::from(i)))
}

fn seconds_buckets() -> Histogram {
    // 50 ms to about 7 minutes.
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ekphrasis");
        let queue_length = Gauge::default();
        registry.register(
            "queue_length",
            "Jobs waiting for a worker",
            queue_length.clone(),
        );
        let jobs_running = Gauge::default();
        registry.register(
            "jobs_running",
            "Jobs a worker is running",
            jobs_running.clone(),
        );
        let jobs = Family::<OutcomeLabels, Counter>::default();
        registry.register("jobs", "Jobs finished, by outcome", jobs.clone());
        let stage_seconds: Family<StageLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(seconds_buckets);
        registry.register(
            "stage_duration_seconds",
            "How long each stage of the chain took",
            stage_seconds.clone(),
        );
        let first_audio_seconds = seconds_buckets();
        registry.register(
            "time_to_first_audio_seconds",
            "From a job's start on a worker to its first audio chunk",
            first_audio_seconds.clone(),
        );
        let job_seconds = seconds_buckets();
        registry.register(
            "job_duration_seconds",
            "From a job's start on a worker to its end",
            job_seconds.clone(),
        );
        let websockets = Gauge::default();
        registry.register(
            "websockets",
            "Open WebSocket connections",
            websockets.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Open connections (WebSockets included)",
            connections.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections answered 503 because as many as max_connections were open",
            connections_refused.clone(),
        );
        let clap_alignment: Family<AlignmentLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(cosine_buckets);
        registry.register(
            "clap_alignment",
            "CLAP cosine of each new track's music with \"{emotion} song\" and with its music text",
            clap_alignment.clone(),
        );
        Self {
            registry: Arc::new(registry),
            queue_length,
            jobs_running,
            jobs,
            stage_seconds,
            first_audio_seconds,
            job_seconds,
            websockets,
            connections,
            connections_refused,
            clap_alignment,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    pub fn set_queue_length(&self, waiting: usize) {
        self.queue_length.set(waiting as i64);
    }

    pub fn job_started(&self) {
        self.jobs_running.inc();
    }

    /// A job that had started on a worker ended after `ran`.
    pub fn job_ended(&self, ran: Duration) {
        self.jobs_running.dec();
        self.job_seconds.observe(ran.as_secs_f64());
    }

    pub fn count(&self, outcome: Outcome) {
        self.jobs
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub fn stage_took(&self, stage: Stage, took: Duration) {
        let stage = match stage {
            Stage::Emotion => "emotion",
            Stage::Caption => "caption",
            Stage::Enhance => "enhance",
            Stage::Compose => "compose",
        };
        self.stage_seconds
            .get_or_create(&StageLabels { stage })
            .observe(took.as_secs_f64());
    }

    pub fn first_audio_after(&self, took: Duration) {
        self.first_audio_seconds.observe(took.as_secs_f64());
    }

    /// A new track's CLAP alignment.
    pub fn aligned(&self, variant: Variant, alignment: &ClapAlignment) {
        for (text, value) in [
            ("emotion", alignment.emotion),
            ("music_text", alignment.music_text),
        ] {
            self.clap_alignment
                .get_or_create(&AlignmentLabels {
                    variant: variant.as_str(),
                    text,
                })
                .observe(f64::from(value));
        }
    }

    /// Counts an open WebSocket until the guard is dropped.
    pub fn websocket_opened(&self) -> OpenGuard {
        OpenGuard::new(&self.websockets)
    }

    /// Counts an open connection until the guard is dropped.
    pub fn connection_opened(&self) -> OpenGuard {
        OpenGuard::new(&self.connections)
    }

    /// A connection was turned away at the cap.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }
}

/// Keeps something open counted while it lives.
pub struct OpenGuard(Gauge);

impl OpenGuard {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.set_queue_length(3);
        metrics.count(Outcome::Done);
        metrics.count(Outcome::QueueFull);
        metrics.stage_took(Stage::Caption, Duration::from_millis(300));
        metrics.aligned(
            Variant::Lyrical,
            &ClapAlignment {
                emotion: 0.3,
                music_text: 0.1,
            },
        );
        let guard = metrics.websocket_opened();
        let text = metrics.render();
        assert!(text.contains("ekphrasis_queue_length 3"), "{text}");
        assert!(
            text.contains(r#"ekphrasis_jobs_total{outcome="done"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"ekphrasis_stage_duration_seconds_count{stage="caption"} 1"#),
            "{text}"
        );
        assert!(text.contains("ekphrasis_websockets 1"), "{text}");
        assert!(
            text.contains(r#"ekphrasis_jobs_total{outcome="queue_full"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"ekphrasis_clap_alignment_count{variant="lyrical",text="music_text"} 1"#
            ),
            "{text}"
        );
        drop(guard);
        assert!(metrics.render().contains("ekphrasis_websockets 0"));
    }
}
