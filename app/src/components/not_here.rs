//! A page for an address the server has nothing at: plain words and the way home.

use leptos::prelude::*;

/// `what` is not on this server; a link goes home.
#[component]
pub fn NotHere(what: &'static str) -> impl IntoView {
    view! {
        <section class="card not-here" data-testid="not-found">
            <h2>{what}</h2>
            <p>"The link may be mistyped, or the piece was made on another server."</p>
            <a class="button primary" href="/" data-testid="home-link">
                "Make music from a painting"
            </a>
        </section>
    }
}
