//! One job's driver, an async task: it turns the worker's reports into protocol messages and
//! audio frames for the job's output (and so its follower, if any), keeps the samples of a
//! `generate` job, stops the job at the time limit, and, when the music is complete, records the
//! track before it sends `done`. A session that goes away cancels the job through its handle,
//! or detaches it; the driver goes on either way.

use std::collections::HashMap;
use std::sync::Arc;

use ekphrasis_shared::api::ClapAlignment;
use ekphrasis_shared::domain::{Stage, StageResult, StageState};
use ekphrasis_shared::protocol::SampleEncoding;
use ekphrasis_shared::{AudioFrame, ErrorCode, ImageId, JobId, ServerMsg, Settings};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::control::{JobControl, StopReason};
use super::output::JobOutput;
use super::worker::{JobKind, WorkerUpdate};
use super::{Outgoing, Shared};
use crate::metrics::Outcome;
use crate::store::{NewTrack, RequestKey, TrackTexts};

/// Most samples in one audio frame (about a quarter of a second at 32 kHz).
pub const MAX_FRAME_SAMPLES: usize = 8192;

pub(super) struct Driver {
    pub id: JobId,
    pub kind: JobKind,
    pub settings: Settings,
    pub image: ImageId,
    pub request_key: RequestKey,
    /// Whether the job has a row in the shared database's `jobs` (a cluster's), marked done
    /// in the transaction that records its track.
    pub commit_job: bool,
    pub control: Arc<JobControl>,
    pub from_worker: UnboundedReceiver<WorkerUpdate>,
    pub output: Arc<JobOutput>,
    pub shared: Arc<Shared>,
}

/// What the job has produced so far.
#[derive(Default)]
struct Progress {
    started: Option<Instant>,
    stage_started: HashMap<Stage, Instant>,
    results: Vec<StageResult>,
    music_text: Option<String>,
    clap: Option<ClapAlignment>,
    sample_rate: Option<u32>,
    pcm: Vec<i16>,
    frames: Audio,
}

impl Driver {
    pub async fn run(mut self) {
        let mut progress = Progress::default();
        let mut deadline: Option<Instant> = None;
        let outcome = loop {
            let update = tokio::select! {
                update = self.from_worker.recv() => update,
                () = sleep_until(deadline) => {
                    self.control.stop(StopReason::TimedOut);
                    deadline = None;
                    continue;
                }
            };
            let Some(update) = update else {
                // The worker let go without a last word: the queue closed at shutdown.
                self.error(
                    ErrorCode::Internal,
                    "the server is shutting down; try again soon",
                );
                break Outcome::Failed;
            };
            match update {
                WorkerUpdate::Position(0) => {
                    let now = Instant::now();
                    progress.started = Some(now);
                    deadline = Some(now + self.shared.job_timeout);
                    self.shared.metrics.job_started();
                    self.shared
                        .metrics
                        .set_queue_length(self.shared.queue.len());
                    self.send(ServerMsg::Queued {
                        job: self.id,
                        position: 0,
                    });
                }
                WorkerUpdate::Position(position) => self.send(ServerMsg::Queued {
                    job: self.id,
                    position,
                }),
                WorkerUpdate::Started(stage) => {
                    progress.stage_started.insert(stage, Instant::now());
                    self.send(stage_message(self.id, stage, StageState::Started, None));
                }
                WorkerUpdate::Finished(result) => {
                    let stage = stage_of(&result);
                    if let Some(began) = progress.stage_started.get(&stage) {
                        self.shared.metrics.stage_took(stage, began.elapsed());
                    }
                    self.send(stage_message(
                        self.id,
                        stage,
                        StageState::Done,
                        Some(result.clone()),
                    ));
                    progress.results.push(result);
                }
                WorkerUpdate::Composing(text) => progress.music_text = Some(text),
                WorkerUpdate::Audio { sample_rate, pcm } => {
                    if progress.sample_rate.is_none() {
                        progress.sample_rate = Some(sample_rate);
                        if let Some(started) = progress.started {
                            self.shared.metrics.first_audio_after(started.elapsed());
                        }
                        self.send(ServerMsg::AudioFormat {
                            job: self.id,
                            sample_rate,
                            channels: 1,
                            encoding: SampleEncoding::S16le,
                        });
                    }
                    for frame in progress.frames.frames(&pcm) {
                        self.output.send(Outgoing::Audio(frame));
                    }
                    if self.kind == JobKind::Generate {
                        progress.pcm.extend_from_slice(&pcm);
                    }
                }
                WorkerUpdate::Aligned(alignment) => {
                    self.shared
                        .metrics
                        .aligned(self.settings.variant, &alignment);
                    progress.clap = Some(alignment);
                }
                WorkerUpdate::Completed => break self.complete(&mut progress).await,
                WorkerUpdate::Failed { code, message } => {
                    let (code, message, outcome) = match (code, self.control.reason()) {
                        (ErrorCode::Cancelled, Some(StopReason::TimedOut)) => (
                            ErrorCode::TimedOut,
                            format!(
                                "the piece took longer than this server allows ({} s); try a \
                                 shorter piece",
                                self.shared.job_timeout.as_secs()
                            ),
                            Outcome::TimedOut,
                        ),
                        (ErrorCode::Cancelled, _) => (code, message, Outcome::Cancelled),
                        _ => (code, message, Outcome::Failed),
                    };
                    self.error(code, message);
                    break outcome;
                }
            }
        };
        if let Some(started) = progress.started {
            self.shared.metrics.job_ended(started.elapsed());
            if outcome == Outcome::Done {
                self.shared
                    .durations
                    .record(started.elapsed().as_secs_f64());
            }
        }
        self.shared.metrics.count(outcome);
        tracing::info!(job = %self.id, ?outcome, "job ended");
    }

