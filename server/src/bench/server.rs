//! `ekphrasis bench server`: the product's own path from a request to music — the job runtime
//! with its queue, worker, driver, audio framing and track recording — timed per variant: time
//! to the first audio frame and to `done` (the track stored), and whether the frames arrive
//! ahead of playback: a 32 kHz playback clock starts at the first frame, and a frame that
//! arrives after the clock reached its first sample is an underrun. It runs the models `serve`
//! would (`--models DIR`, the Hugging Face cache, `--demo` for the tiny set) or, with
//! `--full-size`, the published sizes with random weights, in a temporary data folder.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use ekphrasis_shared::domain::Variant;
use ekphrasis_shared::{GenerateRequest, ImageId, ImageRef, ServerMsg};
use image::{Rgb, RgbImage};
use sha2::{Digest, Sha256};

use super::full_size::FullSizeRandom;
use crate::config::ServeArgs;
use crate::gallery::Gallery;
use crate::jobs::setup::{runtime_options, start_jobs};
use crate::jobs::{JobKind, Jobs, Outgoing};
use crate::metrics::Metrics;
use crate::store::{self, ImageMeta};

/// Flags of `ekphrasis bench server`.
#[derive(Debug, Args)]
pub struct BenchServerArgs {
    /// Seconds of music a piece.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f32,
    /// Pieces a variant (different seeds); the median is printed with the range.
    #[arg(long, default_value_t = 3)]
    pub runs: u64,
    /// The published model sizes with random weights (no download) instead of checkpoints.
    #[arg(long)]
    pub full_size: bool,
    /// One variant instead of every variant these models run.
    #[arg(long, value_parser = crate::commands::common::values::parse_variant)]
    pub variant: Option<Variant>,
    /// The models, device and quantization, as for `serve` (`--data` is ignored: a temporary
    /// folder is used).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Runs the benchmark.
pub fn run(args: BenchServerArgs) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(bench(args))
}

async fn bench(args: BenchServerArgs) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let mut config = args.serve.resolve()?;
    config.data = data.path().to_path_buf();
    let store = store::open(&config.data, None)?;
    let loading = Instant::now();
    let jobs = {
        let store = store.clone();
        let config = config.clone();
        let full_size = args.full_size.then(|| FullSizeRandom {
            variants: args.variant.map_or(Variant::ALL.to_vec(), |v| vec![v]),
        });
        tokio::task::spawn_blocking(move || {
            let (gallery, metrics) = (Arc::new(Gallery::default()), Metrics::new());
            match full_size {
                Some(models) => {
                    let options = runtime_options(&config);
                    Jobs::start(Arc::new(models), false, &options, store, gallery, metrics)
                }
                None => start_jobs(&config, store, gallery, metrics),
            }
        })
        .await??
    };
    let info = jobs.info().clone();
    println!(
        "The job runtime ({} models, {:?}, quantized: {}): loaded and warm in {:.1} s; {} s \
         pieces, {} runs a variant",
        match (info.demo, args.full_size) {
            (true, _) => "tiny demo",
            (false, true) => "full-size random",
            (false, false) => "configured",
        },
        config.device,
        info.revisions
            .get("quantization")
            .map_or("nothing", String::as_str),
        loading.elapsed().as_secs_f64(),
        args.seconds,
        args.runs
    );

    let painting = painting(&store).await?;
    let variants = match args.variant {
        Some(v) => vec![v],
        None => info.variants.clone(),
    };
    println!();
    println!(
        "| variant | time to first audio (median, range) | whole piece, stored | real-time factor \
         | underruns (frames late, all runs) | latest frame behind playback |"
    );
    println!("|---|---|---|---|---|---|");
    for variant in variants {
        let mut first = Vec::new();
        let mut whole = Vec::new();
        let mut playback = Playback::default();
        for run in 0..args.runs {
            let timing = piece(
                &jobs,
                &painting,
                variant,
                args.seconds,
                run,
                info.sample_rate,
            )
            .await?;
            first.push(timing.first_audio);
            whole.push(timing.whole);
            playback.add(&timing.playback);
        }
        let whole_median = median(&mut whole);
        println!(
            "| {variant} | {:.2} s ({:.2}–{:.2}) | {:.2} s | {:.2} | {} of {} | {:.2} s |",
            median(&mut first).as_secs_f64(),
            first[0].as_secs_f64(),
            first[first.len() - 1].as_secs_f64(),
            whole_median.as_secs_f64(),
            whole_median.as_secs_f64() / f64::from(args.seconds),
            playback.late_frames,
            playback.frames,
            playback.worst_lateness.as_secs_f64(),
        );
    }
    println!(
        "\npeak memory (RSS): {:.2} GiB",
        super::peak_rss_gib().unwrap_or(f64::NAN)
    );
    jobs.shutdown();
    Ok(())
}

