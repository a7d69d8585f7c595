//! Ekphrasis in the browser: choose a painting, upload it, and follow the server as it reads
//! the painting's emotion, captions it, describes it musically and composes.
//!
//! Pure logic (what the page shows and sends) lives in modules that do not touch the browser:
//! `backoff`, `connection`, `problem`, `form`, `upload`, `compose`, `job` and
//! `audio`. `api` and `ws` talk to the server; `components` draw the page.

mod api;
mod audio;
mod backoff;
mod components;
mod compose;
mod connection;
mod form;
mod job;
mod problem;
mod upload;
mod ws;

use ekphrasis_shared::ServerMsg;
use leptos::prelude::*;

use crate::audio::{AudioFormat, ReceivedAudio};
use crate::components::compose_bar::ComposeBar;
use crate::components::controls::Controls;
use crate::components::footer::Footer;
use crate::components::header::Header;
use crate::components::results::Results;
use crate::components::uploader::Uploader;
use crate::form::ComposeForm;
use crate::job::Job;
use crate::upload::UploadState;
use crate::ws::{Connection, Incoming};

/// Mounts the app on the page's body.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// The whole page: the painting and the settings on one side, what the server reports on the
/// other.
#[component]
fn App() -> impl IntoView {
    let upload = RwSignal::new(UploadState::Idle);
    let form = RwSignal::new(ComposeForm::default());
    let job = RwSignal::new(Job::default());
    let audio = RwSignal::new(ReceivedAudio::default());
    let connection = Connection::open(move |incoming| receive(incoming, job, audio));

    view! {
        <div class="page">
            <Header connection=connection />
            <main class="layout">
                <div class="column">
                    <Uploader upload=upload />
                    <Controls form=form />
                    <ComposeBar connection=connection upload=upload form=form job=job audio=audio />
                </div>
                <Results connection=connection job=job audio=audio />
            </main>
            <Footer />
        </div>
    }
}

/// Files what the connection passes on: audio with the samples, the rest with the piece.
fn receive(incoming: Incoming, job: RwSignal<Job>, audio: RwSignal<ReceivedAudio>) {
    match incoming {
        Incoming::Message(message) => {
            if let ServerMsg::AudioFormat {
                sample_rate,
                channels,
                ..
            } = &message
            {
                let format = AudioFormat {
                    sample_rate: *sample_rate,
                    channels: *channels,
                };
                audio.update(|audio| audio.start(format));
            }
            job.update(|job| job.apply(message));
        }
        Incoming::Audio(frame) => audio.update(|audio| audio.push(&frame)),
        Incoming::UnreadableAudio => audio.update(ReceivedAudio::note_unreadable),
        Incoming::Dropped => job.update(Job::connection_lost),
    }
}
