//! The page's header: the name, the tagline and the connection badge.

use leptos::prelude::*;

use crate::ws::Connection;

/// The title, the tagline and the state of the connection.
#[component]
pub fn Header(connection: Connection) -> impl IntoView {
    view! {
        <header class="site-header">
            <div class="brand">
                <h1>
                    <a href="/" class="brand-link">"Ekphrasis"</a>
                </h1>
                <p class="tagline">"Music that carries a painting's emotion"</p>
            </div>
            <ConnectionBadge connection=connection />
        </header>
    }
}

/// Whether the page is connected to the server, in words and as `data-state`.
#[component]
pub fn ConnectionBadge(connection: Connection) -> impl IntoView {
    view! {
        <p
            class="badge"
            data-testid="connection"
            data-state=move || connection.state().name()
        >
            <span class="badge-dot" aria-hidden="true"></span>
            <span>{move || connection.state().words()}</span>
        </p>
    }
}
