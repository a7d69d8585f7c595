//! Moving between the app's pages without reloading (so that the connection and the audio
//! clock live on): the current [`Route`] as a signal, same-origin links that change it through
//! the History API, and the browser's back and forward buttons.

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlAnchorElement, HtmlElement};

use crate::route::Route;

/// Paths the server answers itself (files, the API): links to them load normally.
const SERVER_PATHS: [&str; 3] = ["/api/", "/ws", "/metrics"];

/// The page's handle on navigation.
#[derive(Clone, Copy)]
pub struct Nav {
    route: RwSignal<Route>,
}

impl Nav {
    /// Reads the address the page was opened at and starts following links and history.
    pub fn install() -> Self {
        let nav = Nav {
            route: RwSignal::new(current_route()),
        };
        // Listeners for the whole life of the page.
        let _ = window_event_listener(ev::popstate, move |_| nav.arrive(current_route()));
        let _ = window_event_listener(ev::click, move |event| nav.follow(&event));
        nav
    }

    /// The current page (tracked).
    pub fn route(&self) -> Route {
        self.route.get()
    }

    /// Goes to `href` (a path with an optional query) as a new history entry.
    pub fn go(&self, href: &str) {
        if let Ok(history) = window().history()
            && history
                .push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(href))
                .is_ok()
        {
            self.arrive(current_route());
            window().scroll_to_with_x_and_y(0.0, 0.0);
            return;
        }
        // No History API: load the page.
        let _ = window().location().set_href(href);
    }

    /// Changes the address shown without changing the page (e.g. dropping `?again=`).
    pub fn replace_address(&self, href: &str) {
        if let Ok(history) = window().history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(href));
        }
    }

    fn arrive(&self, route: Route) {
        if self.route.get_untracked() != route {
            self.route.set(route);
            // Tell assistive technology that the page changed by moving focus to it.
            request_animation_frame(|| {
                if let Some(main) = document()
                    .get_element_by_id("main")
                    .and_then(|el| el.dyn_into::<HtmlElement>().ok())
                {
                    let _ = main.focus();
                }
            });
        }
    }

    /// Handles a click on a link to one of the app's own pages.
    fn follow(&self, event: &ev::MouseEvent) {
        if event.default_prevented()
            || event.button() != 0
            || event.meta_key()
            || event.ctrl_key()
            || event.shift_key()
            || event.alt_key()
        {
            return;
        }
        let Some(anchor) = event
            .target()
            .and_then(|target| target.dyn_into::<Element>().ok())
            .and_then(|el| el.closest("a[href]").ok().flatten())
            .and_then(|el| el.dyn_into::<HtmlAnchorElement>().ok())
        else {
            return;
        };
        let same_origin = window()
            .location()
            .origin()
            .is_ok_and(|origin| origin == anchor.origin());
        let path = anchor.pathname();
        let in_page = anchor
            .get_attribute("href")
            .is_some_and(|href| href.starts_with('#'));
        if !same_origin
            || in_page
            || anchor.has_attribute("download")
            || !matches!(anchor.target().as_str(), "" | "_self")
            || SERVER_PATHS.iter().any(|p| path.starts_with(p))
        {
            return;
        }
        event.prevent_default();
        self.go(&format!("{path}{}", anchor.search()));
    }
}

/// The page for the address the browser shows.
fn current_route() -> Route {
    let location = window().location();
    Route::parse(
        &location.pathname().unwrap_or_default(),
        &location.search().unwrap_or_default(),
    )
}
