//! What the server reports, as it arrives: the queue, each stage with its result, the audio
//! received, the finished piece and any problem.

use ekphrasis_shared::{Stage, StageResult};
use leptos::prelude::*;

use crate::audio::ReceivedAudio;
use crate::components::problem_notice::ProblemNotice;
use crate::job::{Finished, Job, Phase, settings_words, stage_name, title_case};
use crate::ws::Connection;

/// The results card; its contents are a polite live region.
#[component]
pub fn Results(
    connection: Connection,
    job: RwSignal<Job>,
    audio: RwSignal<ReceivedAudio>,
) -> impl IntoView {
    let status = Memo::new(move |_| job.with(|job| job.phase.words()));
    let settings = Memo::new(move |_| job.with(|job| job.settings.as_ref().map(settings_words)));
    let finished = Memo::new(move |_| {
        job.with(|job| match &job.phase {
            Phase::Done(finished) => Some(finished.clone()),
            _ => None,
        })
    });
    let failure = Memo::new(move |_| {
        job.with(|job| match &job.phase {
            Phase::Failed(problem) => Some(problem.clone()),
            _ => None,
        })
    });
    let accepted = Memo::new(move |_| job.with(Job::was_accepted));

    view! {
        <section class="card results" aria-labelledby="results-title">
            <h2 id="results-title">"The music"</h2>
            <div class="stages" data-testid="stages" aria-live="polite">
                {move || {
                    connection.problem().map(|problem| view! { <ProblemNotice problem=problem /> })
                }}
                <p class="status-line">{move || status.get()}</p>
                {move || settings.get().map(|words| view! { <p class="settings-line">{words}</p> })}
                <Show when=move || accepted.get()>
                    <ol class="stage-list">
                        {Stage::ALL
                            .into_iter()
                            .map(|stage| view! { <StageRow stage=stage job=job audio=audio /> })
                            .collect_view()}
                    </ol>
                </Show>
                {move || finished.get().map(|finished| view! { <FinishedPiece finished=finished /> })}
                {move || failure.get().map(|problem| view! { <ProblemNotice problem=problem /> })}
            </div>
        </section>
    }
}

/// What a stage is called on the page.
fn stage_title(stage: Stage) -> &'static str {
    match stage {
        Stage::Emotion => "Emotion",
        Stage::Caption => "Caption",
        Stage::Enhance => "Musical description",
        Stage::Compose => "Music",
    }
}

/// One stage: its name, how it stands and, once done, what it found.
#[component]
fn StageRow(stage: Stage, job: RwSignal<Job>, audio: RwSignal<ReceivedAudio>) -> impl IntoView {
    let status = Memo::new(move |_| job.with(|job| job.stage_status(stage)));
    let result = Memo::new(move |_| {
        job.with(|job| job.stage(stage).and_then(|report| report.result.clone()))
    });
    view! {
        <li class="stage" data-stage=stage_name(stage) data-state=move || status.get().name()>
            <div class="stage-head">
                <h3>{stage_title(stage)}</h3>
                <span class="stage-status">{move || status.get().words()}</span>
            </div>
            {move || result.get().map(|result| view! { <StageFindings result=result /> })}
            {(stage == Stage::Compose).then(|| view! { <AudioReceived audio=audio /> })}
        </li>
    }
}

/// What a finished stage produced.
#[component]
fn StageFindings(result: StageResult) -> impl IntoView {
    match result {
        StageResult::Emotion {
            label,
            probabilities,
            labeller,
        } => {
            let bars = probabilities
                .iter()
                .map(|(emotion, probability)| {
                    let percent = probability.clamp(0.0, 1.0) * 100.0;
                    view! {
                        <li class="bar-row" class:chosen=emotion == label>
                            <span class="bar-label">{title_case(emotion.as_str())}</span>
                            <span class="bar" aria-hidden="true">
                                <span class="bar-fill" style:width=format!("{percent:.1}%")></span>
                            </span>
                            <span class="bar-value">{format!("{percent:.0}%")}</span>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <p class="finding">"The painting feels " <strong>{label.as_str()}</strong> "."</p>
                <ul class="bars" aria-label="How likely each emotion is">{bars}</ul>
                <p class="note">"Labelled by " {labeller} "."</p>
            }
            .into_any()
        }
        StageResult::Caption { text } => {
            view! { <blockquote class="finding quote">{text}</blockquote> }.into_any()
        }
        StageResult::Description { text, fallback } => view! {
            <blockquote class="finding quote">{text}</blockquote>
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

/// The audio format and how much audio has arrived.
#[component]
fn AudioReceived(audio: RwSignal<ReceivedAudio>) -> impl IntoView {
    let summary = Memo::new(move |_| audio.with(ReceivedAudio::summary));
    move || {
        summary
            .get()
            .map(|words| view! { <p class="finding">{words}</p> })
    }
}

/// The finished piece, with the link to its own page.
#[component]
fn FinishedPiece(finished: Finished) -> impl IntoView {
    view! {
        <div class="finished">
            <p>{format!("Your music is ready: {:.1} seconds.", finished.seconds)}</p>
            <a class="button primary" href=finished.share_path>
                "Open the piece's page"
            </a>
        </div>
    }
}
