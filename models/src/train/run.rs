//! One training run from a dataset folder to a model directory: list and check the dataset,
//! compute (or find in the cache) every image's features, split, fit, save, report. Progress is
//! reported through a callback; the command line draws it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Tensor;
use image::RgbImage;

use super::backbone::Backbone;
use super::cache::{FeatureCache, sha256_hex};
use super::dataset::Dataset;
use super::fit::{EpochRecord, FitOptions, fit};
use super::metrics::Confusion;
use super::save::write_model;
use super::split::stratified;
use crate::emotion::resnet_bigru::HeadConfig;
use crate::error::{Error, Result};

/// Settings of a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    /// The optimisation settings.
    pub fit: FitOptions,
    /// The head's sizes; `feature_size` is taken from the backbone.
    pub head: HeadConfig,
    /// The share of every class held out for judging (0 < share < 1).
    pub held_out: f64,
    /// Images per backbone forward pass while computing features.
    pub feature_batch: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            fit: FitOptions::default(),
            head: HeadConfig::default(),
            held_out: 0.2,
            feature_batch: 8,
        }
    }
}

/// Turns an image file's bytes into RGB pixels, or says why not (the file is named by the caller).
pub type Decoder<'a> = &'a dyn Fn(&[u8]) -> std::result::Result<RgbImage, String>;

/// What a run is doing, as it happens.
#[derive(Debug)]
pub enum TrainEvent<'a> {
    /// The dataset was listed.
    Scanned {
        /// Images per emotion.
        per_class: [usize; 5],
        /// Entries skipped (not image files).
        skipped: &'a [PathBuf],
    },
    /// Features of `done` of `total` images are ready (`from_cache` of them were cached).
    Features {
        done: usize,
        total: usize,
        from_cache: usize,
    },
    /// An epoch ended (out of at most `of`).
    Epoch { record: &'a EpochRecord, of: usize },
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Images per emotion.
    pub per_class: [usize; 5],
    /// Entries of the dataset folder that were skipped.
    pub skipped: Vec<PathBuf>,
    /// Items trained on.
    pub train_count: usize,
    /// Items held out.
    pub held_out_count: usize,
    /// Images whose features were computed by the backbone in this run.
    pub computed: usize,
    /// Images whose features came from the cache.
    pub from_cache: usize,
    /// Seconds spent computing (not loading) features.
    pub feature_seconds: f64,
    /// Every epoch.
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose weights were kept (counted from 1).
    pub best_epoch: usize,
    /// The held-out accuracy of the kept weights.
    pub held_out_accuracy: f64,
    /// The held-out confusion matrix of the kept weights.
    pub confusion: Confusion,
}

impl TrainReport {
    /// Images per second while computing features (NaN when none were computed).
    pub fn feature_throughput(&self) -> f64 {
        if self.computed == 0 {
            f64::NAN
        } else {
            self.computed as f64 / self.feature_seconds
        }
    }
}

