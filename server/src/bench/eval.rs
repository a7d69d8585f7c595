//! `ekphrasis bench eval`: how long each of the paper's metrics takes to listen, with the
//! listening models at their published sizes and random weights (no download): seconds per minute
//! of audio for VGGish (resampy to 16 kHz, log-mel, the network), PANNs CNN14 (log-mel, the
//! network, on the whole clip as audioldm_eval does), CLAP (the first 10 s of each file: six
//! 10 s clips a minute) and THD, and the peak memory after each. Figures, not pass/fail.

use std::time::Instant;

use candle_core::{DType, Device};
use clap::Args;
use ekphrasis_models::device::{DeviceChoice, kind_name};
use ekphrasis_models::eval::clap::{Clap, ClapConfig, ClapFeatureConfig, FeatureExtractor};
use ekphrasis_models::eval::metrics::thd::thd;
use ekphrasis_models::eval::panns::{Cnn14, Cnn14Dims};
use ekphrasis_models::eval::vggish::{Vggish, VggishShape};
use ekphrasis_models::random_weights::RandomWeights;

use super::peak_rss_gib;
use crate::evaluation::judges::clap_audio;

/// The rate of the music the benchmark listens to (MusicGen's).
const RATE: u32 = 32_000;

/// Flags of `ekphrasis bench eval`.
#[derive(Debug, Args)]
pub struct BenchEvalArgs {
    /// Seconds of music each model hears (after a one-second warm-up).
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
}

/// Runs the benchmark.
pub fn run(args: BenchEvalArgs) -> anyhow::Result<()> {
    if !(args.seconds.is_finite() && args.seconds >= 1.0) {
        anyhow::bail!("--seconds must be at least 1, not {}", args.seconds);
    }
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let music = music(args.seconds);
    let per_minute = 60.0 / args.seconds;
    println!(
        "Listening models at published sizes, random weights, {}, f32; {} s of 32 kHz music",
        kind_name(&device),
        args.seconds
    );

    let (vggish, built) = timed(|| {
        Vggish::new(&VggishShape::published(), weights(&device)).map_err(anyhow::Error::from)
    })?;
    vggish.embed_audio(&music[..RATE as usize], RATE)?;
    let (rows, took) = timed(|| Ok(vggish.embed_audio(&music, RATE)?))?;
    report(
        "VGGish (FAD, histogram KL)",
        built,
        took * per_minute,
        &format!("{} examples", rows.len()),
    );
    drop(vggish);

    let (panns, built) = timed(|| {
        Cnn14::new(&Cnn14Dims::published(), weights(&device)).map_err(anyhow::Error::from)
    })?;
    panns.logits(&music[..RATE as usize])?;
    let (logits, took) = timed(|| Ok(panns.logits(&music)?))?;
    report(
        "PANNs CNN14 (paired KL, Inception Score)",
        built,
        took * per_minute,
        &format!("{} logits", logits.len()),
    );
    drop(panns);

    let (clap, built) = timed(|| {
        let features = FeatureExtractor::new(ClapFeatureConfig {
            frequency_min: 50.0,
            truncation: "rand_trunc".into(),
            ..ClapFeatureConfig::default()
        })?;
        // transformers' defaults are laion/clap-htsat-unfused's structure.
        let config: ClapConfig = serde_json::from_str(r#"{"model_type": "clap"}"#)?;
        Ok(Clap::new(
            config,
            features,
            None,
            weights(&device),
            &device,
        )?)
    })?;
    let ten_seconds = 10 * RATE as usize;
    clap_audio(&clap, &music[..RATE as usize], RATE)?;
    let clips: Vec<&[f32]> = music.chunks(ten_seconds).collect();
    let (_, took) = timed(|| {
        for clip in &clips {
            clap_audio(&clap, clip, RATE)?;
        }
        Ok(())
    })?;
    report(
        "CLAP HTSAT, unfused (audio tower)",
        built,
        took * per_minute,
        &format!("{} clips of at most 10 s", clips.len()),
    );
    drop(clap);

    let (value, took) = timed(|| Ok(thd(&music)))?;
    report(
        "THD",
        0.0,
        took * per_minute,
        &format!("THD {:.3}", value.unwrap_or(f64::NAN)),
    );
    Ok(())
}

/// Seeded random weights at full size.
fn weights(device: &Device) -> candle_nn::VarBuilder<'static> {
    RandomWeights::new(0).var_builder(DType::F32, device)
}

/// What `f` returns and the seconds it took.
fn timed<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, f64)> {
    let started = Instant::now();
    let value = f()?;
    Ok((value, started.elapsed().as_secs_f64()))
}

fn report(model: &str, built: f64, per_minute: f64, note: &str) {
    let peak = peak_rss_gib().map_or("?".to_string(), |g| format!("{g:.2}"));
    println!(
        "  {model:<42}{per_minute:>9.2} s per minute of audio  (built in {built:.1} s; {note}; \
         peak memory so far {peak} GiB)"
    );
}

/// Music-like test audio: a few notes with overtones changing every half second, and a little
/// noise, at [`RATE`].
fn music(seconds: f64) -> Vec<f32> {
    let len = (seconds * f64::from(RATE)) as usize;
    let mut noise = 0x2545_f491_u32;
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let note = 220.0 * 2f64.powf(((i / (RATE as usize / 2)) % 12) as f64 / 12.0);
            let tone: f64 = (1..=4)
                .map(|h| (2.0 * std::f64::consts::PI * note * h as f64 * t).sin() / h as f64)
                .sum();
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let hiss = (noise as f64 / f64::from(u32::MAX) - 0.5) * 0.02;
            (0.25 * tone + hiss) as f32
        })
        .collect()
}
