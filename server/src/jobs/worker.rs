//! A worker thread: it loads and warms its own copy of the models, then runs one job at a time
//! from the queue, reporting each stage and each PCM chunk the moment the pipeline produces it,
//! and, when it has a CLAP model, how closely each finished piece matches its words.
//! Model compute never runs on the async runtime; a panic inside a job fails that job only.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use ekphrasis_models::error::Error as ModelError;
use ekphrasis_models::eval::clap::Clap;
use ekphrasis_models::eval::metrics::clap_score;
use ekphrasis_models::falcon_rw::FalconRw;
use ekphrasis_models::musicgen::{MusicGen, Sampling};
use ekphrasis_models::pipeline::{self, Event, Models, Pipeline, needs};
use ekphrasis_shared::api::ClapAlignment;
use ekphrasis_shared::domain::{Stage, StageResult, Variant};
use ekphrasis_shared::frame::f32_to_s16;
use ekphrasis_shared::{ErrorCode, JobId, Settings};
use image::{DynamicImage, Rgb, RgbImage};
use tokio::sync::mpsc::UnboundedSender;

use super::control::JobControl;
use super::queue::{Queue, Waiting};
use crate::chain_request;
use crate::checkpoints::model_set::LoadOptions;
use crate::checkpoints::source::ModelSource;
use crate::evaluation::judges::clap_audio;
use crate::upload;

/// What a job asks the models for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Every stage, ending in music.
    Generate,
    /// The stages before composing only.
    Describe,
}

/// A job as a worker takes it.
pub struct WorkItem {
    pub id: JobId,
    pub kind: JobKind,
    pub settings: Settings,
    /// The painting's bytes, decoded on the worker.
    pub image: Bytes,
    pub control: Arc<JobControl>,
    pub updates: UnboundedSender<WorkerUpdate>,
}

impl Waiting for WorkItem {
    fn id(&self) -> JobId {
        self.id
    }

    fn moved(&self, position: u32) {
        let _ = self.updates.send(WorkerUpdate::Position(position));
    }
}

/// What a worker reports about a job, in order.
#[derive(Debug)]
pub enum WorkerUpdate {
    /// Its place in the queue (0: a worker has it).
    Position(u32),
    Started(Stage),
    Finished(StageResult),
    /// MusicGen starts on this text.
    Composing(String),
    /// The next mono samples at `sample_rate`.
    Audio {
        sample_rate: u32,
        pcm: Vec<i16>,
    },
    /// How closely the finished music matches its words (sent before `Completed`, when the
    /// worker has a CLAP model).
    Aligned(ClapAlignment),
    /// Every stage the job needed is done.
    Completed,
    /// The job stopped.
    Failed {
        code: ErrorCode,
        message: String,
    },
}

/// What a worker loaded, as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The composers' sample rate (0 without one).
    pub sample_rate: u32,
    /// The quantized models and their formats, as `falcon q8_0, musicgen q4k`; `None` when
    /// every model is as loaded.
    pub quantization: Option<String>,
}

impl Loaded {
    fn of(models: &Models, source: &dyn ModelSource) -> Self {
        let sample_rate = models
            .musicgen
            .as_ref()
            .or(models.tuned.first().map(|(_, m)| m))
            .map_or(0, |m| m.sample_rate());
        let mut parts = Vec::new();
        if let Some(q) = models.falcon.as_ref().and_then(FalconRw::quantization) {
            parts.push(format!("falcon {q}"));
        }
        if let Some(q) = models
            .musicgen
            .as_ref()
            .and_then(MusicGen::decoder_quantization)
        {
            parts.push(format!("musicgen {q}"));
        }
        for (variant, musicgen) in &models.tuned {
            if let (Some(q), Some(role)) = (
                musicgen.decoder_quantization(),
                source.composer_role(*variant),
            ) {
                parts.push(format!("{role} {q}"));
            }
        }
        Self {
            sample_rate,
            quantization: (!parts.is_empty()).then(|| parts.join(", ")),
        }
    }
}

/// Loads the models, warms them and serves the queue until it closes. The load's outcome goes
/// through `ready` before any job is taken.
pub fn run(
    index: usize,
    models: &dyn ModelSource,
    options: LoadOptions,
    max_pixels: u64,
    queue: Arc<Queue<WorkItem>>,
    ready: std::sync::mpsc::Sender<anyhow::Result<Loaded>>,
) {
    let started = Instant::now();
    let loaded = models.load(&options).and_then(|mut pipeline| {
        let judge = models.load_judge(&options)?;
        let loaded_after = started.elapsed();
        warm(&mut pipeline, &models.variants())?;
        tracing::info!(
            worker = index,
            load_s = loaded_after.as_secs_f64(),
            warm_s = (started.elapsed() - loaded_after).as_secs_f64(),
            clap = judge.is_some(),
            "models loaded and warm"
        );
        Ok((pipeline, judge))
    });
    let (mut pipeline, judge) = match loaded {
        Ok((pipeline, judge)) => {
            let _ = ready.send(Ok(Loaded::of(pipeline.models(), models)));
            (pipeline, judge)
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    while let Some(item) = queue.pop() {
        let (id, updates) = (item.id, item.updates.clone());
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            run_job(&mut pipeline, judge.as_ref(), item, max_pixels)
        }));
        if outcome.is_err() {
            tracing::error!(job = %id, "a job panicked; the worker goes on");
            let _ = updates.send(WorkerUpdate::Failed {
                code: ErrorCode::Internal,
                message: "the models failed on this painting; the server log has the details"
                    .into(),
            });
        }
    }
    tracing::debug!(worker = index, "worker stopped");
}

