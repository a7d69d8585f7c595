//! The page's footer: credits and the models' licence.

use leptos::prelude::*;

/// Credits for the models the server runs.
#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <p>
                "Music by MusicGen: its weights are licensed CC-BY-NC 4.0, for non-commercial use. "
                "Captions by BLIP; musical descriptions by Falcon-RW."
            </p>
        </footer>
    }
}
