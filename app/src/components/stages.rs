//! What a finished stage found, as the home page and a track's page both show it: the emotion
//! as bars with numbers, the caption and the musical description.

use ekphrasis_shared::{Emotion, EmotionProbabilities, StageResult};
use leptos::prelude::*;

use crate::job::title_case;

/// What a finished stage produced.
#[component]
pub fn StageFindings(result: StageResult) -> impl IntoView {
    match result {
        StageResult::Emotion {
            label,
            probabilities,
            labeller,
        } => view! {
            <p class="finding">"The painting feels " <strong>{label.as_str()}</strong> "."</p>
            <EmotionBars label=label probabilities=probabilities />
            <p class="note">"Labelled by " {labeller_words(&labeller)} "."</p>
        }
        .into_any(),
        StageResult::Caption { text } => view! { <Caption text=text /> }.into_any(),
        StageResult::Description { text, fallback } => view! {
            <Description text=text />
            {fallback
                .then(|| {
                    view! {
                        <p class="note">
                            "Written from the emotion and the caption, because the language model's answer could not be used."
                        </p>
                    }
                })}
        }
        .into_any(),
    }
}

/// The five emotions' probabilities as bars, each with its number; the chosen one stands out.
#[component]
pub fn EmotionBars(label: Emotion, probabilities: EmotionProbabilities) -> impl IntoView {
    let bars = probabilities
        .iter()
        .map(|(emotion, probability)| {
            let percent = probability.clamp(0.0, 1.0) * 100.0;
            let name = title_case(emotion.as_str());
            view! {
                <li
                    class="bar-row"
                    class:chosen=emotion == label
                    data-emotion=emotion.as_str()
                    data-probability=format!("{probability:.4}")
                >
                    <span class="bar-label">{name}</span>
                    <span class="bar" aria-hidden="true">
                        <span class="bar-fill" style:width=format!("{percent:.1}%")></span>
                    </span>
                    <span class="bar-value">{format!("{percent:.0}%")}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="bars" data-testid="emotion-bars" aria-label="How likely each emotion is">
            {bars}
        </ul>
    }
}

/// The emotion-aware caption.
#[component]
pub fn Caption(text: String) -> impl IntoView {
    view! { <blockquote class="finding quote" data-testid="caption">{text}</blockquote> }
}

/// The musical description.
#[component]
pub fn Description(text: String) -> impl IntoView {
    view! { <blockquote class="finding quote lines" data-testid="description">{text}</blockquote> }
}

/// The labeller's name in words.
pub fn labeller_words(labeller: &str) -> String {
    match labeller {
        "resnet-bigru" => "the paper's emotion model (ResNet-50 and BiGRU)".to_owned(),
        "clip-zero-shot" => "CLIP, comparing the painting with each emotion's words".to_owned(),
        other => other.to_owned(),
    }
}
