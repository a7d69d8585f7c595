//! `ekphrasis enhance`: the musical description from the command line with Falcon-RW, the same
//! model code the server runs. With `--caption` and `--emotion` it writes the paper's
//! description (the Table I prompt, the answer cleaned to two lines, a fallback when the answer
//! is unusable); with `--raw-prompt` it continues the given text as it is and prints the raw
//! decoded continuation (special tokens skipped), as transformers' `generate` and
//! `decode(skip_special_tokens=True)` give it, uncleaned. The paper's path also ends at the
//! tokenizer's `<|endoftext|>` and once two answer lines are written.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use ekphrasis_models::device::{DeviceChoice, compute_dtype};
use ekphrasis_models::falcon_rw::{
    FalconRw, GenerateOptions, MAX_NEW_TOKENS, Sampling, SamplingParams,
};
use ekphrasis_shared::domain::Emotion;

use super::common::report::loaded;
use super::common::values::parse_emotion;
use crate::checkpoints::catalog;

/// Flags of `ekphrasis enhance`.
#[derive(Debug, Args)]
pub struct EnhanceArgs {
    /// Falcon-RW checkpoint: a directory in Hugging Face layout, or a hub id [default:
    /// MODELS/falcon/, else tiiuae/falcon-rw-1b].
    #[arg(long, env = "EKPHRASIS_FALCON")]
    pub falcon: Option<String>,
    /// Folder of model checkpoints, one sub-folder a role (falcon/ is used here).
    #[arg(long, env = "EKPHRASIS_MODELS")]
    pub models: Option<std::path::PathBuf>,
    /// Continue this text as it is, without the paper's prompt; prints the raw continuation.
    /// It ends at the checkpoint's end-of-sequence id, as transformers' `generate` reads it
    /// (generation_config.json, else config.json: 2 for falcon-rw-1b), or at --max-new-tokens.
    #[arg(
        long,
        conflicts_with_all = ["caption", "emotion"],
        required_unless_present = "caption"
    )]
    pub raw_prompt: Option<String>,
    /// The painting's (emotion-conditioned) caption, described with the paper's prompt.
    #[arg(long, requires = "emotion")]
    pub caption: Option<String>,
    /// The painting's emotion (happy, angry, sad, fun or neutral), for the fallback description.
    #[arg(long, requires = "caption", value_parser = parse_emotion)]
    pub emotion: Option<Emotion>,
    /// Take the most likely token instead of sampling.
    #[arg(long)]
    pub greedy: bool,
    /// New tokens at most (generation also ends at the end-of-sequence id).
    #[arg(long, default_value_t = 60)]
    pub max_new_tokens: usize,
    /// Sampling seed [default: random, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Sampling temperature [default: the checkpoint's, else 0.7].
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Sample among the k most likely tokens, 0 for all [default: the checkpoint's, else 50].
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Sample among the likeliest tokens up to this probability [default: the checkpoint's, else 0.9].
    #[arg(long)]
    pub top_p: Option<f64>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Store the weights quantized (q8_0 or q4k): several times faster on a CPU, slightly
    /// different words.
    #[arg(long)]
    pub quantize: Option<ekphrasis_models::kernels::dense::Quantization>,
    /// Print one JSON object `{"text", "token_ids"}` (and `"fallback"` for the paper's prompt).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: EnhanceArgs) -> anyhow::Result<()> {
    // Cheap checks first: loading a real checkpoint takes a while.
    if args.max_new_tokens == 0 || args.max_new_tokens > MAX_NEW_TOKENS {
        bail!(
            "--max-new-tokens must be 1 to {MAX_NEW_TOKENS}, got {}",
            args.max_new_tokens
        );
    }
    match (&args.raw_prompt, &args.caption) {
        (Some(prompt), _) if prompt.trim().is_empty() => bail!("--raw-prompt is empty"),
        (None, Some(caption)) if caption.trim().is_empty() => bail!("--caption is empty"),
        _ => {}
    }
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let dir = catalog::locate(
        &catalog::FALCON,
        args.falcon.as_deref(),
        args.models.as_deref(),
    )?;
    let started = Instant::now();
    let mut falcon = FalconRw::load(&dir, &device, compute_dtype(&device))?;
    if let Some(quantization) = args.quantize {
        falcon.quantize(quantization)?;
    }
    loaded(&dir, &device, started);
    let seed = args.seed.unwrap_or_else(rand::random);
    let sampling = if args.greedy {
        Sampling::Greedy
    } else {
        let defaults = falcon.default_sampling();
        let params = SamplingParams {
            temperature: args.temperature.unwrap_or(defaults.temperature),
            top_k: args.top_k.unwrap_or(defaults.top_k),
            top_p: args.top_p.unwrap_or(defaults.top_p),
        };
        params.validate()?;
        eprintln!("seed {seed}");
        Sampling::Sample(params)
    };
    let options = GenerateOptions {
        max_new_tokens: args.max_new_tokens,
        sampling,
        seed,
        eos_token_ids: None,
    };
    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let (text, token_ids, fallback) = match (&args.raw_prompt, &args.caption, args.emotion) {
        (Some(prompt), _, _) => {
            let ids = falcon.tokenize(prompt)?;
            let new = falcon.generate(&ids, &options, &cancel, |_| false)?;
            (falcon.decode(&new)?, new, None)
        }
        (None, Some(caption), Some(emotion)) => {
            let description = falcon.describe(caption, emotion, &options, &cancel)?;
            if description.fallback {
                eprintln!("the model's answer was unusable: the description is the fallback");
            }
            (
                description.text,
                description.token_ids,
                Some(description.fallback),
            )
        }
        _ => bail!("give --raw-prompt, or --caption with --emotion"),
    };
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "generated {} tokens in {elapsed:.1} s ({:.2} tokens/s)",
        token_ids.len(),
        token_ids.len() as f64 / elapsed.max(1e-9)
    );
    if args.json {
        let mut json = serde_json::json!({ "text": text, "token_ids": token_ids });
        if let Some(fallback) = fallback {
            json["fallback"] = fallback.into();
        }
        println!(
            "{}",
            serde_json::to_string(&json).context("writing the JSON result")?
        );
    } else {
        println!("{text}");
    }
    Ok(())
}
