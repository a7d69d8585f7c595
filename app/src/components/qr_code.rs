//! A QR code drawn on a canvas, crisp at any screen density: every module a whole number of
//! device pixels, dark on white with the quiet zone around it.

use leptos::html;
use leptos::prelude::*;
use web_sys::HtmlCanvasElement;

use crate::canvas::context_2d;
use crate::qr::QrGrid;

/// The code for `text`, about `css_size` CSS pixels square; `label` tells what it opens.
#[component]
pub fn QrCode(
    #[prop(into)] text: Signal<String>,
    css_size: u32,
    #[prop(into)] label: String,
) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        let text = text.get();
        if let Some(canvas) = canvas.get() {
            match QrGrid::encode(&text) {
                Ok(grid) => draw(&canvas, &grid, css_size),
                Err(error) => leptos::logging::warn!("{error}"),
            }
        }
    });
    view! {
        <canvas
            class="qr-code"
            data-testid="qr-code"
            data-text=move || text.get()
            node_ref=canvas
            role="img"
            aria-label=label
        ></canvas>
    }
}

/// Draws the grid with a whole number of device pixels a module.
fn draw(canvas: &HtmlCanvasElement, grid: &QrGrid, css_size: u32) {
    let ratio = window().device_pixel_ratio().max(1.0);
    let modules = grid.size() as u32;
    let scale = ((f64::from(css_size) * ratio) as u32 / modules).max(1);
    let pixels = scale * modules;
    canvas.set_width(pixels);
    canvas.set_height(pixels);
    let css = f64::from(pixels) / ratio;
    let _ = canvas.set_attribute("style", &format!("width: {css}px; height: {css}px"));
    let Some(ctx) = context_2d(canvas) else {
        return;
    };
    ctx.set_image_smoothing_enabled(false);
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, f64::from(pixels), f64::from(pixels));
    ctx.set_fill_style_str("#000000");
    let scale = f64::from(scale);
    for (y, x, len) in grid.dark_runs() {
        ctx.fill_rect(
            x as f64 * scale,
            y as f64 * scale,
            len as f64 * scale,
            scale,
        );
    }
}
