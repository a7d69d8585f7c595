//! The browser's sharing features: the Clipboard API for Copy link and the Web Share API for
//! Share, each used only where the browser has it.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Clipboard, ShareData};

use leptos::prelude::window;

/// Whether `navigator` has a property (`clipboard`, `share`) that is set.
fn navigator_has(name: &str) -> bool {
    Reflect::get(&window().navigator(), &JsValue::from_str(name))
        .is_ok_and(|value| !value.is_undefined() && !value.is_null())
}

/// Whether the browser offers its share sheet (`navigator.share`).
pub fn can_share() -> bool {
    navigator_has("share")
}

/// Puts `text` on the clipboard; false when the browser has no clipboard here (insecure
/// pages) or refused.
pub async fn copy_text(text: &str) -> bool {
    if !navigator_has("clipboard") {
        return false;
    }
    let Ok(clipboard) = Reflect::get(&window().navigator(), &JsValue::from_str("clipboard"))
        .and_then(|value| value.dyn_into::<Clipboard>())
    else {
        return false;
    };
    JsFuture::from(clipboard.write_text(text)).await.is_ok()
}

/// How a share ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shared {
    Done,
    /// The person closed the share sheet.
    Dismissed,
    /// The browser could not share.
    Failed,
}

/// Opens the browser's share sheet for a link.
pub async fn share(title: &str, text: &str, url: &str) -> Shared {
    if !can_share() {
        return Shared::Failed;
    }
    let data = ShareData::new();
    data.set_title(title);
    data.set_text(text);
    data.set_url(url);
    match JsFuture::from(window().navigator().share_with_data(&data)).await {
        Ok(_) => Shared::Done,
        Err(error) => {
            let name = Reflect::get(&error, &JsValue::from_str("name"))
                .ok()
                .and_then(|name| name.as_string());
            match name.as_deref() {
                Some("AbortError") => Shared::Dismissed,
                _ => Shared::Failed,
            }
        }
    }
}