/// Trains a head on the dataset folder `data` with the frozen `backbone` and writes the model
/// directory `out` (which also keeps the feature cache).
pub fn train_emotion(
    data: &Path,
    out: &Path,
    backbone: &Backbone,
    options: &TrainOptions,
    decode: Decoder<'_>,
    progress: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<TrainReport> {
    if !(options.held_out > 0.0 && options.held_out < 1.0) {
        return Err(Error::Input(format!(
            "--held-out must be between 0 and 1 (exclusive), got {}",
            options.held_out
        )));
    }
    let head = HeadConfig {
        feature_size: backbone.feature_size(),
        ..options.head.clone()
    };
    head.validate(Path::new("training options"))?;
    let dataset = Dataset::scan(data)?;
    if same_place(data, out) {
        return Err(Error::Input(format!(
            "{}: the output folder must not be the dataset folder",
            out.display()
        )));
    }
    progress(TrainEvent::Scanned {
        per_class: dataset.per_class(),
        skipped: &dataset.skipped,
    });

    let mut cache = FeatureCache::new(Some(out), backbone.identity(), backbone.device())?;
    let counts = FeatureCounts::default();
    let (features, counts) = all_features(
        &dataset, backbone, &mut cache, options, decode, counts, progress,
    )?;
    // The stacked copy is all training needs; free the per-image copies.
    drop(cache);

    let labels = dataset.labels();
    let split = stratified(&labels, 5, options.held_out, options.fit.seed);
    let epochs_max = options.fit.epochs;
    let fitted = fit(
        &features,
        &labels,
        &split,
        &head,
        &options.fit,
        &mut |record| {
            progress(TrainEvent::Epoch {
                record,
                of: epochs_max,
            })
        },
    )?;
    let accuracy = fitted.confusion.accuracy();
    let training = serde_json::json!({
        "images_per_class": dataset.per_class(),
        "train_images": split.train.len(),
        "held_out_images": split.held_out.len(),
        "held_out_share": options.held_out,
        "epochs_run": fitted.epochs.len(),
        "best_epoch": fitted.best_epoch,
        "held_out_accuracy": accuracy,
        "confusion": fitted.confusion.counts,
        "seed": options.fit.seed,
        "batch_size": options.fit.batch_size,
        "learning_rate": options.fit.learning_rate,
        "weight_decay": options.fit.weight_decay,
        "patience": options.fit.patience,
        "backbone_source": backbone.checkpoint().map(|c| c.root().display().to_string()),
        "backbone_identity": backbone.identity(),
    });
    write_model(out, backbone, &fitted.weights, &head, training)?;
    Ok(TrainReport {
        per_class: dataset.per_class(),
        skipped: dataset.skipped.clone(),
        train_count: split.train.len(),
        held_out_count: split.held_out.len(),
        computed: counts.computed,
        from_cache: counts.from_cache,
        feature_seconds: counts.seconds,
        epochs: fitted.epochs,
        best_epoch: fitted.best_epoch,
        held_out_accuracy: accuracy,
        confusion: fitted.confusion,
    })
}

#[derive(Clone, Copy, Debug, Default)]
struct FeatureCounts {
    computed: usize,
    from_cache: usize,
    seconds: f64,
}

/// Every item's features (N, C, h, w), from the cache or the backbone, in batches.
fn all_features(
    dataset: &Dataset,
    backbone: &Backbone,
    cache: &mut FeatureCache,
    options: &TrainOptions,
    decode: Decoder<'_>,
    mut counts: FeatureCounts,
    progress: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<(Tensor, FeatureCounts)> {
    let total = dataset.items.len();
    let mut features: Vec<Tensor> = Vec::with_capacity(total);
    for chunk in dataset.items.chunks(options.feature_batch.max(1)) {
        let mut keys = Vec::with_capacity(chunk.len());
        let mut slots: Vec<Option<Tensor>> = Vec::with_capacity(chunk.len());
        let mut to_compute: Vec<(usize, RgbImage)> = Vec::new();
        for (i, item) in chunk.iter().enumerate() {
            let bytes = std::fs::read(&item.path).map_err(|source| Error::Io {
                path: item.path.clone(),
                source,
            })?;
            let key = sha256_hex(&bytes);
            let cached = cache.get(&key);
            if cached.is_none() {
                let image = decode(&bytes)
                    .map_err(|why| Error::Input(format!("{}: {why}", item.path.display())))?;
                to_compute.push((i, image));
            } else {
                counts.from_cache += 1;
            }
            slots.push(cached);
            keys.push(key);
        }
        if !to_compute.is_empty() {
            let started = Instant::now();
            let images: Vec<RgbImage> = to_compute.iter().map(|(_, image)| image.clone()).collect();
            let batch = backbone.features(&images)?;
            // Materialise before reading the clock (a GPU runs asynchronously).
            let batch = batch.to_device(backbone.device())?;
            let _ = batch
                .sum_all()?
                .to_dtype(candle_core::DType::F32)?
                .to_scalar::<f32>()?;
            counts.seconds += started.elapsed().as_secs_f64();
            counts.computed += images.len();
            for (row, (i, _)) in to_compute.iter().enumerate() {
                let one = batch.get(row)?.contiguous()?;
                cache.put(&keys[*i], &one)?;
                slots[*i] = Some(one);
            }
        }
        for slot in slots.into_iter().flatten() {
            if let Some(first) = features.first()
                && first.dims() != slot.dims()
            {
                return Err(Error::Input(format!(
                    "feature maps of different shapes ({:?} and {:?}): the feature cache \
                         holds features of another preprocessing; delete {}",
                    first.dims(),
                    slot.dims(),
                    cache
                        .dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default()
                )));
            }
            features.push(slot);
        }
        progress(TrainEvent::Features {
            done: features.len(),
            total,
            from_cache: counts.from_cache,
        });
    }
    Ok((Tensor::stack(&features, 0)?, counts))
}

fn same_place(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
