//! `ekphrasis bench emotion`: the emotion labeller's speed with random full-size weights built
//! from the published configs (no download): seconds per image for ResNet-50 + the BiGRU head
//! (with its parts), feature caching throughput as training computes it (images/s), a training
//! step of the head, zero-shot CLIP ViT-B/32's seconds per image, and peak memory. Figures, not
//! pass/fail.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use clap::Args;
use ekphrasis_models::device::{DeviceChoice, kind_name};
use ekphrasis_models::emotion::clip_zero_shot::{ClipConfig, ClipZeroShot};
use ekphrasis_models::emotion::resnet::ResNetConfig;
use ekphrasis_models::emotion::resnet_bigru::{EmotionHead, EmotionModel, HeadConfig};
use ekphrasis_models::image_prep::{ImageProcessorConfig, pixel_values};
use ekphrasis_models::train::Backbone;
use ekphrasis_models::train::cache::{FeatureCache, sha256_hex};
use ekphrasis_models::train::params::Params;
use image::{Rgb, RgbImage};

use super::peak_rss_gib;

/// Flags of `ekphrasis bench emotion`.
#[derive(Debug, Args)]
pub struct BenchEmotionArgs {
    /// Images to label (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub images: usize,
    /// Images whose features are computed for the caching figure.
    #[arg(long, default_value_t = 16)]
    pub cache_images: usize,
    /// Images per backbone pass while caching.
    #[arg(long, default_value_t = 8)]
    pub feature_batch: usize,
    /// Head training steps to time (batch 16).
    #[arg(long, default_value_t = 3)]
    pub train_steps: usize,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
}

fn row(what: &str, value: f64, unit: &str) {
    println!("  {what:<44}{value:>10.3} {unit}");
}

/// A 640 × 480 test picture, different for each `seed`.
fn picture(seed: u32) -> RgbImage {
    RgbImage::from_fn(640, 480, |x, y| {
        Rgb([
            ((x + seed * 31) % 256) as u8,
            ((y * 3 + seed * 17) % 256) as u8,
            ((x ^ y).wrapping_add(seed) % 256) as u8,
        ])
    })
}

/// Runs the benchmark.
pub fn run(args: BenchEmotionArgs) -> anyhow::Result<()> {
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let processor = ImageProcessorConfig::resnet50();
    println!(
        "Emotion labeller: ResNet-50 + BiGRU head (H 128, 2 layers, 4 heads), random weights, {}, f32",
        kind_name(&device)
    );
    let started = Instant::now();
    let model = EmotionModel::random(
        ResNetConfig::resnet50(),
        HeadConfig::default(),
        processor.clone(),
        0,
        &device,
    )?;
    row("building weights", started.elapsed().as_secs_f64(), "s");

    model.classify(&picture(0))?;
    let images: Vec<RgbImage> = (1..=args.images.max(1) as u32).map(picture).collect();
    let (mut prep, mut backbone, mut head, mut total) = (0.0, 0.0, 0.0, 0.0);
    for image in &images {
        let t0 = Instant::now();
        model.classify(image)?;
        total += t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let pixels = pixel_values(image, &processor, &device)?.unsqueeze(0)?;
        sync(&pixels)?;
        let t1 = Instant::now();
        let features = model.features(&pixels)?;
        sync(&features)?;
        let t2 = Instant::now();
        sync(&model.head_logits(&features)?)?;
        prep += (t1 - t0).as_secs_f64();
        backbone += (t2 - t1).as_secs_f64();
        head += t2.elapsed().as_secs_f64();
    }
    let n = images.len() as f64;
    row("seconds per image (640x480, end to end)", total / n, "s");
    row("  preprocessing", prep / n, "s");
    row("  ResNet-50 backbone", backbone / n, "s");
    row("  BiGRU + attention head", head / n, "s");

    let backbone_net = Backbone::random(&ResNetConfig::resnet50(), processor, 0, &device)?;
    let work = tempfile_dir()?;
    let mut cache = FeatureCache::new(Some(&work), backbone_net.identity(), &device)?;
    let pictures: Vec<RgbImage> = (100..100 + args.cache_images.max(1) as u32)
        .map(picture)
        .collect();
    let started = Instant::now();
    for chunk in pictures.chunks(args.feature_batch.max(1)) {
        let features = backbone_net.features(chunk)?;
        for (i, image) in chunk.iter().enumerate() {
            cache.put(&sha256_hex(image.as_raw()), &features.get(i)?.contiguous()?)?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    row(
        &format!("feature caching (batches of {})", args.feature_batch.max(1)),
        pictures.len() as f64 / seconds,
        "images/s",
    );
    let _ = std::fs::remove_dir_all(&work);

    let (forward, step) = train_step_seconds(&device, args.train_steps.max(1))?;
    row("head training step (batch 16, 7x7 features)", step, "s");
    row("  forward with dropout and loss", forward, "s");
    row("  backward and AdamW update", step - forward, "s");

    println!(
        "Zero-shot CLIP ViT-B/32 (openai/clip-vit-base-patch32's config), random weights, {}, f32",
        kind_name(&device)
    );
    let started = Instant::now();
    let clip = ClipZeroShot::random(&ClipConfig::vit_base_patch32(), 0, &device)?;
    row(
        "building weights, embedding the prompts",
        started.elapsed().as_secs_f64(),
        "s",
    );
    clip.classify(&picture(0))?;
    let started = Instant::now();
    for image in &images {
        clip.classify(image)?;
    }
    row(
        "seconds per image (640x480, end to end)",
        started.elapsed().as_secs_f64() / n,
        "s",
    );
    row(
        "peak memory (RSS)",
        peak_rss_gib().unwrap_or(f64::NAN),
        "GiB",
    );
    Ok(())
}

/// Seconds of the forward pass and of the whole AdamW step of the full-size head on a batch of
/// 16 random feature maps.
fn train_step_seconds(device: &Device, steps: usize) -> anyhow::Result<(f64, f64)> {
    let params = Params::default();
    let config = HeadConfig::default();
    let head = EmotionHead::new(&config, params.var_builder(0, device).pp("head"))?;
    let mut optimiser = AdamW::new(params.vars(), ParamsAdamW::default())?;
    let features = Tensor::rand(0f32, 1.0, (16, config.feature_size, 7, 7), device)?;
    let labels = Tensor::new(&[0u32, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0], device)?;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    let (mut forward, mut seconds) = (0.0, 0.0);
    for i in 0..=steps {
        let started = Instant::now();
        let logits = head.forward_train(&features, &mut rng)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &labels)?;
        sync(&loss)?;
        let forwarded = started.elapsed().as_secs_f64();
        optimiser.backward_step(&loss)?;
        sync(&loss)?;
        if i > 0 {
            forward += forwarded;
            seconds += started.elapsed().as_secs_f64();
        }
    }
    Ok((forward / steps as f64, seconds / steps as f64))
}

/// Waits for a tensor's computation (GPUs run asynchronously).
fn sync(tensor: &Tensor) -> anyhow::Result<()> {
    tensor.sum_all()?.to_dtype(DType::F32)?.to_scalar::<f32>()?;
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ekphrasis-bench-emotion-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
