//! Reading the painting before composing: "Read the painting first" asks the server for the
//! emotion, caption and musical description only; the description then waits in a text box to
//! be edited, and Compose uses it.

use ekphrasis_shared::Settings;
use leptos::ev;
use leptos::prelude::*;

use crate::components::compose_bar::show_results;
use crate::form::{ComposeForm, uses_description};
use crate::studio::Studio;

/// The describe button and, once the painting has been read, the editable description.
#[component]
pub fn DescriptionEditor(studio: Studio) -> impl IntoView {
    let form = studio.form;
    let blocked = Memo::new(move |_| studio.blocker().is_some());
    let editing = Memo::new(move |_| form.with(|form| form.description.is_some()));
    let used = Memo::new(move |_| form.with(|form| uses_description(form.variant)));
    let problem = Memo::new(move |_| {
        form.with(ComposeForm::problem)
            .filter(|problem| problem.field == "description")
            .map(|problem| problem.message)
    });
    let count = Memo::new(move |_| {
        form.with(|form| {
            form.description
                .as_deref()
                .map_or(0, |t| t.trim().chars().count())
        })
    });

    view! {
        <section class="card describe" aria-labelledby="describe-title">
            <h2 id="describe-title">"Before composing"</h2>
            <p class="hint">
                "Optional: read the painting first to see its emotion, caption and musical description, and change the description before the music is made."
            </p>
            <div class="describe-actions">
                <button
                    type="button"
                    class="button secondary"
                    data-testid="describe"
                    disabled=move || blocked.get()
                    on:click=move |_| {
                        studio.describe();
                        show_results();
                    }
                >
                    "Read the painting first"
                </button>
                <Show when=move || editing.get()>
                    <button
                        type="button"
                        class="button secondary"
                        data-testid="description-reset"
                        on:click=move |_| form.update(|form| form.description = None)
                    >
                        "Let the model write it"
                    </button>
                </Show>
            </div>
            <Show when=move || editing.get()>
                <div class="field description-field">
                    <label for="description-input">"Musical description"</label>
                    <textarea
                        id="description-input"
                        data-testid="description-input"
                        rows="4"
                        aria-describedby="description-hint"
                        aria-invalid=move || problem.with(Option::is_some).then_some("true")
                        prop:value=move || form.with(|form| form.description.clone().unwrap_or_default())
                        on:input=move |event: ev::Event| {
                            let text = event_target_value(&event);
                            form.update(|form| form.description = Some(text));
                        }
                    ></textarea>
                    <p class="hint" id="description-hint">
                        {move || {
                            if used.get() {
                                "Compose uses this text. Only the Lyrical and Optimized variants compose from a description; Emotive and Narrative use the emotion or the caption."
                            } else {
                                "The chosen variant does not use this text: only Lyrical and Optimized compose from a description."
                            }
                        }}
                        " "
                        <span class="char-count">
                            {move || format!("{} / {}", count.get(), Settings::MAX_DESCRIPTION_CHARS)}
                        </span>
                    </p>
                    {move || {
                        problem.get().map(|message| view! { <p class="field-problem">{message}</p> })
                    }}
                </div>
            </Show>
        </section>
    }
}
