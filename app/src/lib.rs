//! Ekphrasis in the browser: choose a painting, and follow the server as it reads the
//! painting's emotion, captions it, describes it musically and composes, playing the music as
//! it arrives; share it; open a track's own page.
//!
//! # Layout
//! Pure logic (what the page shows, sends and schedules) lives in modules that do not touch
//! the browser and are tested on the host: `route`, `backoff`, `connection`, `problem`,
//! `form`, `painting`, `upload`, `compose`, `job`, `resume` (picking a piece up again after the
//! connection drops), `again`, `models_notice`, `share`, `audio`,
//! `wav`, `timeline` (when each chunk of audio plays), `playback` (the player's state),
//! `waveform` and `clock`. Browser code is kept thin: `api` (HTTP) and `ws` (the socket) talk
//! to the server, `player` makes the Web Audio calls, `nav` moves between pages, `sharing`
//! uses the clipboard and share sheet, `studio` holds the home page's state and actions, and
//! `components` draw the pages.

mod again;
mod api;
mod audio;
mod backoff;
mod canvas;
mod clock;
mod components;
mod compose;
mod connection;
mod crossfader;
mod form;
mod job;
mod kiosk_library;
mod kiosk_settings;
mod models_notice;
mod nav;
mod painting;
mod playback;
mod player;
mod problem;
mod qr;
mod resume;
mod rhythm;
mod route;
mod screen;
mod share;
mod sharing;
mod speech;
mod spoken;
mod studio;
mod timeline;
mod upload;
mod wav;
mod waveform;
mod web_audio;
mod ws;

use leptos::prelude::*;

use crate::components::footer::Footer;
use crate::components::header::Header;
use crate::components::home::HomePage;
use crate::components::kiosk::KioskPage;
use crate::components::models_banner::ModelsBanner;
use crate::components::not_here::NotHere;
use crate::components::track_page::TrackPage;
use crate::nav::Nav;
use crate::route::Route;
use crate::studio::Studio;

/// Mounts the app on the page's body.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// Every page: the header with the connection, the models' banner, the page for the address
/// and the footer. The connection, the player and the home page's state outlive the pages.
#[component]
fn App() -> impl IntoView {
    let nav = Nav::install();
    let studio = Studio::new();
    provide_context(nav);
    provide_context(studio);
    let health = LocalResource::new(|| async { api::health().await.ok() });
    let health = Signal::derive(move || health.get().flatten());
    let gallery = LocalResource::new(|| async { api::gallery().await.map_err(|e| e.problem()) });
    let gallery = Signal::derive(move || gallery.get());
    let route = Memo::new(move |_| nav.route());

    // The kiosk fills the screen on its own: no header, links or footer.
    let kiosk_query = Memo::new(move |_| match route.get() {
        Route::Kiosk { query } => Some(query),
        _ => None,
    });

    move || match kiosk_query.get() {
        Some(query) => view! {
            <main id="main" class="kiosk-main">
                <KioskPage query=query health=health />
            </main>
        }
        .into_any(),
        None => view! {
            <div class="page">
                <a class="skip-link" href="#main">"Skip to the content"</a>
                <Header connection=studio.connection />
                <ModelsBanner health=health />
                <main id="main" tabindex="-1">
                    {move || match route.get() {
                        Route::Home { again } => {
                            view! { <HomePage again=again health=health gallery=gallery /> }
                                .into_any()
                        }
                        Route::Track { .. } => {
                            let id = route.get_untracked().track_id();
                            view! { <TrackPage id=id gallery=gallery /> }.into_any()
                        }
                        Route::Kiosk { .. } => ().into_any(),
                        Route::NotFound => {
                            view! { <NotHere what="This page is not on this server." /> }
                                .into_any()
                        }
                    }}
                </main>
                <Footer />
            </div>
        }
        .into_any(),
    }
}
