//! The museum kiosk, `/kiosk`: an attract loop that cycles the gallery's paintings with their
//! pre-rendered music, crossfading; a visitor's touch plays that painting's piece with its words
//! in large type and a QR code to take it home; left alone, it returns to the loop. Full screen
//! after the first touch, the screen kept awake, no links out, uploads only when the address
//! allows them. It keeps what it has fetched, so it plays on through network drops and server
//! restarts, and reads the gallery again when the server is back.

use std::time::Duration;

use ekphrasis_shared::TrackId;
use ekphrasis_shared::api::{GalleryItem, Health};
use gloo_timers::future::TimeoutFuture;
use leptos::logging::warn;
use leptos::prelude::*;
use leptos::task::spawn_local;
use web_sys::File;

use crate::components::announcer::Announcer;
use crate::components::file_inputs::{FileInputs, HiddenFileInputs};
use crate::components::header::ConnectionBadge;
use crate::components::kiosk_visit::{KioskVisit, VisitPainting};
use crate::components::problem_notice::ProblemNotice;
use crate::crossfader::Crossfader;
use crate::job::Job;
use crate::kiosk_library::Library;
use crate::kiosk_settings::KioskSettings;
use crate::models_notice::ModelsNotice;
use crate::painting::Painting;
use crate::playback::PlayerState;
use crate::rhythm::{Change, Mode, Rhythm};
use crate::screen::{WakeLock, enter_fullscreen};
use crate::share::absolute_url;
use crate::studio::Studio;
use crate::{api, backoff, speech, spoken};

/// How often the kiosk looks at the clock.
const TICK: Duration = Duration::from_millis(250);
/// Crossfade between the attract loop's pieces, in seconds.
const LOOP_FADE: f64 = 1.5;
/// Fade into a touched painting's piece.
const VISIT_FADE: f64 = 0.4;
/// How often the gallery is read again while all is well, in milliseconds.
const GALLERY_REFRESH_MS: u32 = 120_000;

/// Seconds on the page's clock.
fn now() -> f64 {
    js_sys::Date::now() / 1000.0
}

/// The kiosk's state and what it does; every field is a cheap handle.
#[derive(Clone, Copy)]
struct Kiosk {
    settings: StoredValue<KioskSettings>,
    studio: Studio,
    crossfader: Crossfader,
    library: Library,
    items: RwSignal<Vec<GalleryItem>>,
    rhythm: StoredValue<Rhythm>,
    /// What the kiosk shows, and the attract loop's painting (copies of `rhythm`'s, tracked).
    mode: RwSignal<Mode>,
    loop_index: RwSignal<Option<usize>>,
    /// Whether the loop's painting has had its piece started in this turn.
    played_this_turn: StoredValue<bool>,
    /// A stored piece's words are being read aloud before it plays.
    reading: RwSignal<bool>,
    /// The gallery could not be read while the kiosk has no paintings at all.
    gallery_unreachable: RwSignal<bool>,
    touched: StoredValue<bool>,
    alive: StoredValue<bool>,
}

impl Kiosk {
    fn item(&self, index: usize) -> Option<GalleryItem> {
        self.items.with_untracked(|items| items.get(index).cloned())
    }

    /// The stored track of the painting at `index`, if it has one.
    fn track_at(&self, index: usize) -> Option<TrackId> {
        self.items
            .with_untracked(|items| items.get(index).and_then(|item| item.track.clone()))
    }

    /// Copies the rhythm's state into the signals the view reads, when it changed.
    fn sync(&self) {
        let (mode, index) = self.rhythm.with_value(|r| (r.mode(), r.loop_index()));
        if self.mode.get_untracked() != mode {
            self.mode.set(mode);
        }
        if self.loop_index.get_untracked() != index {
            self.loop_index.set(index);
        }
    }

    /// A visitor's touch: the first one takes the whole screen and lets the audio start.
    fn touch(&self) {
        if !self.touched.get_value() {
            self.touched.set_value(true);
            enter_fullscreen();
        }
        self.crossfader.unlock();
        self.studio.player.unlock();
        self.rhythm.update_value(|r| r.touch(now()));
    }

