//! The hidden file inputs behind "choose a file" and "take a photo" buttons: one for image
//! files, one that opens the camera; whichever is used hands over the first image chosen.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use web_sys::{File, FileList, HtmlInputElement};

use crate::upload::ACCEPTED_TYPES;

/// What the camera input accepts: any picture the camera takes (the server checks it).
const CAMERA_TYPES: &str = "image/*";

/// The two inputs' handles, for the buttons that open them.
#[derive(Clone, Copy)]
pub struct FileInputs {
    file: NodeRef<html::Input>,
    camera: NodeRef<html::Input>,
}

impl FileInputs {
    pub fn new() -> Self {
        Self {
            file: NodeRef::new(),
            camera: NodeRef::new(),
        }
    }

    /// Opens the file chooser.
    pub fn choose_file(&self) {
        if let Some(input) = self.file.get() {
            input.click();
        }
    }

    /// Opens the camera (or, without one, the file chooser).
    pub fn take_photo(&self) {
        if let Some(input) = self.camera.get() {
            input.click();
        }
    }
}

/// The inputs themselves, out of sight and out of the tab order (their buttons are in it).
/// `testid` prefixes their test ids (`{testid}file-input`, `{testid}camera-input`).
#[component]
pub fn HiddenFileInputs(
    inputs: FileInputs,
    testid: &'static str,
    on_file: impl Fn(File) + Copy + 'static,
) -> impl IntoView {
    let on_chosen = move |event: ev::Event| {
        let input = event_target::<HtmlInputElement>(&event);
        if let Some(file) = input.files().as_ref().and_then(first_image) {
            on_file(file);
        }
        // Choosing the same file again should upload it again.
        input.set_value("");
    };
    view! {
        <input
            type="file"
            class="visually-hidden"
            data-testid=format!("{testid}file-input")
            accept=ACCEPTED_TYPES
            aria-label="Choose an image file"
            tabindex="-1"
            node_ref=inputs.file
            on:change=on_chosen
        />
        <input
            type="file"
            class="visually-hidden"
            data-testid=format!("{testid}camera-input")
            accept=CAMERA_TYPES
            capture="environment"
            aria-label="Take a photo of a painting"
            tabindex="-1"
            node_ref=inputs.camera
            on:change=on_chosen
        />
    }
}

/// The first image in a list of files, or else the first file (which the checks will refuse).
pub fn first_image(files: &FileList) -> Option<File> {
    let all: Vec<File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
    let image = all
        .iter()
        .position(|file| file.type_().starts_with("image/"))
        .unwrap_or(0);
    all.into_iter().nth(image)
}
