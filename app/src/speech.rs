//! Reading text aloud with the browser's speech synthesis, then saying when it is over, so that
//! the music can wait for the words.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::logging::warn;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{SpeechSynthesis, SpeechSynthesisUtterance};

/// What runs once the words are over, taken by whichever handler fires first.
type OnEnd = Rc<RefCell<Option<Box<dyn FnOnce()>>>>;

fn synthesis() -> Option<SpeechSynthesis> {
    web_sys::window()?.speech_synthesis().ok()
}

/// Whether this browser can speak.
pub fn available() -> bool {
    synthesis().is_some()
}

/// Speaks `text` at `volume` (0 to 1), stopping whatever was being said; `on_end` runs once when
/// the words are over, interrupted or impossible.
pub fn speak(text: &str, volume: f32, on_end: impl FnOnce() + 'static) {
    let on_end: OnEnd = Rc::new(RefCell::new(Some(Box::new(on_end))));
    let finish = {
        let on_end = on_end.clone();
        move || {
            if let Some(callback) = on_end.borrow_mut().take() {
                callback();
            }
        }
    };
    let (Some(synthesis), Ok(utterance)) =
        (synthesis(), SpeechSynthesisUtterance::new_with_text(text))
    else {
        finish();
        return;
    };
    utterance.set_volume(volume.clamp(0.0, 1.0));
    utterance.set_rate(0.95);
    let ended = Closure::<dyn FnMut()>::new({
        let finish = finish.clone();
        move || finish()
    });
    let failed = Closure::<dyn FnMut(web_sys::Event)>::new({
        let finish = finish.clone();
        move |_| finish()
    });
    utterance.set_onend(Some(ended.as_ref().unchecked_ref()));
    utterance.set_onerror(Some(failed.as_ref().unchecked_ref()));
    // The utterance owns its handlers from now on; they are small and run at most once.
    ended.forget();
    failed.forget();
    synthesis.cancel();
    synthesis.speak(&utterance);
    if !synthesis.speaking() && !synthesis.pending() {
        warn!("the browser did not start speaking");
        finish();
    }
}

/// Stops speaking (the current words' `on_end` runs).
pub fn cancel() {
    if let Some(synthesis) = synthesis() {
        synthesis.cancel();
    }
}
