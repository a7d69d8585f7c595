//! The home page: choose a painting (upload, camera or gallery), the settings, optionally read
//! the painting first, compose, and follow the piece as it is made and played.

use ekphrasis_shared::TrackId;
use ekphrasis_shared::api::Health;
use leptos::prelude::*;

use crate::components::compose_bar::ComposeBar;
use crate::components::controls::Controls;
use crate::components::description_editor::DescriptionEditor;
use crate::components::gallery::{Gallery, GalleryList};
use crate::components::results::Results;
use crate::components::uploader::Uploader;
use crate::nav::Nav;
use crate::studio::Studio;

/// The home page; `again` is a track to make again at once.
#[component]
pub fn HomePage(
    again: Option<TrackId>,
    health: Signal<Option<Health>>,
    gallery: Signal<Option<GalleryList>>,
) -> impl IntoView {
    let studio = expect_context::<Studio>();
    let nav = expect_context::<Nav>();
    if let Some(track) = again {
        studio.make_again(track);
        // Reloading the page should not compose yet again.
        nav.replace_address("/");
    }
    // The music stops when the person goes to another page.
    on_cleanup(move || studio.player.stop());
    view! {
        <div class="layout">
            <div class="column">
                <Uploader studio=studio />
                <Gallery studio=studio gallery=gallery />
                <Controls form=studio.form health=health read_aloud=studio.read_aloud />
                <DescriptionEditor studio=studio />
                <ComposeBar studio=studio />
            </div>
            <Results studio=studio />
        </div>
    }
}
