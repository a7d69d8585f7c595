//! What the server reports, as it arrives: the queue, each stage with its result, the player
//! once music comes, the finished piece with its share link, and any problem.

use ekphrasis_shared::Stage;
use leptos::prelude::*;

use crate::audio::ReceivedAudio;
use crate::components::announcer::Announcer;
use crate::components::player_panel::PlayerPanel;
use crate::components::problem_notice::ProblemNotice;
use crate::components::share_bar::ShareBar;
use crate::components::stages::StageFindings;
use crate::job::{Job, JobKind, Phase, settings_words, stage_name};
use crate::studio::Studio;
use crate::{share, spoken};

/// The results card; what each stage finds is also announced through a live region.
#[component]
pub fn Results(studio: Studio) -> impl IntoView {
    let job = studio.job;
    let connection = studio.connection;
    let status = Memo::new(move |_| {
        let chosen = studio.painting.with(|p| p.image().is_some());
        job.with(|job| job.status_words(chosen))
    });
    let settings = Memo::new(move |_| job.with(|job| job.settings.as_ref().map(settings_words)));
    let finished = Memo::new(move |_| job.with(|job| job.finished().cloned()));
    let failure = Memo::new(move |_| {
        job.with(|job| match &job.phase {
            Phase::Failed(problem) => Some(problem.clone()),
            _ => None,
        })
    });
    let accepted = Memo::new(move |_| job.with(Job::was_accepted));
    let stages = Memo::new(move |_| job.with(Job::stages_shown));
    let has_player = Memo::new(move |_| {
        job.with(|job| job.kind == JobKind::Compose && job.phase != Phase::Idle)
    });
    let title = Memo::new(move |_| {
        let emotion = job.with(|job| match job.stage(Stage::Emotion)?.result.as_ref()? {
            ekphrasis_shared::StageResult::Emotion { label, .. } => Some(*label),
            _ => None,
        });
        let painting = studio
            .painting
            .with(|p| p.gallery_item().map(|item| item.title.clone()));
        share::title(emotion, painting.as_deref())
    });

    let announcements = Signal::derive(move || job.with(spoken::announcements));

    view! {
        <section class="card results" aria-labelledby="results-title">
            <h2 id="results-title">"The music"</h2>
            <Announcer lines=announcements />
            <div class="stages" data-testid="stages">
                {move || {
                    connection.problem().map(|problem| view! { <ProblemNotice problem=problem /> })
                }}
                <p
                    class="status-line"
                    data-testid="status"
                    data-phase=move || job.with(|job| job.phase.name())
                    data-link=move || job.with(|job| job.link().name())
                >
                    {move || status.get()}
                </p>
                {move || settings.get().map(|words| view! { <p class="settings-line">{words}</p> })}
                <Show when=move || accepted.get()>
                    <ol class="stage-list">
                        {move || {
                            stages
                                .get()
                                .into_iter()
                                .map(|stage| {
                                    view! {
                                        <StageRow stage=stage job=job audio=studio.player.audio() />
                                    }
                                })
                                .collect_view()
                        }}
                    </ol>
                </Show>
                {move || failure.get().map(|problem| view! { <ProblemNotice problem=problem /> })}
            </div>
            <Show when=move || has_player.get()>
                <PlayerPanel player=studio.player />
            </Show>
            {move || {
                finished
                    .get()
                    .map(|finished| {
                        view! {
                            <div class="finished" data-testid="finished">
                                <p id="finished-title" tabindex="-1">
                                    {if finished.stored {
                                        format!(
                                            "A piece made earlier for this painting, {:.1} seconds. Compose to make a new one.",
                                            finished.seconds,
                                        )
                                    } else {
                                        format!("Your music is ready: {:.1} seconds.", finished.seconds)
                                    }}
                                </p>
                                <div class="downloads">
                                    <a
                                        class="button secondary"
                                        href=finished.track.wav_path()
                                        download=""
                                        data-testid="download-wav"
                                    >
                                        "Download WAV"
                                    </a>
                                    <a
                                        class="button secondary"
                                        href=finished.track.ogg_path()
                                        download=""
                                        data-testid="download-ogg"
                                    >
                                        "Download OGG"
                                    </a>
                                </div>
                                <ShareBar
                                    share_path=finished.share_path.clone()
                                    title=title.get_untracked()
                                    show_page_link=true
                                />
                            </div>
                        }
                    })
            }}
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
            {move || {
                (stage == Stage::Enhance && job.with(|job| job.own_description))
                    .then(|| view! { <p class="note">"Your own words, used instead of the language model's."</p> })
            }}
            {(stage == Stage::Compose).then(|| view! { <AudioReceived audio=audio /> })}
        </li>
    }
}

/// The audio format and how much audio has arrived.
#[component]
fn AudioReceived(audio: RwSignal<ReceivedAudio>) -> impl IntoView {
    let summary = Memo::new(move |_| audio.with(ReceivedAudio::summary));
    move || {
        summary
            .get()
            .map(|words| view! { <p class="note">{words}</p> })
    }
}