/// A 640×480 test painting, stored like an upload.
async fn painting(store: &store::Store) -> anyhow::Result<ImageId> {
    let image = RgbImage::from_fn(640, 480, |x, y| {
        Rgb([(x / 3) as u8, (y / 2) as u8, ((x + y) / 5) as u8])
    });
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    let id = ImageId::parse(&hex::encode(Sha256::digest(&png))).expect("sha256 hex");
    let meta = ImageMeta {
        width: 640,
        height: 480,
        mime: "image/png".into(),
    };
    store.images.put(&id, Bytes::from(png), &meta).await?;
    Ok(id)
}

/// How one piece arrived.
struct Timing {
    first_audio: Duration,
    whole: Duration,
    playback: Playback,
}

/// Frames against a playback clock that starts with the first frame.
#[derive(Debug, Default, Clone, PartialEq)]
struct Playback {
    frames: u64,
    /// Frames that arrived after playback reached their first sample.
    late_frames: u64,
    /// The most any frame arrived after its first sample was due.
    worst_lateness: Duration,
}

impl Playback {
    /// Counts a frame whose first sample is due `due` after the first frame arrived, and which
    /// arrived `arrived` after it.
    fn frame(&mut self, due: Duration, arrived: Duration) {
        self.frames += 1;
        if arrived > due {
            self.late_frames += 1;
            self.worst_lateness = self.worst_lateness.max(arrived - due);
        }
    }

    fn add(&mut self, other: &Playback) {
        self.frames += other.frames;
        self.late_frames += other.late_frames;
        self.worst_lateness = self.worst_lateness.max(other.worst_lateness);
    }
}

/// One piece: the time to its first audio frame and to `done`, and its frames against playback.
async fn piece(
    jobs: &Jobs,
    image: &ImageId,
    variant: Variant,
    seconds: f32,
    seed: u64,
    sample_rate: u32,
) -> anyhow::Result<Timing> {
    let mut request = GenerateRequest::new(ImageRef::Upload(image.clone()));
    request.variant = Some(variant);
    request.seconds = Some(seconds);
    request.seed = Some(seed);
    let settings = request.resolve(|| seed)?;
    let started = Instant::now();
    let mut job = jobs.submit(JobKind::Generate, settings).await?;
    let mut first_audio: Option<Instant> = None;
    let mut playback = Playback::default();
    while let Some(update) = job.updates.recv().await {
        match update {
            Outgoing::Audio(frame) => {
                let now = Instant::now();
                let clock = *first_audio.get_or_insert(now);
                let due =
                    Duration::from_secs_f64(frame.first_sample as f64 / f64::from(sample_rate));
                playback.frame(due, now - clock);
            }
            Outgoing::Message(ServerMsg::Done { .. }) => {
                let whole = started.elapsed();
                return Ok(Timing {
                    first_audio: first_audio.map_or(whole, |at| at - started),
                    whole,
                    playback,
                });
            }
            Outgoing::Message(ServerMsg::Error { message, .. }) => anyhow::bail!(message),
            _ => {}
        }
    }
    anyhow::bail!("the job ended without a track")
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_late_when_playback_reached_it_first() {
        let mut playback = Playback::default();
        playback.frame(Duration::ZERO, Duration::ZERO);
        playback.frame(Duration::from_millis(500), Duration::from_millis(300));
        playback.frame(Duration::from_millis(1000), Duration::from_millis(1250));
        playback.frame(Duration::from_millis(1500), Duration::from_millis(1600));
        assert_eq!(playback.frames, 4);
        assert_eq!(playback.late_frames, 2);
        assert_eq!(playback.worst_lateness, Duration::from_millis(250));
    }
}
