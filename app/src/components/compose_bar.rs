//! The Compose button, with why it cannot be pressed yet, and Cancel while a piece is made.

use ekphrasis_shared::ClientMsg;
use leptos::prelude::*;

use crate::audio::ReceivedAudio;
use crate::compose::blocker;
use crate::form::ComposeForm;
use crate::job::{Job, Phase};
use crate::problem::Problem;
use crate::upload::UploadState;
use crate::ws::Connection;

/// Sends the request, or says what it is waiting for; offers Cancel while a piece is made.
#[component]
pub fn ComposeBar(
    connection: Connection,
    upload: RwSignal<UploadState>,
    form: RwSignal<ComposeForm>,
    job: RwSignal<Job>,
    audio: RwSignal<ReceivedAudio>,
) -> impl IntoView {
    let blocked = Memo::new(move |_| {
        let connected = connection.is_connected();
        let setting_problem = form.with(ComposeForm::problem);
        let composing = job.with(Job::is_active);
        upload.with(|upload| blocker(connected, upload, setting_problem, composing))
    });

    let compose = move |_| {
        let Some(image) = upload.with_untracked(UploadState::image) else {
            return;
        };
        // The button is disabled while a setting is wrong; the field says which.
        let Ok(request) = form.with_untracked(|form| form.request(image)) else {
            return;
        };
        match connection.send(ClientMsg::Generate(request)) {
            Ok(()) => {
                audio.set(ReceivedAudio::default());
                job.set(Job::requested());
            }
            Err(_) => job.set(Job::failed(Problem::network())),
        }
    };
    let cancel = move |_| {
        if connection.send(ClientMsg::Cancel).is_ok() {
            job.update(Job::cancelling);
        }
    };

    view! {
        <div class="compose-bar">
            <div class="compose-buttons">
                <button
                    type="button"
                    class="button primary"
                    data-testid="compose"
                    aria-describedby="compose-reason"
                    disabled=move || blocked.with(Option::is_some)
                    on:click=compose
                >
                    "Compose music"
                </button>
                <Show when=move || job.with(Job::is_active)>
                    <button
                        type="button"
                        class="button secondary"
                        data-testid="cancel"
                        disabled=move || job.with(|job| job.phase == Phase::Cancelling)
                        on:click=cancel
                    >
                        "Cancel"
                    </button>
                </Show>
            </div>
            <p class="compose-reason" id="compose-reason">
                {move || blocked.get().map(|blocker| blocker.to_string())}
            </p>
        </div>
    }
}