    /// The clock moved on.
    fn tick(&self) {
        let now = now();
        let dwell = self.loop_dwell();
        let busy = self.studio.job.with_untracked(Job::is_active) || self.reading.get_untracked();
        let change = self
            .rhythm
            .try_update_value(|r| r.tick(now, dwell, busy))
            .unwrap_or(Change::Nothing);
        match change {
            Change::Nothing => {}
            Change::Advanced => self.played_this_turn.set_value(false),
            Change::BackToAttract => self.leave_visit(),
        }
        self.sync();
        if self.mode.get_untracked() == Mode::Attract && !self.played_this_turn.get_value() {
            self.play_loop_piece();
        }
    }

    /// Seconds the loop's painting stays: as its piece lasts, unless the address says.
    fn loop_dwell(&self) -> f64 {
        let piece_seconds = self
            .loop_index
            .get_untracked()
            .and_then(|index| self.track_at(index))
            .and_then(|track| self.library.get_untracked(&track))
            .map(|piece| piece.seconds);
        self.settings.with_value(|s| s.dwell_for(piece_seconds))
    }

    /// Starts the loop painting's piece, crossfading, once it is here.
    fn play_loop_piece(&self) {
        let Some(index) = self.loop_index.get_untracked() else {
            return;
        };
        match self.track_at(index) {
            Some(track) => {
                if let Some(piece) = self.library.get_untracked(&track) {
                    self.crossfader.play(track, &piece.buffer, LOOP_FADE);
                    self.played_this_turn.set_value(true);
                }
            }
            None => {
                // A painting without a piece is shown in silence.
                self.crossfader.fade_out(LOOP_FADE);
                self.played_this_turn.set_value(true);
            }
        }
    }

    /// A visitor chose the painting at `index`: its piece plays from the start (read aloud
    /// first when the kiosk is set to), or, when it has none yet, it is composed now.
    fn visit(&self, index: usize) {
        let Some(item) = self.item(index) else {
            return;
        };
        self.touch();
        self.stop_live();
        self.rhythm.update_value(|r| r.visit(index, now()));
        self.sync();
        match item.track.clone() {
            Some(track) => match self.library.get_untracked(&track) {
                Some(_) => self.play_visit_piece(index, track),
                None => {
                    self.crossfader.fade_out(VISIT_FADE);
                    let kiosk = *self;
                    spawn_local(async move {
                        let fetched = kiosk.library.fetch(track.clone(), kiosk.crossfader).await;
                        if kiosk.mode.get_untracked() != Mode::Visit(index) {
                            return;
                        }
                        match fetched {
                            Ok(()) => kiosk.play_visit_piece(index, track),
                            Err(problem) => kiosk.studio.job.set(Job::failed(problem)),
                        }
                    });
                }
            },
            None => {
                self.crossfader.fade_out(VISIT_FADE);
                self.studio.pick(item);
                self.studio.compose();
            }
        }
    }

    /// Plays a visited painting's stored piece, after reading it aloud when set to.
    fn play_visit_piece(&self, index: usize, track: TrackId) {
        let Some(piece) = self.library.get_untracked(&track) else {
            return;
        };
        let speak = self.settings.with_value(|s| s.speak);
        let reading = speak
            .then(|| spoken::reading(&Job::from_track(&piece.info)))
            .flatten();
        let Some(text) = reading else {
            self.crossfader.play(track, &piece.buffer, VISIT_FADE);
            return;
        };
        self.crossfader.fade_out(VISIT_FADE);
        self.reading.set(true);
        let kiosk = *self;
        let volume = self.settings.with_value(|s| s.volume);
        speech::speak(&text, volume, move || {
            kiosk.reading.set(false);
            if kiosk.mode.get_untracked() == Mode::Visit(index) {
                kiosk.crossfader.play(track, &piece.buffer, VISIT_FADE);
            }
        });
    }