/// One pass through every model the served `variants` run, on a small image with a few tokens
/// and frames, so the first real job does not pay for first-use costs (allocations, kernel
/// loading on a GPU). A variant is run only when it warms something the ones before did not (a
/// stage or a composer).
fn warm(pipeline: &mut Pipeline, variants: &[Variant]) -> anyhow::Result<()> {
    let image = DynamicImage::ImageRgb8(RgbImage::from_fn(64, 48, |x, y| {
        Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    }));
    let cancel = AtomicBool::new(false);
    let request = |variant| {
        let mut request = chain_request::build(variant, 4, Sampling::Greedy, 3.0, 0, None);
        request.caption.max_new_tokens = Some(2);
        request.describe.max_new_tokens = 2;
        request
    };
    // Most stages first, so one run warms them all.
    let mut variants = variants.to_vec();
    variants.sort_by_key(|v| std::cmp::Reverse(needs(*v)));
    let (mut captioned, mut described) = (false, false);
    let mut composers = Vec::new();
    for variant in variants {
        let composer = pipeline.models().is_tuned(variant).then_some(variant);
        let (caption, description) = needs(variant);
        if composers.contains(&composer) && (captioned || !caption) && (described || !description) {
            continue;
        }
        pipeline.run(&image, &request(variant), &mut |_| {}, &cancel)?;
        composers.push(composer);
        captioned |= caption;
        described |= description;
    }
    // A chain with no composer still warms what it has.
    if composers.is_empty() && pipeline.models().blip.is_some() {
        pipeline.describe(&image, &request(Variant::Lyrical), &mut |_| {}, &cancel)?;
    }
    Ok(())
}

fn run_job(pipeline: &mut Pipeline, judge: Option<&Clap>, item: WorkItem, max_pixels: u64) {
    let send = |update| {
        let _ = item.updates.send(update);
    };
    if item.control.is_cancelled() {
        send(WorkerUpdate::Failed {
            code: ErrorCode::Cancelled,
            message: "cancelled before it started".into(),
        });
        return;
    }
    let image = match upload::inspect(&item.image, max_pixels) {
        Ok(inspected) => inspected.image,
        Err(e) => {
            send(WorkerUpdate::Failed {
                code: ErrorCode::UnprocessableImage,
                message: e.to_string(),
            });
            return;
        }
    };
    let request = chain_request::for_settings(&item.settings);
    let sample_rate = pipeline
        .models()
        .musicgen
        .as_ref()
        .map_or(32_000, |m| m.sample_rate());
    // The whole piece, for CLAP to judge once it is finished.
    let mut music: Vec<f32> = Vec::new();
    let keep_music = judge.is_some() && item.kind == JobKind::Generate;
    let mut on_event = |event: Event<'_>| match event {
        Event::Started(stage) => send(WorkerUpdate::Started(stage)),
        Event::Emotion(reading) => send(WorkerUpdate::Finished(StageResult::Emotion {
            label: reading.label,
            probabilities: reading.probabilities,
            labeller: reading.labeller_name().to_owned(),
        })),
        Event::Caption(caption) => send(WorkerUpdate::Finished(StageResult::Caption {
            text: caption.text.clone(),
        })),
        Event::Description(description) => send(WorkerUpdate::Finished(StageResult::Description {
            text: description.text.clone(),
            fallback: description.fallback,
        })),
        Event::Composing(text) => send(WorkerUpdate::Composing(text.to_owned())),
        Event::Audio(pcm) => {
            if keep_music {
                music.extend_from_slice(pcm);
            }
            send(WorkerUpdate::Audio {
                sample_rate,
                pcm: pcm.iter().copied().map(f32_to_s16).collect(),
            })
        }
    };
    let cancel = item.control.flag();
    let outcome = match item.kind {
        JobKind::Generate => pipeline
            .run(&image, &request, &mut on_event, cancel)
            .map(Some),
        JobKind::Describe => pipeline
            .describe(&image, &request, &mut on_event, cancel)
            .map(|_| None),
    };
    if let (Ok(Some(made)), Some(clap)) = (&outcome, judge) {
        match align(clap, &music, sample_rate, made) {
            Ok(alignment) => send(WorkerUpdate::Aligned(alignment)),
            // The music stands without its score.
            Err(e) => tracing::warn!(job = %item.id, error = format!("{e:#}"), "CLAP failed"),
        }
    }
    send(match outcome.map(|_| ()) {
        Ok(()) => WorkerUpdate::Completed,
        Err(error) => failure(item.id, error),
    });
}

/// How closely `music` matches "{emotion} song" and the text it was composed from.
fn align(
    clap: &Clap,
    music: &[f32],
    sample_rate: u32,
    made: &pipeline::Outcome,
) -> anyhow::Result<ClapAlignment> {
    let audio = clap_audio(clap, music, sample_rate)?;
    let emotion = clap.text_embedding(&format!("{} song", made.reading.label))?;
    let music_text = clap.text_embedding(&made.music_text)?;
    let cosine = |text: &[f32]| {
        clap_score::cosine(&audio, text)
            .map(|c| c as f32)
            .context("CLAP gave an empty embedding")
    };
    Ok(ClapAlignment {
        emotion: cosine(&emotion)?,
        music_text: cosine(&music_text)?,
    })
}

fn failure(job: JobId, error: ModelError) -> WorkerUpdate {
    let (code, message) = match error {
        ModelError::Cancelled => (ErrorCode::Cancelled, "cancelled".to_owned()),
        ModelError::Input(message) => (ErrorCode::InvalidRequest, message),
        other => {
            let error = anyhow::Error::from(other);
            tracing::error!(%job, error = format!("{error:#}"), "a job failed");
            (
                ErrorCode::Internal,
                "the models failed on this painting; the server log has the details".to_owned(),
            )
        }
    };
    WorkerUpdate::Failed { code, message }
}
