//! `ekphrasis bench enhance`: Falcon-RW-1B's speed with random full-size weights built from the
//! published config (no download): the prompt's forward pass, decoder tokens per second against
//! the memory-bandwidth ceiling, the time of a whole description and peak memory. Figures, not
//! pass/fail.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use candle_core::Tensor;
use clap::Args;
use ekphrasis_models::device::{DeviceChoice, compute_dtype, kind_name};
use ekphrasis_models::falcon_rw::{Config, FalconRw, GenerateOptions, Sampling};
use ekphrasis_models::kernels::dense::Quantization;

use super::{argmax, log_softmax_at, peak_rss_gib};

/// Flags of `ekphrasis bench enhance`.
#[derive(Debug, Args)]
pub struct BenchEnhanceArgs {
    /// New tokens of the description (generation does not stop earlier).
    #[arg(long, default_value_t = 60)]
    pub tokens: usize,
    /// Tokens in the (synthetic) prompt; the paper's prompt with a caption is about 80.
    #[arg(long, default_value_t = 80)]
    pub prompt_tokens: usize,
    /// Memory read bandwidth of this machine in GB/s, for the ceiling.
    #[arg(long, default_value_t = 23.0)]
    pub bandwidth_gb_s: f64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
    /// Quantize the weights (q8_0 or q4k) and measure the quality cost against f32.
    #[arg(long)]
    pub quantize: Option<Quantization>,
}

/// Runs the benchmark.
pub fn run(args: BenchEnhanceArgs) -> anyhow::Result<()> {
    if args.tokens == 0 || args.prompt_tokens == 0 {
        anyhow::bail!("--tokens and --prompt-tokens must be at least 1");
    }
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let dtype = compute_dtype(&device);
    let config = Config::falcon_rw_1b();
    let vocab = config.vocab_size as u32;
    let prompt: Vec<u32> = (0..args.prompt_tokens as u32)
        .map(|i| (100 + 37 * i) % vocab)
        .collect();

    let started = Instant::now();
    let mut falcon = FalconRw::random(config, 0, &device, dtype)?;
    let build = started.elapsed().as_secs_f64();
    println!(
        "Falcon-RW-1B, random weights from the published config, {}, {dtype:?}",
        kind_name(&device)
    );
    row("building weights", format!("{build:.1} s"));

    let cancel = AtomicBool::new(false);
    let options = GenerateOptions {
        max_new_tokens: args.tokens,
        sampling: Sampling::Greedy,
        seed: 0,
        eos_token_ids: Some(Vec::new()),
    };
    let quality = match args.quantize {
        Some(quantization) => {
            // The f32 model's greedy description, then both models' scores for it.
            let reference = falcon.generate(&prompt, &options, &cancel, |_| false)?;
            let want = scores(&mut falcon, &prompt, &reference)?;
            falcon.quantize(quantization)?;
            let got = scores(&mut falcon, &prompt, &reference)?;
            row("weights", format!("{quantization:?}"));
            Some((want, got, reference))
        }
        None => None,
    };
    // Warm up allocations and caches.
    let warm = GenerateOptions {
        max_new_tokens: 2,
        ..options.clone()
    };
    falcon.generate(&prompt, &warm, &cancel, |_| false)?;

    let prefill = {
        let ids = Tensor::new(prompt.as_slice(), &device)?.unsqueeze(0)?;
        let model = falcon.model_mut();
        model.clear_kv_cache();
        let started = Instant::now();
        let hidden = model.forward(&ids, None)?;
        let t = hidden.dim(1)?;
        let logits = model.logits(&hidden.narrow(1, t - 1, 1)?)?;
        logits.to_dtype(candle_core::DType::F32)?.to_vec3::<f32>()?;
        let seconds = started.elapsed().as_secs_f64();
        model.clear_kv_cache();
        seconds
    };
    let started = Instant::now();
    let new = falcon.generate(&prompt, &options, &cancel, |_| false)?;
    let total = started.elapsed().as_secs_f64();
    let steps = new.len().saturating_sub(1).max(1);
    let decode_rate = steps as f64 / (total - prefill).max(1e-9);

    let bytes = falcon.model_mut().weight_bytes_per_step() as f64;
    let ceiling = args.bandwidth_gb_s * 1e9 / bytes;
    row(
        "prompt forward (prefill)",
        format!("{prefill:.2} s ({} tokens)", prompt.len()),
    );
    row("decoder tokens/s", format!("{decode_rate:.2}"));
    row(
        &format!("{}-token description", new.len()),
        format!(
            "{total:.2} s ({:.2} tokens/s with the prompt)",
            new.len() as f64 / total
        ),
    );
    row("weights read per token", format!("{:.2} GB", bytes / 1e9));
    row(
        "bandwidth ceiling",
        format!(
            "{ceiling:.2} tokens/s at {} GB/s ({:.0}% reached, {:.1} GB/s)",
            args.bandwidth_gb_s,
            100.0 * decode_rate / ceiling,
            decode_rate * bytes / 1e9
        ),
    );
    row(
        "peak memory (RSS)",
        format!("{:.2} GiB", peak_rss_gib().unwrap_or(f64::NAN)),
    );
    if let Some((want, got, reference)) = quality {
        println!("quality against f32 (teacher-forced on the f32 model's greedy description):");
        let agree = want
            .iter()
            .zip(&got)
            .filter(|(w, g)| argmax(w) == argmax(g))
            .count();
        row(
            "top-1 agreement with f32",
            format!("{:.4}", agree as f64 / want.len() as f64),
        );
        let mean = |rows: &[Vec<f32>]| {
            rows.iter()
                .zip(&reference)
                .map(|(r, &id)| log_softmax_at(r, id as usize))
                .sum::<f64>()
                / rows.len() as f64
        };
        row("mean log-prob of those, f32", format!("{:.4}", mean(&want)));
        row(
            "mean log-prob of those, quantized",
            format!("{:.4}", mean(&got)),
        );
    }
    Ok(())
}

/// The logits that predicted each of `new` after `prompt`, in one forward pass.
fn scores(falcon: &mut FalconRw, prompt: &[u32], new: &[u32]) -> anyhow::Result<Vec<Vec<f32>>> {
    let device = falcon.device().clone();
    let all: Vec<u32> = prompt.iter().chain(new).copied().collect();
    let ids = Tensor::new(all.as_slice(), &device)?.unsqueeze(0)?;
    let model = falcon.model_mut();
    model.clear_kv_cache();
    let hidden = model.forward(&ids, None)?;
    let predicting = hidden.narrow(1, prompt.len() - 1, new.len())?;
    let logits = model.logits(&predicting)?;
    model.clear_kv_cache();
    Ok(logits
        .squeeze(0)?
        .to_dtype(candle_core::DType::F32)?
        .to_vec2::<f32>()?)
}

fn row(name: &str, value: String) {
    println!("  {name:<36}{value}");
}
