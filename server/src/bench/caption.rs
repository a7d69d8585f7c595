//! `ekphrasis bench caption`: BLIP-large's captioning speed with random full-size weights built
//! from the published config (no download): preprocessing, the vision encoder, decoder tokens per
//! second and seconds per caption, and peak memory. Figures, not pass/fail.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::Args;
use ekphrasis_models::blip::{BeamSettings, Blip, CaptionOptions, Config, Decoding};
use ekphrasis_models::device::{DeviceChoice, compute_dtype, kind_name};
use image::{DynamicImage, RgbImage};

use super::peak_rss_gib;

/// `[DEC] a happy painting of` in the real tokenizer (the random model has none).
const PROMPT_IDS: [u32; 5] = [30522, 1037, 3407, 4169, 1997];

/// Flags of `ekphrasis bench caption`.
#[derive(Debug, Args)]
pub struct BenchCaptionArgs {
    /// New tokens per caption (the random model rarely ends early; the count made is printed).
    #[arg(long, default_value_t = 20)]
    pub tokens: usize,
    /// Beam search with this many beams instead of greedy decoding.
    #[arg(long)]
    pub num_beams: Option<usize>,
    /// Captions to time (the first one also warms up).
    #[arg(long, default_value_t = 2)]
    pub runs: usize,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
}

/// One timed caption.
struct Run {
    preprocess: Duration,
    vision: Duration,
    decode: Duration,
    tokens: usize,
}

impl Run {
    fn total(&self) -> Duration {
        self.preprocess + self.vision + self.decode
    }
}

/// A 640×480 picture with some structure, as a painting upload would be.
fn test_image() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([
            (x * 255 / 639) as u8,
            (y * 255 / 479) as u8,
            ((x ^ y) & 0xff) as u8,
        ])
    }))
}

/// Runs the benchmark.
pub fn run(args: BenchCaptionArgs) -> anyhow::Result<()> {
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let dtype = compute_dtype(&device);
    let decoding = match args.num_beams {
        Some(beams) => Decoding::Beam(BeamSettings::new(beams)),
        None => Decoding::Greedy,
    };
    let options = CaptionOptions {
        decoding,
        max_new_tokens: Some(args.tokens),
    };
    let started = Instant::now();
    let mut blip = Blip::random(Config::blip_large(), 0, &device, dtype)?;
    let build = started.elapsed();
    let image = test_image();
    let cancel = AtomicBool::new(false);

    let decoding_name = match args.num_beams {
        Some(beams) => format!("beam search, {beams} beams"),
        None => "greedy".into(),
    };
    println!(
        "BLIP-large, random weights from the published config, {}, {dtype:?}, {decoding_name}",
        kind_name(&device)
    );
    println!(
        "  {:<36}{:>10.1} s",
        "building weights",
        build.as_secs_f64()
    );
    let mut runs = Vec::new();
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        let pixels = blip.pixel_values(&image)?;
        let preprocess = started.elapsed();
        let started = Instant::now();
        let embeds = blip.image_embeds(&pixels)?;
        device.synchronize()?;
        let vision = started.elapsed();
        let started = Instant::now();
        let ids = blip.generate(&embeds, &PROMPT_IDS, &options, &cancel)?;
        let decode = started.elapsed();
        runs.push(Run {
            preprocess,
            vision,
            decode,
            tokens: ids.len(),
        });
    }
    let best = runs
        .iter()
        .min_by_key(|r| r.total())
        .expect("at least one run");
    let seconds = |d: Duration| d.as_secs_f64();
    println!(
        "  {:<36}{:>10.3} s",
        "preprocessing (640x480 → 384x384)",
        seconds(best.preprocess)
    );
    println!(
        "  {:<36}{:>10.2} s",
        "vision encoder (577 positions)",
        seconds(best.vision)
    );
    println!(
        "  {:<36}{:>10} (prompt of {} ids)",
        "new tokens",
        best.tokens,
        PROMPT_IDS.len()
    );
    println!(
        "  {:<36}{:>10.2} s",
        "decoding, prefill and all steps",
        seconds(best.decode)
    );
    println!(
        "  {:<36}{:>10.1}",
        "decoder tokens/s",
        best.tokens as f64 / seconds(best.decode)
    );
    println!(
        "  {:<36}{:>10.2} s",
        "seconds per caption (best run)",
        seconds(best.total())
    );
    println!(
        "  {:<36}{:>10.2} s",
        "seconds per caption (first run)",
        seconds(runs[0].total())
    );
    println!(
        "  {:<36}{:>10.2} GiB",
        "peak memory (RSS)",
        peak_rss_gib().unwrap_or(f64::NAN)
    );
    Ok(())
}
