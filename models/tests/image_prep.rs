//! Pixel values against the reference: PNG test images run through transformers' image
//! processors, both the default torchvision backend and the PIL one
//! (`models/fixtures/make_vision_fixtures.py`, `tests/data/image-prep/`).

use std::path::PathBuf;

use candle_core::{DType, Device};
use ekphrasis_models::Error;
use ekphrasis_models::checkpoint::CheckpointDir;
use ekphrasis_models::image_prep::{
    ImageProcessorConfig, ProcessorKind, ResizeBackend, pixel_values, to_rgb,
};

use crate::common;

use common::{Fixture, data_dir, max_abs_diff};

/// Normalised values: one 8-bit level is about 0.015 after CLIP's normalisation, so this asks
/// for the same 8-bit resampling result and the same float arithmetic.
const F32_TOLERANCE: f32 = 1e-5;

fn fixture_dir() -> PathBuf {
    data_dir("image-prep")
}

impl Fixture {
    fn config(&self, name: &str) -> ImageProcessorConfig {
        let dir = fixture_dir().join(self.json["configs"][name].as_str().unwrap());
        ImageProcessorConfig::load(&CheckpointDir::open(dir).unwrap()).unwrap()
    }
}

fn decode(name: &str) -> image::DynamicImage {
    image::open(fixture_dir().join(name)).unwrap()
}

#[test]
fn pixel_values_match_transformers_processors() {
    let fixture = Fixture::load(&fixture_dir());
    let cases = fixture.json["cases"].as_array().unwrap();
    assert!(cases.len() > 40);
    let mut worst = 0f32;
    for case in cases {
        let key = case["key"].as_str().unwrap();
        let mut cfg = fixture.config(case["config"].as_str().unwrap());
        cfg.backend = match case["backend"].as_str().unwrap() {
            "torchvision" => ResizeBackend::Torchvision,
            "pil" => ResizeBackend::Pil,
            other => panic!("{other}"),
        };
        let eight_bit = case["kind"] == "u8";
        if eight_bit {
            cfg.do_rescale = Some(false);
            cfg.do_normalize = Some(false);
        }
        let rgb = to_rgb(&decode(case["image"].as_str().unwrap()));
        let got = pixel_values(&rgb, &cfg, &Device::Cpu).unwrap();
        let want = fixture.tensors[key].to_dtype(DType::F32).unwrap();
        let diff = max_abs_diff(&got, &want);
        if eight_bit {
            assert_eq!(diff, 0.0, "{key}: 8-bit values differ by up to {diff}");
        } else {
            assert!(diff <= F32_TOLERANCE, "{key}: {diff}");
            worst = worst.max(diff);
        }
        let (h, w) = cfg
            .output_size(rgb.height() as usize, rgb.width() as usize)
            .unwrap();
        assert_eq!(got.dims(), [3, h, w], "{key}");
    }
    eprintln!("largest difference of normalised values: {worst:e}");
}

#[test]
fn rgb_conversion_matches_transformers() {
    let fixture = Fixture::load(&fixture_dir());
    for name in fixture.json["images"].as_object().unwrap().keys() {
        let rgb = to_rgb(&decode(&format!("{name}.png")));
        let want = &fixture.tensors[&format!("{name}.rgb")];
        let (h, w) = (rgb.height() as usize, rgb.width() as usize);
        assert_eq!(want.dims(), [h, w, 3], "{name}");
        let want = want.flatten_all().unwrap().to_vec1::<u8>().unwrap();
        assert_eq!(rgb.as_raw(), &want, "{name}");
    }
}

#[test]
fn the_published_configs_parse() {
    let fixture = Fixture::load(&fixture_dir());
    let clip = fixture.config("clip-vit-base-patch32");
    assert_eq!(clip.kind().unwrap(), ProcessorKind::Clip);
    assert_eq!(clip.output_size(200, 300).unwrap(), (224, 224));
    let blip = fixture.config("blip-image-captioning-large");
    assert_eq!(blip.kind().unwrap(), ProcessorKind::Blip);
    assert_eq!(blip.output_size(200, 300).unwrap(), (384, 384));
    let resnet = fixture.config("resnet-50");
    assert_eq!(resnet.kind().unwrap(), ProcessorKind::ConvNext);
    assert_eq!(resnet.output_size(200, 300).unwrap(), (224, 224));
    // the BLIP-base substitute uses the older flat layout with an integer size
    let base = data_dir("real-configs").join("blip-base-preprocessor_config.json");
    let text = std::fs::read_to_string(&base).unwrap();
    let cfg = ImageProcessorConfig::from_json(&text, &base).unwrap();
    assert_eq!(cfg.output_size(10, 20).unwrap(), (384, 384));
}

#[test]
fn missing_and_bad_configs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = CheckpointDir::open(dir.path()).unwrap();
    let err = ImageProcessorConfig::load(&ckpt).unwrap_err();
    assert!(matches!(err, Error::MissingFile { .. }), "{err}");
    assert!(
        err.to_string().contains("preprocessor_config.json"),
        "{err}"
    );

    std::fs::write(dir.path().join("preprocessor_config.json"), "{not json").unwrap();
    let err = ImageProcessorConfig::load(&ckpt).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");

    // a MusicGen feature extractor is not an image processor
    std::fs::write(
        dir.path().join("preprocessor_config.json"),
        r#"{"feature_extractor_type": "EncodecFeatureExtractor", "sampling_rate": 32000}"#,
    )
    .unwrap();
    match ImageProcessorConfig::load(&ckpt).unwrap_err() {
        Error::Unsupported { field, path, .. } => {
            assert_eq!(field, "feature_extractor_type");
            assert!(path.ends_with("preprocessor_config.json"));
        }
        other => panic!("{other}"),
    }
    // the nested transformers 5 layout wins over preprocessor_config.json
    std::fs::write(
        dir.path().join("processor_config.json"),
        r#"{"image_processor": {"image_processor_type": "BlipImageProcessor", "size": 16}}"#,
    )
    .unwrap();
    let cfg = ImageProcessorConfig::load(&ckpt).unwrap();
    assert_eq!(cfg.output_size(5, 9).unwrap(), (16, 16));
}

#[test]
fn empty_images_are_errors() {
    let fixture = Fixture::load(&fixture_dir());
    let cfg = fixture.config("clip-small");
    let err = pixel_values(&image::RgbImage::new(0, 5), &cfg, &Device::Cpu).unwrap_err();
    assert!(matches!(err, Error::Input(_)), "{err}");
}

#[test]
fn one_pixel_images_work() {
    let fixture = Fixture::load(&fixture_dir());
    for name in ["clip-small", "convnext-small", "vit-small", "blip-small"] {
        let cfg = fixture.config(name);
        let out = pixel_values(
            &image::RgbImage::from_pixel(1, 1, image::Rgb([9, 200, 77])),
            &cfg,
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(out.dims()[0], 3, "{name}");
    }
}
