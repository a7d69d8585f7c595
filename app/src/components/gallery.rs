//! The gallery: the server's paintings as a grid to pick from, each with its title, artist,
//! year, credit and licence, and a mark on those with a piece ready to play.

use ekphrasis_shared::api::GalleryItem;
use leptos::prelude::*;

use crate::components::problem_notice::ProblemNotice;
use crate::problem::Problem;
use crate::studio::Studio;

/// The gallery as the server listed it, or why it could not be read.
pub type GalleryList = Result<Vec<GalleryItem>, Problem>;

/// The grid of paintings; picking one chooses it.
#[component]
pub fn Gallery(studio: Studio, gallery: Signal<Option<GalleryList>>) -> impl IntoView {
    let body = move || match gallery.get() {
        None => view! { <p class="hint">"Opening the gallery…"</p> }.into_any(),
        Some(Err(problem)) => view! { <ProblemNotice problem=problem /> }.into_any(),
        Some(Ok(items)) if items.is_empty() => {
            view! { <p class="hint">"This server's gallery is empty."</p> }.into_any()
        }
        Some(Ok(items)) => view! {
            <ul class="gallery-grid" data-testid="gallery">
                <For
                    each=move || items.clone()
                    key=|item| item.id.clone()
                    children=move |item| view! { <GalleryCard studio=studio item=item /> }
                />
            </ul>
        }
        .into_any(),
    };
    view! {
        <section class="card gallery" aria-labelledby="gallery-title">
            <h2 id="gallery-title">"From the gallery"</h2>
            <p class="hint gallery-hint">
                "Pick a painting to compose from. Those marked “Ready to play” have a piece made for them already."
            </p>
            {body}
        </section>
    }
}

/// One painting of the grid.
#[component]
fn GalleryCard(studio: Studio, item: GalleryItem) -> impl IntoView {
    let id = item.id.clone();
    let selected = Memo::new(move |_| {
        studio
            .painting
            .with(|p| p.gallery_item().is_some_and(|chosen| chosen.id == id))
    });
    let ready = item.track.is_some();
    let alt = if item.alt.trim().is_empty() {
        format!("The painting “{}”", item.title)
    } else {
        item.alt.clone()
    };
    let byline = match &item.year {
        Some(year) => format!("{}, {year}", item.artist),
        None => item.artist.clone(),
    };
    let picked = item.clone();
    view! {
        <li class="gallery-cell">
            <button
                type="button"
                class="gallery-item"
                data-testid="gallery-item"
                data-id=item.id.to_string()
                data-ready=ready.to_string()
                aria-pressed=move || selected.get().to_string()
                on:click=move |_| studio.pick(picked.clone())
            >
                <span class="gallery-thumb">
                    <img
                        src=item.image_url.clone()
                        alt=alt
                        width=item.width
                        height=item.height
                        loading="lazy"
                        decoding="async"
                    />
                    {ready.then(|| view! { <span class="ready-tag">"Ready to play"</span> })}
                </span>
                <span class="gallery-text">
                    <span class="gallery-title">{item.title.clone()}</span>
                    <span class="gallery-byline">{byline}</span>
                    <span class="gallery-credit">{format!("{} · {}", item.credit, item.licence)}</span>
                </span>
            </button>
        </li>
    }
}
