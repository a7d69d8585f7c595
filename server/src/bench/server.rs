//! `ekphrasis bench server`: the product's own path from a request to music — the job runtime
//! with its queue, worker, driver, audio framing and track recording — timed per variant: time
//! to the first audio frame and to `done` (the track stored). It runs the models `serve` would
//! (`--models DIR`, the Hugging Face cache, or `--demo` for the tiny set) in a temporary data
//! folder. (`bench chain` measures the full-size models with random weights.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use ekphrasis_shared::domain::Variant;
use ekphrasis_shared::{GenerateRequest, ImageId, ImageRef, ServerMsg};
use image::{Rgb, RgbImage};
use sha2::{Digest, Sha256};

use crate::config::ServeArgs;
use crate::gallery::Gallery;
use crate::jobs::{JobKind, Jobs, Outgoing};
use crate::metrics::Metrics;
use crate::state::start_jobs;
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
        tokio::task::spawn_blocking(move || {
            start_jobs(&config, store, Arc::new(Gallery::default()), Metrics::new())
        })
        .await??
    };
    let info = jobs.info().clone();
    println!(
        "The job runtime ({} models, {:?}{}): loaded and warm in {:.1} s; {} s pieces, {} runs \
         a variant",
        if info.demo { "tiny demo" } else { "configured" },
        config.device,
        config
            .quantize
            .map_or(String::new(), |q| format!(", {q:?}")),
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
        "| variant | time to first audio (median, range) | whole piece, stored | real-time factor |"
    );
    println!("|---|---|---|---|");
    for variant in variants {
        let mut first = Vec::new();
        let mut whole = Vec::new();
        for run in 0..args.runs {
            let (f, w) = piece(&jobs, &painting, variant, args.seconds, run).await?;
            first.push(f);
            whole.push(w);
        }
        let whole_median = median(&mut whole);
        println!(
            "| {variant} | {:.2} s ({:.2}–{:.2}) | {:.2} s | {:.2} |",
            median(&mut first).as_secs_f64(),
            first[0].as_secs_f64(),
            first[first.len() - 1].as_secs_f64(),
            whole_median.as_secs_f64(),
            whole_median.as_secs_f64() / f64::from(args.seconds),
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

/// One piece: the time to its first audio frame and to `done`.
async fn piece(
    jobs: &Jobs,
    image: &ImageId,
    variant: Variant,
    seconds: f32,
    seed: u64,
) -> anyhow::Result<(Duration, Duration)> {
    let mut request = GenerateRequest::new(ImageRef::Upload(image.clone()));
    request.variant = Some(variant);
    request.seconds = Some(seconds);
    request.seed = Some(seed);
    let settings = request.resolve(|| seed)?;
    let started = Instant::now();
    let mut job = jobs.submit(JobKind::Generate, settings).await?;
    let mut first_audio = None;
    while let Some(update) = job.updates.recv().await {
        match update {
            Outgoing::Audio(_) if first_audio.is_none() => first_audio = Some(started.elapsed()),
            Outgoing::Message(ServerMsg::Done { .. }) => {
                let whole = started.elapsed();
                return Ok((first_audio.unwrap_or(whole), whole));
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