    /// The worker finished every stage: describe jobs say so; generate jobs are recorded first.
    async fn complete(&self, progress: &mut Progress) -> Outcome {
        if let Some(began) = progress.stage_started.get(&Stage::Compose) {
            self.shared
                .metrics
                .stage_took(Stage::Compose, began.elapsed());
        }
        if self.kind == JobKind::Describe {
            self.send(ServerMsg::Described { job: self.id });
            return Outcome::Described;
        }
        self.send(stage_message(
            self.id,
            Stage::Compose,
            StageState::Done,
            None,
        ));
        let Some(texts) = texts(&progress.results, progress.music_text.take()) else {
            self.error(
                ErrorCode::Internal,
                "the chain ended without an emotion or music text",
            );
            return Outcome::Failed;
        };
        let info = &self.shared.info;
        // The track names the MusicGen that composed it among the revisions.
        let mut model_revisions = info.revisions.clone();
        if let Some(role) = info.composers.get(&self.settings.variant) {
            model_revisions.insert("composer".into(), role.clone());
        }
        let track = NewTrack {
            request_key: self.request_key.clone(),
            image: self.image.clone(),
            settings: self.settings.clone(),
            texts,
            model_revisions,
            demo: info.demo,
            clap: progress.clap,
            sample_rate: progress.sample_rate.unwrap_or(info.sample_rate),
            pcm: std::mem::take(&mut progress.pcm),
        };
        let job_row = self.commit_job.then_some(self.id);
        match self
            .shared
            .store
            .tracks
            .record_for_job(track, job_row)
            .await
        {
            Ok(record) => {
                self.send(ServerMsg::Done {
                    job: self.id,
                    share_path: format!("/t/{}", record.id),
                    seconds: record.seconds(),
                    track: record.id,
                    reused: false,
                });
                Outcome::Done
            }
            Err(e) => {
                tracing::error!(job = %self.id, error = format!("{e:#}"), "recording a track failed");
                if crate::store::is_disk_full(&e) {
                    self.error(
                        ErrorCode::InsufficientStorage,
                        "the music was made but the server's disk is full; try again later",
                    );
                } else {
                    self.error(
                        ErrorCode::Internal,
                        "the music was made but could not be stored; try again",
                    );
                }
                Outcome::Failed
            }
        }
    }

    fn send(&self, message: ServerMsg) {
        self.output.send(Outgoing::Message(message));
    }

    fn error(&self, code: ErrorCode, message: impl Into<String>) {
        self.send(ServerMsg::Error {
            code,
            message: message.into(),
            job: Some(self.id),
        });
    }
}

/// Numbers audio frames: sequence numbers and each frame's first sample.
#[derive(Debug, Default)]
pub struct Audio {
    seq: u32,
    next_sample: u64,
}

impl Audio {
    /// `pcm` as frames of at most [`MAX_FRAME_SAMPLES`] samples.
    pub fn frames(&mut self, pcm: &[i16]) -> Vec<AudioFrame> {
        pcm.chunks(MAX_FRAME_SAMPLES)
            .map(|chunk| {
                let frame = AudioFrame {
                    seq: self.seq,
                    first_sample: self.next_sample,
                    samples: chunk.to_vec(),
                };
                self.seq = self.seq.wrapping_add(1);
                self.next_sample += chunk.len() as u64;
                frame
            })
            .collect()
    }
}

pub(super) fn stage_message(
    job: JobId,
    stage: Stage,
    state: StageState,
    result: Option<StageResult>,
) -> ServerMsg {
    ServerMsg::Stage {
        job,
        stage,
        state,
        result,
    }
}

fn stage_of(result: &StageResult) -> Stage {
    match result {
        StageResult::Emotion { .. } => Stage::Emotion,
        StageResult::Caption { .. } => Stage::Caption,
        StageResult::Description { .. } => Stage::Enhance,
    }
}

/// The stored texts from the stage results.
fn texts(results: &[StageResult], music_text: Option<String>) -> Option<TrackTexts> {
    let (mut emotion, mut caption, mut description) = (None, None, None);
    for result in results {
        match result {
            StageResult::Emotion {
                label,
                probabilities,
                labeller,
            } => emotion = Some((*label, *probabilities, labeller.clone())),
            StageResult::Caption { text } => caption = Some(text.clone()),
            StageResult::Description { text, fallback } => {
                description = Some((text.clone(), *fallback));
            }
        }
    }
    let (emotion, probabilities, labeller) = emotion?;
    Some(TrackTexts {
        emotion,
        probabilities,
        labeller,
        caption,
        description_fallback: description.as_ref().is_some_and(|(_, f)| *f),
        description: description.map(|(text, _)| text),
        music_text: music_text?,
    })
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_numbered_and_split() {
        let mut audio = Audio::default();
        let pcm = vec![1i16; MAX_FRAME_SAMPLES + 10];
        let frames = audio.frames(&pcm);
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0].seq, frames[0].first_sample), (0, 0));
        assert_eq!(frames[0].samples.len(), MAX_FRAME_SAMPLES);
        assert_eq!(
            (frames[1].seq, frames[1].first_sample),
            (1, MAX_FRAME_SAMPLES as u64)
        );
        let next = audio.frames(&[5, 6]);
        assert_eq!(
            (next[0].seq, next[0].first_sample),
            (2, MAX_FRAME_SAMPLES as u64 + 10)
        );
        assert!(audio.frames(&[]).is_empty());
    }
}
