//! `ekphrasis bench`: speed and memory figures, printed (not pass/fail), one module a
//! benchmark, and what they share (peak memory, comparing logits) here.
//!
//! - [`compose`]: MusicGen-small (or a checkpoint folder), steps per second, time to first
//!   audio, the quantized decoders' quality cost; beside transformers when asked.
//! - [`enhance`]: Falcon-RW-1B description speed.
//! - [`caption`]: BLIP-large captioning speed.
//! - [`emotion`]: the emotion labellers, seconds per image and feature-caching throughput.
//! - [`chain`]: the whole chain at full size (or a model folder's), each stage and the time to
//!   first audio.
//! - [`server`]: the server's job runtime per variant, time to first audio and to a stored track.
//! - [`cluster`]: the scale-out cluster with 1, 2, 4… workers: pieces a minute, time to first
//!   audio, and the broker's added latency per frame.
//! - [`train`]: MusicGen fine-tuning steps per second (random full size or a checkpoint folder)
//!   and the arithmetic of the paper's step.
//! - [`eval`]: the metrics' listening models, seconds per minute of audio.
//! - [`full_size`]: the chain's models at full size with random weights (chain, server).
//! - [`folder`]: the models from folders instead (`--model`, `--models`: compose, chain, train).

use clap::Subcommand;

pub mod caption;
pub mod chain;
pub mod cluster;
pub mod compose;
pub mod emotion;
pub mod enhance;
pub mod eval;
pub mod folder;
pub mod full_size;
pub mod server;
pub mod train;

/// What to measure.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// MusicGen-small text-to-music speed.
    Compose(compose::BenchComposeArgs),
    /// Falcon-RW-1B description speed.
    Enhance(enhance::BenchEnhanceArgs),
    /// BLIP-large captioning speed.
    Caption(caption::BenchCaptionArgs),
    /// The emotion labellers' speed: seconds per image, feature caching throughput.
    Emotion(emotion::BenchEmotionArgs),
    /// The whole chain: each stage and the time to first audio.
    Chain(chain::BenchChainArgs),
    /// The server's job runtime: time to first audio and to a stored track, per variant.
    Server(Box<server::BenchServerArgs>),
    /// The scale-out cluster on this machine (web node and demo workers as child processes):
    /// pieces a minute and time to first audio per worker count, the broker's latency per frame.
    Cluster(cluster::BenchClusterArgs),
    /// MusicGen fine-tuning: steps per second, memory, the FLOPs of the paper's step.
    Train(train::BenchTrainArgs),
    /// The metrics' listening models (VGGish, PANNs CNN14, CLAP) and THD: seconds per minute
    /// of audio, peak memory.
    Eval(eval::BenchEvalArgs),
}

/// Runs a benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Compose(args) => compose::run(args),
        BenchCommand::Enhance(args) => enhance::run(args),
        BenchCommand::Caption(args) => caption::run(args),
        BenchCommand::Emotion(args) => emotion::run(args),
        BenchCommand::Chain(args) => chain::run(args),
        BenchCommand::Server(args) => server::run(*args),
        BenchCommand::Cluster(args) => cluster::run(args),
        BenchCommand::Train(args) => train::run(args),
        BenchCommand::Eval(args) => eval::run(args),
    }
}

/// The index of the largest value (the first of equals).
pub fn argmax(values: &[f32]) -> usize {
    ekphrasis_models::musicgen::sampling::argmax(values) as usize
}

/// `log softmax(logits)[index]`.
pub fn log_softmax_at(logits: &[f32], index: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|v| f64::from(v - max).exp()).sum();
    f64::from(logits[index] - max) - sum.ln()
}

/// The process's peak resident memory, from /proc (Linux).
pub fn peak_rss_gib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / (1024.0 * 1024.0))
}
