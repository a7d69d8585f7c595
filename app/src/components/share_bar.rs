//! Sharing a finished piece: its absolute link, Copy link (with a fallback that selects the
//! link), Share through the browser's share sheet where there is one, and the piece's page.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::share::{CopyOutcome, SHARE_TEXT, absolute_url};
use crate::sharing::{Shared, can_share, copy_text, share};

/// The share link and its buttons; `show_page_link` adds the link to the piece's own page.
#[component]
pub fn ShareBar(share_path: String, title: String, show_page_link: bool) -> impl IntoView {
    let origin = window().location().origin().unwrap_or_default();
    let url = absolute_url(&origin, &share_path);
    let copied = RwSignal::new(None::<CopyOutcome>);
    let shared_note = RwSignal::new(None::<&'static str>);
    let input = NodeRef::<html::Input>::new();
    let shareable = can_share();

    let copy = {
        let url = url.clone();
        move |_| {
            let url = url.clone();
            spawn_local(async move {
                let outcome = if copy_text(&url).await {
                    CopyOutcome::Copied
                } else {
                    if let Some(input) = input.get_untracked() {
                        let _ = input.focus();
                        input.select();
                    }
                    CopyOutcome::Selected
                };
                copied.set(Some(outcome));
            });
        }
    };
    let share_it = {
        let (url, title) = (url.clone(), title.clone());
        move |_| {
            let (url, title) = (url.clone(), title.clone());
            spawn_local(async move {
                let note = match share(&title, SHARE_TEXT, &url).await {
                    Shared::Done | Shared::Dismissed => None,
                    Shared::Failed => Some("Sharing did not work here. Copy the link instead."),
                };
                shared_note.set(note);
            });
        }
    };

    view! {
        <div class="share">
            <label class="share-label" for="share-link">"Share link"</label>
            <div class="share-row">
                <input
                    id="share-link"
                    class="share-link"
                    data-testid="share-link"
                    type="url"
                    readonly
                    value=url.clone()
                    node_ref=input
                    on:focus=move |_| {
                        if let Some(input) = input.get_untracked() {
                            input.select();
                        }
                    }
                />
                <button
                    type="button"
                    class="button"
                    data-testid="copy-link"
                    data-state=move || copied.get().map(CopyOutcome::name)
                    on:click=copy
                >
                    "Copy link"
                </button>
                {shareable
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="button"
                                data-testid="share-button"
                                on:click=share_it
                            >
                                "Share…"
                            </button>
                        }
                    })}
            </div>
            <p class="share-note" role="status" data-testid="copy-status">
                {move || copied.get().map(CopyOutcome::words)}
                {move || shared_note.get()}
            </p>
            {show_page_link
                .then(|| {
                    view! {
                        <a class="button primary" data-testid="track-link" href=share_path.clone()>
                            "Open the piece's page"
                        </a>
                    }
                })}
        </div>
    }
}
