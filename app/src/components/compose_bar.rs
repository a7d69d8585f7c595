//! The Compose button, with why it cannot be pressed yet, and Cancel while a piece is made.

use leptos::prelude::*;

use crate::form::uses_description;
use crate::job::{Job, Phase};
use crate::studio::Studio;

/// Brings the results into view where they sit below the form (narrow screens).
pub fn show_results() {
    let narrow = window()
        .inner_width()
        .ok()
        .and_then(|width| width.as_f64())
        .is_some_and(|width| width < 960.0);
    if let (true, Some(results)) = (narrow, document().get_element_by_id("results-title")) {
        results.scroll_into_view();
    }
}

/// Sends the request, or says what it is waiting for; offers Cancel while a piece is made.
#[component]
pub fn ComposeBar(studio: Studio) -> impl IntoView {
    let job = studio.job;
    let blocked = Memo::new(move |_| studio.blocker());
    let label = Memo::new(move |_| {
        let own_words = studio.form.with(|form| {
            form.description
                .as_deref()
                .is_some_and(|t| !t.trim().is_empty())
                && uses_description(form.variant)
        });
        let stored = job.with(|job| job.finished().is_some_and(|f| f.stored));
        match (own_words, stored) {
            (true, _) => "Compose from this description",
            (false, true) => "Compose a new piece",
            (false, false) => "Compose music",
        }
    });
    view! {
        <div class="compose-bar">
            <div class="compose-buttons">
                <button
                    type="button"
                    class="button primary"
                    data-testid="compose"
                    aria-describedby="compose-reason"
                    disabled=move || blocked.with(Option::is_some)
                    on:click=move |_| {
                        studio.compose();
                        show_results();
                    }
                >
                    {move || label.get()}
                </button>
                <Show when=move || job.with(Job::is_active)>
                    <button
                        type="button"
                        class="button secondary"
                        data-testid="cancel"
                        disabled=move || job.with(|job| job.phase == Phase::Cancelling)
                        on:click=move |_| studio.cancel()
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
