//! The Compose button, with why it cannot be pressed yet, and Cancel while a piece is made.
//! It stays in view at the foot of the screen while the form is on it (style.css), and keeps
//! keyboard focus somewhere meaningful as its buttons come and go.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, ScrollIntoViewOptions, ScrollLogicalPosition};

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

/// Focuses the element with `id` once the page has drawn it, if focus has nowhere better to be:
/// on the page itself, or on a button that has just been disabled or removed.
fn refocus(id: &'static str) {
    request_animation_frame(move || {
        let lost = document().active_element().is_none_or(|active| {
            active.tag_name() == "BODY"
                || active.id() == "compose"
                || active.id() == "cancel"
                || !active.is_connected()
        });
        if let (true, Some(target)) = (
            lost,
            document()
                .get_element_by_id(id)
                .and_then(|el| el.dyn_into::<HtmlElement>().ok()),
        ) {
            let _ = target.focus();
            // The whole block it heads comes into view (the finished piece's downloads and
            // share link), as far as the window allows.
            if let Some(block) = target.parent_element() {
                let options = ScrollIntoViewOptions::new();
                options.set_block(ScrollLogicalPosition::Nearest);
                block.scroll_into_view_with_scroll_into_view_options(&options);
            }
        }
    });
}

/// Sends the request, or says what it is waiting for; offers Cancel while a piece is made.
#[component]
pub fn ComposeBar(studio: Studio) -> impl IntoView {
    let job = studio.job;
    // Pressing Compose disables it and Cancel disappears when the piece ends: focus follows to
    // Cancel, then to the finished piece (or back to Compose).
    let active = Memo::new(move |_| job.with(Job::is_active));
    Effect::new(move |was_active: Option<bool>| {
        let now = active.get();
        match (was_active, now) {
            (Some(false), true) => refocus("cancel"),
            (Some(true), false) if job.with_untracked(|job| job.finished().is_some()) => {
                refocus("finished-title")
            }
            (Some(true), false) => refocus("compose"),
            _ => {}
        }
        now
    });
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
                    id="compose"
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
                        id="cancel"
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
