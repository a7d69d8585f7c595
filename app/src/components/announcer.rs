//! The live region that tells screen-reader users what happens as it happens: one short line
//! for each finding, added as it arrives, so that each is announced once.

use leptos::prelude::*;

/// A polite live region, visually hidden, showing `lines` (oldest first).
#[component]
pub fn Announcer(#[prop(into)] lines: Signal<Vec<String>>) -> impl IntoView {
    view! {
        <div
            class="visually-hidden"
            role="status"
            aria-live="polite"
            aria-relevant="additions text"
            data-testid="announcer"
        >
            <For
                each=move || lines.get().into_iter().enumerate()
                key=|(index, line)| (*index, line.clone())
                children=|(_, line)| view! { <p>{line}</p> }
            />
        </div>
    }
}
