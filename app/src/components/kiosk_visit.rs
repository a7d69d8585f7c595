//! A kiosk visit: the painting a visitor touched (or brought), what the chain found in it in
//! large type (the emotion with its bars, the caption, the musical description) as it arrives,
//! a QR code of the piece's share link to take the music home, and large buttons to hear it
//! again or go back to all the paintings. Findings too long for the screen scroll, with a cue;
//! a visitor's own painting shows the step it is at and how much music is made.

use ekphrasis_shared::{Stage, StageResult};
use leptos::html;
use leptos::prelude::*;

use crate::components::problem_notice::ProblemNotice;
use crate::components::qr_code::QrCode;
use crate::components::stages::{Caption, Description, EmotionBars};
use crate::job::{Job, Phase};
use crate::playback::PlayerView;

/// What a visit shows besides the piece's stages.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitPainting {
    /// The painting's image address.
    pub image_url: Option<String>,
    /// Words for people who cannot see it.
    pub alt: String,
    /// Its title and byline, for a gallery painting.
    pub title: Option<(String, String)>,
}

/// The visit's page. `job` is the piece (stored or being made), `share_url` its absolute share
/// link once it has one, `sounding` whether its music plays now.
#[component]
pub fn KioskVisit(
    #[prop(into)] painting: Signal<VisitPainting>,
    #[prop(into)] job: Signal<Job>,
    #[prop(into)] share_url: Signal<Option<String>>,
    #[prop(into)] sounding: Signal<bool>,
    on_replay: Callback<()>,
    on_back: Callback<()>,
    /// The player of a piece being made here (a visitor's own painting): its progress is shown.
    #[prop(optional, into)]
    making: Option<Signal<PlayerView>>,
) -> impl IntoView {
    let finding = move |stage: Stage| {
        Memo::new(move |_| job.with(|job| job.stage(stage).and_then(|r| r.result.clone())))
    };
    let emotion = finding(Stage::Emotion);
    let caption = finding(Stage::Caption);
    let description = finding(Stage::Enhance);
    let status = Memo::new(move |_| {
        let player = making.map(|view| view.get()).unwrap_or_default();
        job.with(|job| match &job.phase {
            Phase::Failed(_) | Phase::Done(_) | Phase::Idle => None,
            phase => job.progress_words(&player).or_else(|| Some(phase.words())),
        })
    });
    // Long findings scroll: a cue says there is more below until the end is in view.
    let findings = NodeRef::<html::Div>::new();
    let more_below = RwSignal::new(false);
    let check_more = move || {
        if let Some(el) = findings.get_untracked() {
            more_below.set(el.scroll_top() + el.client_height() + 4 < el.scroll_height());
        }
    };
    Effect::new(move |_| {
        // Again whenever what is shown changes, once it is drawn.
        job.track();
        request_animation_frame(check_more);
    });
    let problem = Memo::new(move |_| {
        job.with(|job| match &job.phase {
            Phase::Failed(problem) => Some(problem.clone()),
            _ => None,
        })
    });
    // The caption describes the painting: once there is one, it is the image's text too.
    let alt = Memo::new(move |_| {
        let alt = painting.with(|p| p.alt.clone());
        match caption.get() {
            Some(StageResult::Caption { text }) => format!("{alt} Caption: {text}"),
            _ => alt,
        }
    });

    view! {
        <section
            class="kiosk-visit"
            data-testid="kiosk-visit"
            data-phase=move || job.with(|job| job.phase.name())
            aria-labelledby="visit-title"
        >
            <figure class="visit-painting">
                {move || {
                    painting
                        .with(|p| p.image_url.clone())
                        .map(|url| {
                            view! {
                                <img src=url alt=move || alt.get() data-testid="visit-image" />
                            }
                        })
                }}
            </figure>
            <div class="visit-words">
                {move || {
                    let title = painting.with(|p| p.title.clone());
                    match title {
                        Some((title, byline)) => view! {
                            <h2 id="visit-title" class="visit-title">{title}</h2>
                            <p class="visit-byline">{byline}</p>
                        }
                        .into_any(),
                        None => view! { <h2 id="visit-title" class="visit-title">"Your painting"</h2> }
                            .into_any(),
                    }
                }}
                <div class="visit-findings" node_ref=findings on:scroll=move |_| check_more()>
                    {move || status.get().map(|words| view! { <p class="visit-status" data-testid="visit-status">{words}</p> })}
                    {move || problem.get().map(|problem| view! { <ProblemNotice problem=problem /> })}
                    {move || match emotion.get() {
                        Some(StageResult::Emotion { label, probabilities, .. }) => Some(view! {
                            <p class="visit-emotion" data-testid="visit-emotion" data-emotion=label.as_str()>
                                "This painting feels " <strong>{label.as_str()}</strong>
                            </p>
                            <EmotionBars label=label probabilities=probabilities />
                        }),
                        _ => None,
                    }}
                    {move || match caption.get() {
                        Some(StageResult::Caption { text }) => Some(view! { <Caption text=text /> }),
                        _ => None,
                    }}
                    {move || match description.get() {
                        Some(StageResult::Description { text, .. }) => {
                            Some(view! { <Description text=text /> })
                        }
                        _ => None,
                    }}
                </div>
                <Show when=move || more_below.get()>
                    <p class="scroll-cue" data-testid="scroll-cue" aria-hidden="true">"More below — scroll ↓"</p>
                </Show>
                <div class="visit-foot">
                    <div class="visit-actions">
                        <button
                            type="button"
                            class="button primary kiosk-button"
                            data-testid="visit-replay"
                            disabled=move || job.with(|job| job.finished().is_none())
                            on:click=move |_| on_replay.run(())
                        >
                            "Hear it again"
                        </button>
                        <button
                            type="button"
                            class="button secondary kiosk-button"
                            data-testid="visit-back"
                            on:click=move |_| on_back.run(())
                        >
                            "Back to all paintings"
                        </button>
                        <p class="visit-sounding" data-testid="visit-sounding" data-sounding=move || sounding.get().to_string()>
                            {move || if sounding.get() { "♪ Playing" } else { "" }}
                        </p>
                    </div>
                    {move || {
                        share_url
                            .get()
                            .map(|url| {
                                view! {
                                    <div class="visit-take-home" data-testid="take-home">
                                        <QrCode
                                            text=url.clone()
                                            css_size=150
                                            label="QR code of this music's page, to open it on your phone"
                                        />
                                        <p class="take-home-words">"Scan to take this music home."</p>
                                    </div>
                                }
                            })
                    }}
                </div>
            </div>
        </section>
    }
}
