//! A track's own page, `/t/{id}`: the painting, what the chain found in it, the text the
//! composer heard, the music with its downloads, sharing, and Make another.

use ekphrasis_shared::TrackId;
use ekphrasis_shared::api::{GalleryItem, TrackInfo};
use leptos::prelude::*;

use crate::api;
use crate::components::gallery::GalleryList;
use crate::components::not_here::NotHere;
use crate::components::problem_notice::ProblemNotice;
use crate::components::share_bar::ShareBar;
use crate::components::stages::{Caption, Description, EmotionBars, labeller_words};
use crate::job::{Job, settings_words, title_case};
use crate::nav::Nav;
use crate::problem::Problem;
use crate::route::again_path;
use crate::studio::Studio;
use crate::{share, speech, spoken};

/// What asking for the track gave.
#[derive(Clone, Debug, PartialEq)]
enum Loaded {
    Found(Box<TrackInfo>),
    NotHere,
    Failed(Problem),
}

/// The page of the track `id` (as written in the address).
#[component]
pub fn TrackPage(id: Option<TrackId>, gallery: Signal<Option<GalleryList>>) -> impl IntoView {
    let Some(id) = id else {
        return view! { <NotHere what="This track is not on this server." /> }.into_any();
    };
    let track = LocalResource::new(move || {
        let id = id.clone();
        async move {
            match api::track(&id).await {
                Ok(info) => Loaded::Found(Box::new(info)),
                Err(error) if error.is_not_found() => Loaded::NotHere,
                Err(error) => Loaded::Failed(error.problem()),
            }
        }
    });
    (move || match track.get() {
        None => {
            view! { <p class="card loading" data-testid="track-loading">"Opening the piece…"</p> }
                .into_any()
        }
        Some(Loaded::NotHere) => {
            view! { <NotHere what="This track is not on this server." /> }.into_any()
        }
        Some(Loaded::Failed(problem)) => view! {
            <section class="card">
                <ProblemNotice problem=problem />
                <p><a href="/">"Back to the home page"</a></p>
            </section>
        }
        .into_any(),
        Some(Loaded::Found(info)) => view! { <Track info=*info gallery=gallery /> }.into_any(),
    })
    .into_any()
}