    /// Hears the visited piece again from its start.
    fn replay(&self) {
        self.touch();
        match self.mode.get_untracked() {
            Mode::Visit(index) => match self.track_at(index) {
                Some(track) => {
                    speech::cancel();
                    self.reading.set(false);
                    if let Some(piece) = self.library.get_untracked(&track) {
                        self.crossfader.play(track, &piece.buffer, VISIT_FADE);
                    }
                }
                None => self.replay_live(),
            },
            Mode::Own => self.replay_live(),
            Mode::Attract => {}
        }
    }

    fn replay_live(&self) {
        let player = self.studio.player;
        if matches!(
            player.view().state,
            PlayerState::Ended | PlayerState::Idle | PlayerState::Paused
        ) {
            player.toggle();
        }
    }

    /// A visitor wants to bring a painting of their own.
    fn own(&self) {
        self.touch();
        self.stop_live();
        self.crossfader.fade_out(VISIT_FADE);
        self.studio.choose(Painting::Nothing);
        self.rhythm.update_value(|r| r.own(now()));
        self.sync();
    }

    /// Back to the attract loop at once.
    fn back(&self) {
        self.touch();
        self.rhythm.update_value(|r| r.attract(now()));
        self.leave_visit();
        self.sync();
    }

    /// What a visit leaves behind is stopped; the loop plays on from its next painting.
    fn leave_visit(&self) {
        speech::cancel();
        self.reading.set(false);
        self.stop_live();
        self.studio.choose(Painting::Nothing);
        self.played_this_turn.set_value(false);
    }

    /// Stops a piece being composed for a visitor, and its music.
    fn stop_live(&self) {
        if self.studio.job.with_untracked(Job::is_active) {
            self.studio.cancel();
        }
        self.studio.player.stop();
    }

    /// Reads the gallery, then fetches its pieces; again and again, slowly while all is well
    /// and with backoff while the server is away. What was read before stays meanwhile.
    fn keep_gallery(&self) {
        let kiosk = *self;
        spawn_local(async move {
            let mut retry = 0;
            while kiosk.alive.get_value() {
                let wait = match api::gallery().await {
                    Ok(all) => {
                        let chosen = kiosk.settings.with_value(|s| s.select(&all));
                        if kiosk.items.with_untracked(|items| *items != chosen) {
                            let len = chosen.len();
                            kiosk.items.set(chosen.clone());
                            kiosk.rhythm.update_value(|r| r.resize(len, now()));
                            kiosk.played_this_turn.set_value(false);
                            kiosk.sync();
                        }
                        kiosk.gallery_unreachable.set(false);
                        let complete = kiosk.library.fetch_all(&chosen, kiosk.crossfader).await;
                        if complete {
                            retry = 0;
                            GALLERY_REFRESH_MS
                        } else {
                            retry += 1;
                            backoff::delay_ms(retry)
                        }
                    }
                    Err(error) => {
                        warn!("the kiosk could not read the gallery: {error}");
                        if kiosk.items.with_untracked(Vec::is_empty) {
                            kiosk.gallery_unreachable.set(true);
                        }
                        retry += 1;
                        backoff::delay_ms(retry)
                    }
                };
                TimeoutFuture::new(wait).await;
            }
        });
    }
}

