//! The chain's four models at full size with seeded random weights built from the published
//! configurations (no download), for benchmarks: `bench chain` runs them through the pipeline,
//! `bench server` through the job runtime as a [`ModelSource`]. The tokenizers are the tiny
//! model set's (their ids are valid in every full-size vocabulary); with random weights
//! Falcon-RW's words are noise. The optimized variant's "fine-tuned" MusicGen is a second random
//! MusicGen of the same size (its speed is what is measured).

use std::collections::BTreeMap;

use candle_core::Device;
use ekphrasis_models::blip::Blip;
use ekphrasis_models::device::compute_dtype;
use ekphrasis_models::emotion::Labeller;
use ekphrasis_models::emotion::resnet::ResNetConfig;
use ekphrasis_models::emotion::resnet_bigru::{EmotionModel, HeadConfig};
use ekphrasis_models::eval::clap::Clap;
use ekphrasis_models::falcon_rw::{self, FalconRw};
use ekphrasis_models::image_prep::ImageProcessorConfig;
use ekphrasis_models::musicgen::{self, MusicGen};
use ekphrasis_models::pipeline::{Models, Pipeline};
use ekphrasis_models::tiny::SmallTokenizers;
use ekphrasis_shared::domain::Variant;

use crate::checkpoints::model_set::LoadOptions;
use crate::checkpoints::quantize::QuantizeChoice;
use crate::checkpoints::source::ModelSource;

/// Builds the models `variants` need on `device`, quantized as `quantize` chooses there.
pub fn models(
    variants: &[Variant],
    device: &Device,
    quantize: QuantizeChoice,
) -> anyhow::Result<Models> {
    let dtype = compute_dtype(device);
    let tokenizers = SmallTokenizers::new()?;
    let needs = |stage: fn(Variant) -> bool| variants.iter().any(|v| stage(*v));
    let labeller = Labeller::ResNetBiGru(Box::new(EmotionModel::random(
        ResNetConfig::resnet50(),
        HeadConfig::default(),
        ImageProcessorConfig::resnet50(),
        0,
        device,
    )?));
    let blip = if needs(|v| ekphrasis_models::pipeline::needs(v).0) {
        let config = ekphrasis_models::blip::Config::blip_large();
        Some(Blip::random(config, 1, device, dtype)?.with_tokenizer(tokenizers.blip))
    } else {
        None
    };
    let falcon = if needs(|v| ekphrasis_models::pipeline::needs(v).1) {
        let mut falcon = FalconRw::random(falcon_rw::Config::falcon_rw_1b(), 2, device, dtype)?
            .with_tokenizer(tokenizers.falcon);
        if let Some(quantization) = quantize.for_falcon(device, falcon.config()) {
            falcon.quantize(quantization)?;
        }
        Some(falcon)
    } else {
        None
    };
    let composer = |seed: u64| -> anyhow::Result<MusicGen> {
        let mut musicgen =
            MusicGen::random(musicgen::Config::musicgen_small(), seed, device, dtype)?
                .with_tokenizer(tokenizers.t5.clone());
        if let Some(quantization) = quantize.for_musicgen(device, musicgen.config()) {
            musicgen.quantize_decoder(quantization)?;
        }
        Ok(musicgen)
    };
    let musicgen = needs(|v| v != Variant::Optimized)
        .then(|| composer(3))
        .transpose()?;
    let tuned = if variants.contains(&Variant::Optimized) {
        vec![(Variant::Optimized, composer(4)?)]
    } else {
        Vec::new()
    };
    Ok(Models {
        labeller,
        blip,
        falcon,
        musicgen,
        tuned,
    })
}

/// The full-size random models as a job runtime's source.
#[derive(Debug, Clone)]
pub struct FullSizeRandom {
    pub variants: Vec<Variant>,
}

impl ModelSource for FullSizeRandom {
    fn revisions(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(
            "models".to_owned(),
            "random full size, seeds 0-4".to_owned(),
        )])
    }

    fn variants(&self) -> Vec<Variant> {
        self.variants.clone()
    }

    fn composer_role(&self, variant: Variant) -> Option<String> {
        self.variants.contains(&variant).then(|| {
            if variant == Variant::Optimized {
                "optimized"
            } else {
                "musicgen"
            }
            .to_owned()
        })
    }

    /// Every model a server holds (a worker warms each stage), and the optimized variant's
    /// second MusicGen only when it is measured.
    fn load(&self, options: &LoadOptions) -> anyhow::Result<Pipeline> {
        let device = options.device.open()?;
        let mut variants = vec![Variant::Emotive, Variant::Lyrical];
        variants.extend(&self.variants);
        Ok(Pipeline::new(models(&variants, &device, options.quantize)?))
    }

    fn load_judge(&self, _options: &LoadOptions) -> anyhow::Result<Option<Clap>> {
        Ok(None)
    }
}