/// A found track.
#[component]
fn Track(info: TrackInfo, gallery: Signal<Option<GalleryList>>) -> impl IntoView {
    let nav = expect_context::<Nav>();
    let studio = expect_context::<Studio>();
    let item = {
        let wanted = info.gallery.clone();
        Memo::new(move |_| -> Option<GalleryItem> {
            let wanted = wanted.as_ref()?;
            gallery.with(|list| {
                list.as_ref()?
                    .as_ref()
                    .ok()?
                    .iter()
                    .find(|item| &item.id == wanted)
                    .cloned()
            })
        })
    };
    let emotion = info.emotion;
    let heading = Memo::new(move |_| {
        let painting = item.with(|item| item.as_ref().map(|item| item.title.clone()));
        share::title(Some(emotion), painting.as_deref())
    });
    Effect::new(move |_| document().set_title(&format!("{} — Ekphrasis", heading.get())));
    on_cleanup(|| document().set_title("Ekphrasis — music from paintings"));

    let alt = info
        .caption
        .clone()
        .unwrap_or_else(|| "the painting".to_owned());
    let made = made_on(info.created_at);
    // Read aloud, then the music: for people who cannot see the painting.
    let audio = NodeRef::<leptos::html::Audio>::new();
    let reading = RwSignal::new(false);
    let words = spoken::reading(&Job::from_track(&info));
    let read_then_play = move |_| {
        let Some(words) = words.clone() else {
            return;
        };
        if let Some(audio) = audio.get_untracked() {
            let _ = audio.pause();
            audio.set_current_time(0.0);
        }
        reading.set(true);
        speech::speak(&words, 1.0, move || {
            reading.set(false);
            if let Some(audio) = audio.get_untracked() {
                // Refused only when the browser wants a gesture first; the controls remain.
                let _ = audio.play();
            }
        });
    };
    on_cleanup(speech::cancel);
    let settings = settings_words(&info.settings);
    let again = {
        let id = info.id.clone();
        move |_| {
            // The click lets the page make sound when the new piece arrives.
            studio.player.unlock();
            nav.go(&again_path(&id));
        }
    };
    view! {
        <article class="track-page" data-testid="track-page">
            <div class="track-art">
                <img class="track-image" src=info.image_url.clone() alt=alt data-testid="track-image" />
                {move || {
                    item.get()
                        .map(|item| {
                            view! {
                                <p class="note">
                                    {format!("“{}” · {}", item.title, item.artist)}
                                    {item.year.map(|year| format!(", {year}"))}
                                    <br />
                                    {format!("{} · {}", item.credit, item.licence)}
                                </p>
                            }
                        })
                }}
            </div>
            <div class="track-body">
                <section class="card">
                    <h2 class="track-title" data-testid="track-title">{move || heading.get()}</h2>
                    <p class="settings-line">{settings} " · made " {made}</p>
                    {info.demo
                        .then(|| {
                            view! {
                                <p class="demo-note" data-testid="demo-note">
                                    "Made by the demo models: the music is noise, and the words are made up."
                                </p>
                            }
                        })}
                    <audio
                        class="track-audio"
                        controls
                        preload="auto"
                        src=info.wav_url.clone()
                        data-testid="track-audio"
                        node_ref=audio
                    ></audio>
                    {speech::available()
                        .then(|| {
                            view! {
                                <button
                                    type="button"
                                    class="button secondary read-aloud-button"
                                    data-testid="read-then-play"
                                    on:click=read_then_play
                                >
                                    {move || {
                                        if reading.get() { "Reading aloud…" } else { "Read it aloud, then play" }
                                    }}
                                </button>
                            }
                        })}
                    <div class="downloads">
                        <a class="button secondary" href=info.wav_url.clone() download="" data-testid="download-wav">
                            "Download WAV"
                        </a>
                        <a
                            class="button secondary"
                            href=info.compressed_url.clone()
                            download=""
                            data-testid="download-ogg"
                        >
                            "Download OGG"
                        </a>
                        <button type="button" class="button primary" data-testid="make-another" on:click=again>
                            "Make another"
                        </button>
                    </div>
                    <p class="hint">"Make another composes the same painting with the same settings and a new seed."</p>
                    <ShareBar share_path=info.share_path.clone() title=heading.get_untracked() show_page_link=false />
                </section>
                <section class="card">
                    <h2>"What the painting became"</h2>
                    <h3 class="track-section">"Emotion"</h3>
                    <p class="finding">
                        "The painting feels " <strong>{info.emotion.as_str()}</strong> "."
                    </p>
                    <EmotionBars label=info.emotion probabilities=info.probabilities />
                    <p class="note">"Labelled by " {labeller_words(&info.labeller)} "."</p>
                    {info.caption.clone().map(|text| view! {
                        <h3 class="track-section">"Caption"</h3>
                        <Caption text=text />
                    })}
                    {info.description.clone().map(|text| view! {
                        <h3 class="track-section">"Musical description"</h3>
                        <Description text=text />
                    })}
                    <h3 class="track-section">"What the composer heard"</h3>
                    <blockquote class="finding quote" data-testid="music-text">{info.music_text.clone()}</blockquote>
                    <p class="note">
                        {format!("{} variant: ", title_case(info.settings.variant.as_str()))}
                        {info.settings.variant.explanation()}
                    </p>
                    {info.clap.map(|clap| {
                        let emotion = info.emotion.as_str();
                        view! {
                            <h3 class="track-section">"How closely the music matches the words"</h3>
                            <dl class="alignment" data-testid="clap-alignment">
                                <dt>{format!("\u{201c}{emotion} song\u{201d}")}</dt>
                                <dd data-testid="clap-emotion">{alignment_words(clap.emotion)}</dd>
                                <dt>"What the composer heard"</dt>
                                <dd data-testid="clap-music-text">{alignment_words(clap.music_text)}</dd>
                            </dl>
                            <p class="note">
                                "CLAP's cosine of the music and the words, from \u{2212}1 to 1 (the paper's tuned models average 0.08 to 0.13)."
                            </p>
                        }
                    })}
                </section>
            </div>
        </article>
    }
}

/// A CLAP cosine as the page shows it: two decimals, a true minus sign, and a word for it.
pub fn alignment_words(cosine: f32) -> String {
    let word = match cosine {
        c if c >= 0.3 => "close",
        c if c >= 0.1 => "fair",
        c if c >= 0.0 => "loose",
        _ => "unrelated",
    };
    let number = format!("{cosine:.2}").replace('-', "\u{2212}");
    format!("{number} ({word})")
}

/// The day a track was made, e.g. `2 December 2026`.
fn made_on(created_at: i64) -> String {
    use wasm_bindgen::JsValue;
    let date = js_sys::Date::new(&JsValue::from_f64(created_at as f64 * 1000.0));
    let options = js_sys::Object::new();
    for (key, value) in [("day", "numeric"), ("month", "long"), ("year", "numeric")] {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
    }
    String::from(date.to_locale_date_string("en-GB", &options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_reads_as_a_number_and_a_word() {
        assert_eq!(alignment_words(0.347), "0.35 (close)");
        assert_eq!(alignment_words(0.12), "0.12 (fair)");
        assert_eq!(alignment_words(0.0), "0.00 (loose)");
        assert_eq!(alignment_words(-0.05), "\u{2212}0.05 (unrelated)");
    }
}
