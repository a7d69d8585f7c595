//! Choosing the painting: drop, paste, file chooser or camera; the chosen painting's preview
//! (an upload or a gallery painting); and the upload.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use web_sys::{File, FileList, HtmlInputElement};

use crate::components::problem_notice::ProblemNotice;
use crate::painting::Painting;
use crate::studio::Studio;
use crate::upload::{ACCEPTED_TYPES, UploadState};

/// What the camera control accepts: any picture the camera takes (the server checks it).
pub const CAMERA_TYPES: &str = "image/*";

/// The drop zone, the buttons that open the file chooser and the camera, and the upload state.
#[component]
pub fn Uploader(studio: Studio) -> impl IntoView {
    let painting = studio.painting;
    let drag_depth = RwSignal::new(0i32);
    let file_input = NodeRef::<html::Input>::new();
    let camera_input = NodeRef::<html::Input>::new();

    let choose = move |file: File| studio.upload(file);

    let paste = window_event_listener(ev::paste, move |event| {
        let pasted = event.clipboard_data().and_then(|data| data.files());
        if let Some(file) = pasted.as_ref().and_then(first_image) {
            event.prevent_default();
            choose(file);
        }
    });
    on_cleanup(move || paste.remove());

    let on_chosen = move |event: ev::Event| {
        let input = event_target::<HtmlInputElement>(&event);
        if let Some(file) = input.files().as_ref().and_then(first_image) {
            choose(file);
        }
        // Choosing the same file again should upload it again.
        input.set_value("");
    };
    let drag_enter = move |event: ev::DragEvent| {
        event.prevent_default();
        drag_depth.update(|depth| *depth += 1);
    };
    let drag_leave =
        move |_: ev::DragEvent| drag_depth.update(|depth| *depth = (*depth - 1).max(0));
    let drop = move |event: ev::DragEvent| {
        event.prevent_default();
        drag_depth.set(0);
        let dropped = event.data_transfer().and_then(|data| data.files());
        if let Some(file) = dropped.as_ref().and_then(first_image) {
            choose(file);
        }
    };
    let open = move |input: NodeRef<html::Input>| {
        if let Some(input) = input.get() {
            input.click();
        }
    };

    view! {
        <section class="card uploader" aria-labelledby="painting-title">
            <h2 id="painting-title">"The painting"</h2>
            <div
                class="dropzone"
                class:dragging=move || { drag_depth.get() > 0 }
                on:dragenter=drag_enter
                on:dragover=|event: ev::DragEvent| event.prevent_default()
                on:dragleave=drag_leave
                on:drop=drop
            >
                <Show
                    when=move || painting.with(|p| p.preview_url().is_some())
                    fallback=|| {
                        view! {
                            <p class="dropzone-hint">
                                "Drop a painting here, paste one, choose a file, or pick one from the gallery below."
                            </p>
                        }
                    }
                >
                    <figure class="preview-frame">
                        <img
                            class="preview"
                            data-testid="preview"
                            src=move || painting.with(Painting::preview_url)
                            alt=move || {
                                let caption = studio.job.with(|job| job.caption().map(str::to_owned));
                                painting.with(|p| p.preview_alt(caption.as_deref()))
                            }
                        />
                        {move || {
                            painting
                                .with(|p| p.gallery_item().cloned())
                                .map(|item| {
                                    view! {
                                        <figcaption class="preview-caption">
                                            <span class="preview-title">{item.title}</span>
                                            " · "
                                            {item.artist}
                                        </figcaption>
                                    }
                                })
                        }}
                    </figure>
                </Show>
                <div class="dropzone-actions">
                    <button
                        type="button"
                        class="button"
                        data-testid="choose-file"
                        on:click=move |_| open(file_input)
                    >
                        "Choose an image"
                    </button>
                    <button
                        type="button"
                        class="button secondary"
                        data-testid="take-photo"
                        on:click=move |_| open(camera_input)
                    >
                        "Take a photo"
                    </button>
                </div>
                <p class="hint">"JPEG, PNG or WebP, up to 20 MB."</p>
            </div>
            <input
                type="file"
                class="visually-hidden"
                data-testid="file-input"
                accept=ACCEPTED_TYPES
                aria-label="Choose an image file"
                tabindex="-1"
                node_ref=file_input
                on:change=on_chosen
            />
            <input
                type="file"
                class="visually-hidden"
                data-testid="camera-input"
                accept=CAMERA_TYPES
                capture="environment"
                aria-label="Take a photo of a painting"
                tabindex="-1"
                node_ref=camera_input
                on:change=on_chosen
            />
            <p
                class="upload-status"
                data-testid="upload-status"
                data-state=move || painting.with(Painting::state_name)
                role="status"
            >
                {move || painting.with(Painting::words)}
            </p>
            {move || {
                painting
                    .with(|painting| match painting.upload() {
                        UploadState::Failed(problem) => Some(problem),
                        _ => None,
                    })
                    .map(|problem| view! { <ProblemNotice problem=problem /> })
            }}
        </section>
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
