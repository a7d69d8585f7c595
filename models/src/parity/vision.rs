//! The emotion labellers against transformers and PyTorch, in f32 (they compute in f32 on every
//! device): CLIP zero-shot on `clip-tiny` (text and image embeddings, logits per image) and the
//! ResNet + BiGRU model on `emotion-head-tiny/model` (backbone features, logits, probabilities).

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::Check;
use super::compare::Diff;
use super::fixture::Fixture;
use crate::emotion::clip_zero_shot::ClipZeroShot;
use crate::emotion::resnet_bigru::EmotionModel;
use crate::error::Result;

pub(super) fn clip_checks(dir: &Path, device: &Device) -> Result<Vec<Check>> {
    const MODEL: &str = "clip";
    let fixture = Fixture::load(dir)?;
    let clip = ClipZeroShot::load(dir, device)?;
    let prompts: Vec<Vec<u32>> = fixture.value("/prompt_ids")?;
    let rows = prompts
        .iter()
        .map(|ids| clip.text_embeds(&Tensor::new(ids.as_slice(), device)?.unsqueeze(0)?))
        .collect::<Result<Vec<_>>>()?;
    let text = Diff::between(&Tensor::cat(&rows, 0)?, fixture.tensor("text_embeds")?)?;

    let images: serde_json::Map<String, serde_json::Value> = fixture.value("/images")?;
    let (mut embeds, mut logits) = (Diff::default(), Diff::default());
    for name in images.keys() {
        let pixels = fixture
            .tensor(&format!("{name}.pixel_values"))?
            .to_device(device)?;
        let got = clip.image_embeds(&pixels)?;
        let want = fixture.tensor(&format!("{name}.image_embeds"))?;
        embeds = embeds.worst(Diff::between(&got, want)?);
        let got = clip.logits(&pixels)?;
        let want = fixture.tensor(&format!("{name}.logits_per_image"))?;
        logits = logits.worst(Diff::between(&got, want)?);
    }
    Ok(vec![
        Check::floats(MODEL, "text embeddings", DType::F32, text),
        Check::floats(MODEL, "image embeddings", DType::F32, embeds),
        Check::floats(MODEL, "logits per image", DType::F32, logits),
    ])
}

pub(super) fn emotion_checks(dir: &Path, device: &Device) -> Result<Vec<Check>> {
    const MODEL: &str = "emotion";
    let fixture = Fixture::load(dir)?;
    let model = EmotionModel::load(dir.join("model"), device)?;
    let pixels = fixture.tensor("model_pixel_values")?.to_device(device)?;
    let features = model.features(&pixels)?;
    let backbone = Diff::between(&features, fixture.tensor("model_features")?)?;
    let logits = model.head_logits(&features)?;
    let head = Diff::between(&logits, fixture.tensor("model_logits")?)?;
    let probs = model.probabilities_from_pixels(&pixels)?;
    let probabilities = Diff::between(&probs, fixture.tensor("model_probabilities")?)?;
    Ok(vec![
        Check::floats(MODEL, "ResNet features", DType::F32, backbone),
        Check::floats(MODEL, "head logits", DType::F32, head),
        Check::floats(MODEL, "probabilities", DType::F32, probabilities),
    ])
}
