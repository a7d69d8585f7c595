//! Choosing the painting: drop, paste, file chooser or camera; the chosen painting's preview
//! (an upload or a gallery painting); and the upload.

use leptos::ev;
use leptos::prelude::*;
use web_sys::File;

use crate::components::file_inputs::{FileInputs, HiddenFileInputs, first_image};
use crate::components::problem_notice::ProblemNotice;
use crate::painting::Painting;
use crate::studio::Studio;
use crate::upload::UploadState;

/// The drop zone, the buttons that open the file chooser and the camera, and the upload state.
#[component]
pub fn Uploader(studio: Studio) -> impl IntoView {
    let painting = studio.painting;
    let drag_depth = RwSignal::new(0i32);
    let inputs = FileInputs::new();

    let choose = move |file: File| studio.upload(file);

    let paste = window_event_listener(ev::paste, move |event| {
        let pasted = event.clipboard_data().and_then(|data| data.files());
        if let Some(file) = pasted.as_ref().and_then(first_image) {
            event.prevent_default();
            choose(file);
        }
    });
    on_cleanup(move || paste.remove());

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
                        on:click=move |_| inputs.choose_file()
                    >
                        "Choose an image"
                    </button>
                    <button
                        type="button"
                        class="button secondary"
                        data-testid="take-photo"
                        on:click=move |_| inputs.take_photo()
                    >
                        "Take a photo"
                    </button>
                </div>
                <p class="hint">"JPEG, PNG or WebP, up to 20 MB."</p>
            </div>
            <HiddenFileInputs inputs=inputs testid="" on_file=choose />
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