/// The kiosk page; `query` holds its settings.
#[component]
pub fn KioskPage(query: String, health: Signal<Option<Health>>) -> impl IntoView {
    let studio = expect_context::<Studio>();
    let settings = KioskSettings::from_query(&query);
    let volume = settings.volume;
    let upload_allowed = settings.upload;
    let idle = settings.idle_seconds;
    let kiosk = Kiosk {
        settings: StoredValue::new(settings),
        studio,
        crossfader: Crossfader::new(volume),
        library: Library::new(),
        items: RwSignal::new(Vec::new()),
        rhythm: StoredValue::new(Rhythm::new(0, idle, now())),
        mode: RwSignal::new(Mode::Attract),
        loop_index: RwSignal::new(None),
        played_this_turn: StoredValue::new(false),
        reading: RwSignal::new(false),
        gallery_unreachable: RwSignal::new(false),
        touched: StoredValue::new(false),
        alive: StoredValue::new(true),
    };

    // The home page's reading-aloud choice and volume are the kiosk's while it shows.
    let home_choice = (
        studio.read_aloud.get_untracked(),
        studio.speech_volume.get_untracked(),
    );
    studio
        .read_aloud
        .set(kiosk.settings.with_value(|s| s.speak));
    studio.speech_volume.set(volume);
    studio.player.set_volume(volume);
    studio.choose(Painting::Nothing);

    let wake = StoredValue::new_local(WakeLock::new());
    let wake_state = wake.with_value(|wake| wake.state);
    kiosk.keep_gallery();
    let ticking = set_interval_with_handle(
        move || {
            kiosk.tick();
            wake.with_value(|wake| wake.keep(now()));
        },
        TICK,
    )
    .ok();
    on_cleanup(move || {
        kiosk.alive.set_value(false);
        if let Some(handle) = ticking {
            handle.clear();
        }
        wake.with_value(WakeLock::release);
        kiosk.crossfader.fade_out(0.2);
        kiosk.leave_visit();
        studio.read_aloud.set(home_choice.0);
        studio.speech_volume.set(home_choice.1);
        studio.player.set_volume(1.0);
    });

    let demo = Memo::new(move |_| {
        health.with(|h| h.as_ref().and_then(ModelsNotice::from_health)) == Some(ModelsNotice::Demo)
    });
    let public_url = Memo::new(move |_| health.with(|h| h.as_ref()?.public_url.clone()));

    view! {
        <div
            class="kiosk"
            data-testid="kiosk"
            data-mode=move || kiosk.mode.get().name()
            data-playing=move || kiosk.crossfader.playing().map(|t| t.to_string()).unwrap_or_default()
            data-last-started=move || {
                kiosk.crossfader.last_started().0.map(|t| t.to_string()).unwrap_or_default()
            }
            data-starts=move || kiosk.crossfader.last_started().1.to_string()
            data-wake-lock=move || wake_state.get().name()
            data-pieces=move || kiosk.items.with(|items| kiosk.library.count(items)).to_string()
            on:pointerdown=move |_| kiosk.touch()
            on:keydown=move |_| kiosk.touch()
        >
            <h1 class="visually-hidden">"Ekphrasis: music from paintings"</h1>
            <KioskAnnouncer kiosk=kiosk />
            {move || match kiosk.mode.get() {
                Mode::Attract => view! { <Attract kiosk=kiosk upload_allowed=upload_allowed /> }.into_any(),
                Mode::Visit(index) => view! { <Visit kiosk=kiosk index=index public_url=public_url /> }
                    .into_any(),
                Mode::Own => view! { <Own kiosk=kiosk public_url=public_url /> }.into_any(),
            }}
            <footer class="kiosk-footer">
                <ConnectionBadge connection=studio.connection />
                <Show when=move || demo.get()>
                    <p class="kiosk-demo" data-testid="demo-banner">
                        <strong>"Demo models"</strong>
                        " — the music is noise, the words made up."
                    </p>
                </Show>
            </footer>
        </div>
    }
}

/// Announces a visit's findings to screen readers.
#[component]
fn KioskAnnouncer(kiosk: Kiosk) -> impl IntoView {
    let lines = Signal::derive(move || match kiosk.mode.get() {
        Mode::Attract => kiosk
            .loop_index
            .get()
            .and_then(|i| kiosk.items.with(|items| items.get(i).cloned()))
            .map(|item| vec![format!("Now showing “{}” by {}.", item.title, item.artist)])
            .unwrap_or_default(),
        Mode::Visit(index) => spoken::announcements(&visit_job(kiosk, index)),
        Mode::Own => kiosk.studio.job.with(spoken::announcements),
    });
    view! { <Announcer lines=lines /> }
}

/// The piece a visit shows: the stored one, or the one being composed.
fn visit_job(kiosk: Kiosk, index: usize) -> Job {
    let stored = kiosk
        .items
        .with(|items| items.get(index).and_then(|item| item.track.clone()))
        .and_then(|track| kiosk.library.get(&track));
    match stored {
        Some(piece) => Job::from_track(&piece.info),
        // Being composed, still being fetched, or failed (then the studio's job says why).
        None => kiosk.studio.job.get(),
    }
}

