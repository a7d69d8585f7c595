//! The banner about the server's music models: the demo models (the music is noise), or why
//! the models are unavailable.

use ekphrasis_shared::api::Health;
use leptos::prelude::*;

use crate::models_notice::ModelsNotice;

/// Shown only when the health answer calls for it.
#[component]
pub fn ModelsBanner(health: Signal<Option<Health>>) -> impl IntoView {
    let notice = Memo::new(move |_| health.get().as_ref().and_then(ModelsNotice::from_health));
    move || {
        notice.get().map(|notice| {
            let testid = match notice {
                ModelsNotice::Demo => "demo-banner",
                ModelsNotice::Unavailable { .. } => "models-banner",
            };
            view! {
                <aside class="models-banner" data-testid=testid data-kind=notice.name()>
                    <p class="models-banner-title">{notice.title()}</p>
                    <p class="models-banner-detail">{notice.detail()}</p>
                </aside>
            }
        })
    }
}
