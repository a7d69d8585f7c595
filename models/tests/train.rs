//! Training the emotion head end to end on a synthetic dataset this test makes (five visually
//! distinct classes: colour and pattern per class, with random variation), with the tiny
//! random-weight ResNet fixture as the frozen backbone. The held-out accuracy must be far above
//! chance (0.2), a rerun must take every feature from the cache, and the written model directory
//! must load and label the held-out images as training judged them.

use std::path::Path;

use candle_core::Device;
use ekphrasis_models::emotion::resnet_bigru::{EmotionModel, HeadConfig};
use ekphrasis_models::image_prep::to_rgb;
use ekphrasis_models::train::split::stratified;
use ekphrasis_models::train::{
    Backbone, Dataset, FitOptions, TrainEvent, TrainOptions, train_emotion,
};
use ekphrasis_shared::domain::Emotion;
use image::{Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common;

use common::data_dir;

const PER_CLASS: usize = 10;

/// The tiny ResNet fixture with its preprocessing set to 64 × 64 pixels (a 2 × 2 feature map, a
/// 4-step sequence), which keeps the debug build quick; everything else is as published.
fn backbone_dir(work: &Path) -> std::path::PathBuf {
    let fixture = data_dir("resnet-tiny").join("bottleneck");
    let dir = work.join("backbone");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture.join(name), dir.join(name)).unwrap();
    }
    let text = std::fs::read_to_string(fixture.join("preprocessor_config.json")).unwrap();
    let mut preprocessor: serde_json::Value = serde_json::from_str(&text).unwrap();
    preprocessor["size"] = serde_json::json!({"shortest_edge": 64});
    std::fs::write(
        dir.join("preprocessor_config.json"),
        preprocessor.to_string(),
    )
    .unwrap();
    dir
}

/// One picture of a class: a base colour per class and a class pattern, jittered.
fn picture(class: usize, rng: &mut StdRng) -> RgbImage {
    let (w, h) = (rng.random_range(40..64), rng.random_range(40..64));
    let jitter = |rng: &mut StdRng, v: i32| (v + rng.random_range(-25..=25)).clamp(0, 255) as u8;
    let base: [i32; 3] = [
        [230, 200, 40],
        [200, 30, 30],
        [30, 50, 160],
        [40, 190, 90],
        [128, 128, 128],
    ][class];
    let base = [
        jitter(rng, base[0]),
        jitter(rng, base[1]),
        jitter(rng, base[2]),
    ];
    let (dx, dy) = (rng.random_range(0..8u32), rng.random_range(0..8u32));
    RgbImage::from_fn(w, h, |x, y| {
        let (x, y) = (x + dx, y + dy);
        let on = match class {
            0 => ((x as i32 - 30).pow(2) + (y as i32 - 30).pow(2)) < 200, // a sun
            1 => (x + y) % 8 < 3,                                         // diagonal strokes
            2 => y > 30,                                                  // a dark lower half
            3 => (x / 6 + y / 6) % 2 == 0,                                // a checkerboard
            _ => false,                                                   // flat
        };
        if on {
            Rgb([base[0] / 3, base[1] / 3, 255 - base[2] / 2])
        } else {
            Rgb(base)
        }
    })
}

fn make_dataset(root: &Path, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for (class, emotion) in Emotion::ALL.iter().enumerate() {
        let folder = root.join(emotion.as_str());
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..PER_CLASS {
            picture(class, &mut rng)
                .save(folder.join(format!("{i:02}.png")))
                .unwrap();
        }
    }
}

fn decode(bytes: &[u8]) -> Result<RgbImage, String> {
    image::load_from_memory(bytes)
        .map(|image| to_rgb(&image))
        .map_err(|e| e.to_string())
}

fn options() -> TrainOptions {
    TrainOptions {
        fit: FitOptions {
            epochs: 15,
            batch_size: 8,
            learning_rate: 3e-3,
            patience: 8,
            seed: 1,
            ..FitOptions::default()
        },
        head: HeadConfig {
            gru_hidden: 16,
            attention_heads: 2,
            dropout: 0.1,
            ..HeadConfig::default()
        },
        held_out: 0.2,
        feature_batch: 10,
    }
}

