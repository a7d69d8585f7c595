//! Keeping a kiosk's screen: full screen after a visitor's first touch, and awake through the
//! Screen Wake Lock API, asked for again whenever the browser lets it go (the page hidden and
//! shown again, say). Browsers without these APIs simply do without.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Asks for the whole screen; browsers allow it only during a person's gesture.
pub fn enter_fullscreen() {
    let Some(root) = document().document_element() else {
        return;
    };
    if document().fullscreen_element().is_none()
        && let Err(error) = root.request_fullscreen()
    {
        warn!("full screen was refused: {error:?}");
    }
}

/// Where the wake lock stands, as the kiosk's `data-wake-lock` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeState {
    /// Not asked for yet, or let go.
    Released,
    Asking,
    Held,
    /// The browser refused (it asks again later).
    Refused,
    /// This browser has no wake lock.
    Unavailable,
}

impl WakeState {
    pub fn name(self) -> &'static str {
        match self {
            WakeState::Released => "released",
            WakeState::Asking => "asking",
            WakeState::Held => "held",
            WakeState::Refused => "refused",
            WakeState::Unavailable => "unavailable",
        }
    }
}

/// Seconds to wait before asking again after a refusal.
const RETRY_AFTER_REFUSAL: f64 = 30.0;

/// The screen wake lock, kept by calling [`WakeLock::keep`] now and then.
#[derive(Clone)]
pub struct WakeLock {
    pub state: RwSignal<WakeState>,
    sentinel: Rc<RefCell<Option<JsValue>>>,
    refused_at: Rc<RefCell<Option<f64>>>,
}

impl WakeLock {
    pub fn new() -> Self {
        Self {
            state: RwSignal::new(WakeState::Released),
            sentinel: Rc::default(),
            refused_at: Rc::default(),
        }
    }

    /// Asks for the lock unless it is held, being asked for, or refused a moment ago; only
    /// while the page is visible (a hidden page cannot hold it). `now` is in seconds.
    pub fn keep(&self, now: f64) {
        let held = self
            .sentinel
            .borrow()
            .as_ref()
            .is_some_and(|sentinel| !is_released(sentinel));
        match self.state.get_untracked() {
            WakeState::Asking | WakeState::Unavailable => return,
            WakeState::Held if held => return,
            WakeState::Refused
                if self
                    .refused_at
                    .borrow()
                    .is_some_and(|at| now - at < RETRY_AFTER_REFUSAL) =>
            {
                return;
            }
            _ => {}
        }
        if document().visibility_state() != web_sys::VisibilityState::Visible {
            if self.state.get_untracked() == WakeState::Held {
                self.state.set(WakeState::Released);
            }
            return;
        }
        let Some(request) = wake_lock_request() else {
            self.state.set(WakeState::Unavailable);
            return;
        };
        self.state.set(WakeState::Asking);
        let this = self.clone();
        leptos::task::spawn_local(async move {
            match JsFuture::from(request).await {
                Ok(sentinel) => {
                    *this.sentinel.borrow_mut() = Some(sentinel);
                    this.state.set(WakeState::Held);
                }
                Err(error) => {
                    warn!("the screen may dim: the wake lock was refused ({error:?})");
                    *this.refused_at.borrow_mut() = Some(now);
                    this.state.set(WakeState::Refused);
                }
            }
        });
    }

    /// Lets the screen sleep again.
    pub fn release(&self) {
        if let Some(sentinel) = self.sentinel.borrow_mut().take()
            && let Ok(release) = Reflect::get(&sentinel, &"release".into())
            && let Ok(release) = release.dyn_into::<Function>()
        {
            let _ = release.call0(&sentinel);
        }
        self.state.set(WakeState::Released);
    }
}

/// `navigator.wakeLock.request("screen")`, when the browser has it.
fn wake_lock_request() -> Option<Promise> {
    let navigator = window().navigator();
    let wake_lock = Reflect::get(&navigator, &"wakeLock".into()).ok()?;
    if wake_lock.is_undefined() || wake_lock.is_null() {
        return None;
    }
    let request = Reflect::get(&wake_lock, &"request".into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    request
        .call1(&wake_lock, &"screen".into())
        .ok()?
        .dyn_into::<Promise>()
        .ok()
}

fn is_released(sentinel: &JsValue) -> bool {
    Reflect::get(sentinel, &"released".into()).is_ok_and(|released| released.is_truthy())
}
