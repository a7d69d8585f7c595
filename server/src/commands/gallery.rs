//! `ekphrasis gallery render`: makes and stores a track for every gallery painting with the
//! models the server runs (same settings, same data folder), so that picking a painting plays at
//! once. It goes through the server's own job runtime, so the tracks are exactly what a visitor's
//! request would have made and stored.

use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Subcommand};
use ekphrasis_shared::domain::{StageResult, Variant};
use ekphrasis_shared::ids::GalleryId;
use ekphrasis_shared::{GenerateRequest, ImageRef, ServerMsg};

use super::common::values::parse_variant;
use crate::config::ServeArgs;
use crate::jobs::setup::start_jobs;
use crate::jobs::{JobKind, Jobs, Outgoing};
use crate::metrics::Metrics;
use crate::state::open_gallery;
use crate::store::{self, Store};

/// `ekphrasis gallery …`
#[derive(Debug, Subcommand)]
pub enum GalleryCommand {
    /// Make and store a track for every painting of the gallery.
    Render(RenderArgs),
}

/// Flags of `ekphrasis gallery render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// emotive, narrative, lyrical or optimized.
    #[arg(long, default_value = "lyrical", value_parser = parse_variant)]
    pub variant: Variant,
    /// Seconds of music for each painting.
    #[arg(long, default_value_t = 15.0)]
    pub seconds: f32,
    /// Seed of every sampler (the same seed renders the same tracks).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Render again paintings that already have a track for these models.
    #[arg(long)]
    pub force: bool,
    /// The server's settings: the same data folder, models and gallery as `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Runs `ekphrasis gallery …`.
pub fn run(command: GalleryCommand) -> anyhow::Result<()> {
    match command {
        GalleryCommand::Render(args) => tokio::runtime::Runtime::new()?.block_on(render(args)),
    }
}

async fn render(args: RenderArgs) -> anyhow::Result<()> {
    let RenderArgs {
        variant,
        seconds,
        seed,
        force,
        serve,
    } = args;
    let config = serve.resolve()?;
    let store = store::open(&config.data, config.store.as_deref())?;
    let gallery = Arc::new(open_gallery(&config, &store).await?);
    if gallery.entries().is_empty() {
        anyhow::bail!("no paintings in the gallery {}", config.gallery.display());
    }
    let jobs = {
        let (store, gallery) = (store.clone(), Arc::clone(&gallery));
        tokio::task::spawn_blocking(move || start_jobs(&config, store, gallery, Metrics::new()))
            .await??
    };
    let done = store.tracks.gallery_tracks(&jobs.info().revisions).await?;
    let mut failed = Vec::new();
    for entry in gallery.entries() {
        if let Some(track) = done.get(entry.id.as_str()).filter(|_| !force) {
            println!("{}: already rendered, /t/{track}", entry.id);
            continue;
        }
        let started = Instant::now();
        match render_one(&jobs, &store, &entry.id, (variant, seconds, seed)).await {
            Ok(line) => println!(
                "{}: {line} ({:.1} s)",
                entry.id,
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                println!("{}: failed: {e:#}", entry.id);
                failed.push(entry.id.to_string());
            }
        }
    }
    jobs.shutdown();
    if !failed.is_empty() {
        anyhow::bail!("could not render: {}", failed.join(", "));
    }
    Ok(())
}

/// Renders one painting through the job runtime; a line saying what was made.
async fn render_one(
    jobs: &Jobs,
    store: &Store,
    item: &GalleryId,
    (variant, seconds, seed): (Variant, f32, u64),
) -> anyhow::Result<String> {
    let mut request = GenerateRequest::new(ImageRef::Gallery(item.clone()));
    request.variant = Some(variant);
    request.seconds = Some(seconds);
    request.seed = Some(seed);
    let settings = request.resolve(|| seed)?;
    let mut job = jobs.submit(JobKind::Generate, settings).await?;
    let mut emotion = None;
    while let Some(update) = job.updates.recv().await {
        match update {
            Outgoing::Message(ServerMsg::Stage {
                result: Some(StageResult::Emotion { label, .. }),
                ..
            }) => emotion = Some(label),
            Outgoing::Message(ServerMsg::Done { track, seconds, .. }) => {
                store
                    .tracks
                    .set_gallery_track(item, &jobs.info().revisions, &track)
                    .await?;
                let mood = emotion.map_or("?", |e| e.as_str());
                return Ok(format!("{mood}, {seconds:.1} s of music, /t/{track}"));
            }
            Outgoing::Message(ServerMsg::Error { message, .. }) => anyhow::bail!(message),
            _ => {}
        }
    }
    anyhow::bail!("the job ended without a track")
}