#[test]
fn trains_far_above_chance_caches_features_and_writes_a_loadable_model() {
    let work = tempfile::tempdir().unwrap();
    let (data, out) = (work.path().join("data"), work.path().join("model"));
    make_dataset(&data, 7);
    let backbone = Backbone::load(&backbone_dir(work.path()), &Device::Cpu).unwrap();
    let mut features_events = 0;
    let mut epochs_seen = 0;
    let report = train_emotion(
        &data,
        &out,
        &backbone,
        &options(),
        &decode,
        &mut |event| match event {
            TrainEvent::Features { .. } => features_events += 1,
            TrainEvent::Epoch { .. } => epochs_seen += 1,
            TrainEvent::Scanned { per_class, .. } => assert_eq!(per_class, [PER_CLASS; 5]),
        },
    )
    .unwrap();
    assert_eq!(report.computed, 5 * PER_CLASS);
    assert_eq!(report.from_cache, 0);
    assert_eq!(features_events, 5);
    assert_eq!(epochs_seen, report.epochs.len());
    assert_eq!((report.train_count, report.held_out_count), (40, 10));
    assert!(report.held_out_accuracy >= 0.8, "{report:#?}");
    assert_eq!(report.confusion.counts.iter().flatten().sum::<usize>(), 10);

    // The written directory loads and labels the held-out images as training judged them.
    let model = EmotionModel::load(&out, &Device::Cpu).unwrap();
    assert_eq!(model.config().head.feature_size, 40);
    assert_eq!(model.config().training["best_epoch"], report.best_epoch);
    let dataset = Dataset::scan(&data).unwrap();
    let split = stratified(&dataset.labels(), 5, 0.2, 1);
    let right = split
        .held_out
        .iter()
        .filter(|&&i| {
            let item = &dataset.items[i];
            let image = decode(&std::fs::read(&item.path).unwrap()).unwrap();
            let probs = model.classify(&image).unwrap();
            let best = probs.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
            best == Emotion::ALL[item.label]
        })
        .count();
    assert_eq!(right as f64 / 10.0, report.held_out_accuracy);

    // A rerun into the same folder takes every feature from the cache and trains alike.
    let again = train_emotion(&data, &out, &backbone, &options(), &decode, &mut |_| {}).unwrap();
    assert_eq!((again.computed, again.from_cache), (0, 5 * PER_CLASS));
    assert_eq!(
        again.epochs,
        report
            .epochs
            .iter()
            .map(|e| again_record(e, &again))
            .collect::<Vec<_>>()
    );
}

/// Epoch records compared without their timing.
fn again_record(
    e: &ekphrasis_models::train::EpochRecord,
    again: &ekphrasis_models::train::TrainReport,
) -> ekphrasis_models::train::EpochRecord {
    ekphrasis_models::train::EpochRecord {
        seconds: again.epochs[e.epoch - 1].seconds,
        ..e.clone()
    }
}

#[test]
fn bad_datasets_are_refused_with_the_file_or_folder_named() {
    let work = tempfile::tempdir().unwrap();
    let (data, out) = (work.path().join("data"), work.path().join("model"));
    make_dataset(&data, 3);
    let backbone = Backbone::load(&backbone_dir(work.path()), &Device::Cpu).unwrap();
    let run = |data: &Path| {
        train_emotion(data, &out, &backbone, &options(), &decode, &mut |_| {})
            .unwrap_err()
            .to_string()
    };
    std::fs::write(
        data.join("sad/broken.jpg"),
        b"\xff\xd8\xff\xe0 not really a jpeg",
    )
    .unwrap();
    let err = run(&data);
    assert!(err.contains("sad/broken.jpg"), "{err}");
    std::fs::remove_file(data.join("sad/broken.jpg")).unwrap();

    std::fs::create_dir(data.join("calm")).unwrap();
    assert!(run(&data).contains("calm"));
    std::fs::remove_dir(data.join("calm")).unwrap();

    for i in 0..PER_CLASS - 3 {
        std::fs::remove_file(data.join(format!("fun/{i:02}.png"))).unwrap();
    }
    let err = run(&data);
    assert!(err.contains("fun") && err.contains("at least 4"), "{err}");
    std::fs::remove_dir_all(data.join("fun")).unwrap();
    assert!(run(&data).contains("fun"));

    let err = train_emotion(
        &data,
        &out,
        &backbone,
        &TrainOptions {
            held_out: 1.0,
            ..options()
        },
        &decode,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("--held-out"), "{err}");
}