/// The attract loop: the paintings crossfading, the one showing named, and all of them to
/// touch.
#[component]
fn Attract(kiosk: Kiosk, upload_allowed: bool) -> impl IntoView {
    let current = Memo::new(move |_| {
        kiosk
            .loop_index
            .get()
            .and_then(|i| kiosk.items.with(|items| items.get(i).cloned()))
    });
    view! {
        <section
            class="attract"
            data-testid="attract"
            data-index=move || kiosk.loop_index.get().map(|i| i.to_string()).unwrap_or_default()
            data-id=move || current.get().map(|item| item.id.to_string()).unwrap_or_default()
            aria-label="The paintings"
        >
            <Show when=move || kiosk.gallery_unreachable.get()>
                <p class="attract-waiting" data-testid="kiosk-waiting">
                    "The paintings are on their way…"
                </p>
            </Show>
            <button
                type="button"
                class="attract-stage"
                data-testid="attract-stage"
                aria-label=move || {
                    current
                        .get()
                        .map(|item| format!("Hear the music of “{}”", item.title))
                        .unwrap_or_else(|| "The paintings".to_owned())
                }
                on:click=move |_| {
                    if let Some(index) = kiosk.loop_index.get_untracked() {
                        kiosk.visit(index);
                    }
                }
            >
                <For
                    each=move || kiosk.items.get().into_iter().enumerate()
                    key=|(index, item)| (*index, item.id.clone())
                    children=move |(index, item)| {
                        let shown = Memo::new(move |_| kiosk.loop_index.get() == Some(index));
                        let near = Memo::new(move |_| {
                            let len = kiosk.items.with(Vec::len).max(1);
                            kiosk
                                .loop_index
                                .get()
                                .is_some_and(|at| index == at || index == (at + 1) % len)
                        });
                        let url = item.image_url.clone();
                        view! {
                            <img
                                class="attract-slide"
                                class:shown=move || shown.get()
                                src=move || near.get().then(|| url.clone())
                                alt=""
                                aria-hidden="true"
                            />
                        }
                    }
                />
            </button>
            {move || {
                current
                    .get()
                    .map(|item| {
                        view! {
                            <div class="attract-caption">
                                <p class="attract-title">{item.title.clone()}</p>
                                <p class="attract-byline">{byline(&item)}</p>
                            </div>
                        }
                    })
            }}
            <p class="attract-prompt">"Touch a painting to hear the music it inspired"</p>
            <ul class="kiosk-strip">
                <For
                    each=move || kiosk.items.get().into_iter().enumerate()
                    key=|(index, item)| (*index, item.id.clone())
                    children=move |(index, item)| {
                        let shown = Memo::new(move |_| kiosk.loop_index.get() == Some(index));
                        view! {
                            <li>
                                <button
                                    type="button"
                                    class="kiosk-item"
                                    class:shown=move || shown.get()
                                    data-testid="kiosk-item"
                                    data-id=item.id.to_string()
                                    data-ready=item.track.is_some().to_string()
                                    on:click=move |_| kiosk.visit(index)
                                >
                                    <img src=item.image_url.clone() alt="" />
                                    <span class="kiosk-item-title">{item.title.clone()}</span>
                                </button>
                            </li>
                        }
                    }
                />
                {upload_allowed
                    .then(|| {
                        view! {
                            <li>
                                <button
                                    type="button"
                                    class="kiosk-item kiosk-own-button"
                                    data-testid="kiosk-own"
                                    on:click=move |_| kiosk.own()
                                >
                                    <span class="kiosk-own-icon" aria-hidden="true">"＋"</span>
                                    <span class="kiosk-item-title">"Your own painting"</span>
                                </button>
                            </li>
                        }
                    })}
            </ul>
        </section>
    }
}

fn byline(item: &GalleryItem) -> String {
    match &item.year {
        Some(year) => format!("{}, {year}", item.artist),
        None => item.artist.clone(),
    }
}

/// A visit to the painting at `index`.
#[component]
fn Visit(kiosk: Kiosk, index: usize, public_url: Memo<Option<String>>) -> impl IntoView {
    let Some(item) = kiosk.item(index) else {
        return ().into_any();
    };
    let painting = VisitPainting {
        image_url: Some(item.image_url.clone()),
        alt: if item.alt.trim().is_empty() {
            format!("The painting “{}”.", item.title)
        } else {
            item.alt.clone()
        },
        title: Some((item.title.clone(), byline(&item))),
    };
    let job = Signal::derive(move || visit_job(kiosk, index));
    let track = item.track.clone();
    let sounding = Signal::derive(move || match &track {
        Some(track) => kiosk.crossfader.playing().as_ref() == Some(track),
        None => kiosk.studio.player.view().state == PlayerState::Playing,
    });
    view! {
        <KioskVisit
            painting=painting
            job=job
            share_url=share_url(job, public_url)
            sounding=sounding
            on_replay=Callback::new(move |()| kiosk.replay())
            on_back=Callback::new(move |()| kiosk.back())
        />
    }
    .into_any()
}

/// The absolute share link of a visit's piece, once it is finished.
fn share_url(job: Signal<Job>, public_url: Memo<Option<String>>) -> Signal<Option<String>> {
    Signal::derive(move || {
        let path = job.with(|job| job.finished().map(|f| f.share_path.clone()))?;
        let origin = public_url
            .get()
            .or_else(|| window().location().origin().ok())
            .unwrap_or_default();
        Some(absolute_url(&origin, &path))
    })
}

/// A visitor's own painting: photograph or choose it, then it is composed as on the home page.
#[component]
fn Own(kiosk: Kiosk, public_url: Memo<Option<String>>) -> impl IntoView {
    let studio = kiosk.studio;
    let inputs = FileInputs::new();
    let chosen = Memo::new(move |_| studio.painting.with(|p| p.preview_url().is_some()));
    let on_file = move |file: File| {
        kiosk.touch();
        studio.upload(file);
        studio.compose_when_ready();
    };
    let painting = Signal::derive(move || VisitPainting {
        image_url: studio.painting.with(|p| p.preview_url()),
        alt: "The painting you brought.".to_owned(),
        title: None,
    });
    let job = Signal::derive(move || studio.job.get());
    let sounding = Signal::derive(move || studio.player.view().state == PlayerState::Playing);
    let upload_problem = Memo::new(move |_| {
        studio.painting.with(|p| match p.upload() {
            crate::upload::UploadState::Failed(problem) => Some(problem),
            _ => None,
        })
    });
    view! {
        <section class="kiosk-own" data-testid="kiosk-own-view">
            <Show
                when=move || chosen.get()
                fallback=move || {
                    view! {
                        <div class="own-choice">
                            <h2>"Bring a painting of your own"</h2>
                            <p class="own-hint">
                                "Photograph a painting, or choose a picture: the music is composed for it here, now."
                            </p>
                            {move || {
                                upload_problem
                                    .get()
                                    .map(|problem| {
                                        view! {
                                            <ProblemNotice problem=problem />
                                        }
                                    })
                            }}
                            <div class="visit-actions">
                                <button
                                    type="button"
                                    class="button primary kiosk-button"
                                    data-testid="kiosk-photo"
                                    on:click=move |_| inputs.take_photo()
                                >
                                    "Photograph a painting"
                                </button>
                                <button
                                    type="button"
                                    class="button kiosk-button"
                                    data-testid="kiosk-choose"
                                    on:click=move |_| inputs.choose_file()
                                >
                                    "Choose a picture"
                                </button>
                                <button
                                    type="button"
                                    class="button secondary kiosk-button"
                                    data-testid="visit-back"
                                    on:click=move |_| kiosk.back()
                                >
                                    "Back to all paintings"
                                </button>
                            </div>
                        </div>
                    }
                }
            >
                <KioskVisit
                    painting=painting
                    job=job
                    share_url=share_url(job, public_url)
                    sounding=sounding
                    on_replay=Callback::new(move |()| kiosk.replay())
                    on_back=Callback::new(move |()| kiosk.back())
                    making=Signal::derive(move || studio.player.view())
                />
            </Show>
            <HiddenFileInputs inputs=inputs testid="kiosk-" on_file=on_file />
        </section>
    }
}
