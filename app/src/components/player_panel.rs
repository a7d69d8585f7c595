//! The player on the page: play/pause and stop, its state in words, the time played and
//! received, and the waveform drawn as audio arrives with the playhead moving across it.

use leptos::html;
use leptos::prelude::*;
use web_sys::{ScrollIntoViewOptions, ScrollLogicalPosition};

use crate::canvas::context_2d;
use crate::playback::{PlayerState, PlayerView};
use crate::player::Player;
use crate::waveform::{Peaks, playhead_column};

/// Colours of the drawing (the stylesheet's gold and muted text).
const PLAYED: &str = "#e3b65c";
const UNPLAYED: &str = "#8f829a";
const BASELINE: &str = "#3e3249";
const PLAYHEAD: &str = "#f3cf82";

/// The player's controls and waveform.
#[component]
pub fn PlayerPanel(player: Player) -> impl IntoView {
    let view = Memo::new(move |_| player.view());
    let state = Memo::new(move |_| view.get().state);
    let canvas = NodeRef::<html::Canvas>::new();
    let peaks = StoredValue::new_local(Peaks::new(0, 1, 1));
    let audio = player.audio();

    Effect::new(move |_| {
        let view = view.get();
        let Some(canvas) = canvas.get() else {
            return;
        };
        audio.with(|audio| {
            let (rate, channels) = audio
                .format
                .map_or((32_000, 1), |f| (f.sample_rate, f.channels));
            let Some(size) = fit(&canvas) else {
                return;
            };
            let total_frames = (view.span() * f64::from(rate)).ceil() as u64;
            peaks.update_value(|peaks| {
                peaks.sync(&audio.samples, size.0 as usize, total_frames, channels);
                draw(&canvas, size, peaks, &view);
            });
        });
    });

    // When the music starts, the player comes into view if it is out of it.
    let panel = NodeRef::<html::Div>::new();
    Effect::new(move |before: Option<PlayerState>| {
        let now = state.get();
        let starting = now == PlayerState::Playing
            && matches!(before, Some(PlayerState::Buffering | PlayerState::Idle));
        if let (true, Some(panel)) = (starting, panel.get_untracked()) {
            let options = ScrollIntoViewOptions::new();
            options.set_block(ScrollLogicalPosition::Nearest);
            panel.scroll_into_view_with_scroll_into_view_options(&options);
        }
        now
    });

    // A wait keeps what was said before it.
    let spoken_state = Memo::new(move |before: Option<&&'static str>| match state.get() {
        PlayerState::Buffering | PlayerState::Idle => before.copied().unwrap_or(""),
        state => state.words(),
    });

    let idle_without_audio = move || {
        !view.with(PlayerView::has_audio)
            && !matches!(state.get(), PlayerState::Buffering | PlayerState::Reading)
    };
    view! {
        <div
            class="player"
            node_ref=panel
            data-testid="player"
            data-state=move || state.get().name()
            role="group"
            aria-label="Player"
        >
            <div class="player-bar">
                <button
                    type="button"
                    class="button play-button"
                    data-testid="play"
                    data-action=move || state.get().play_label().to_lowercase()
                    disabled=idle_without_audio
                    on:click=move |_| {
                        player.unlock();
                        player.toggle();
                    }
                >
                    <span class="play-icon" aria-hidden="true">
                        {move || match state.get() {
                            PlayerState::Playing | PlayerState::Buffering => "❚❚",
                            PlayerState::Ended => "↻",
                            _ => "▶",
                        }}
                    </span>
                    <span>{move || state.get().play_label()}</span>
                </button>
                <button
                    type="button"
                    class="button secondary stop-button"
                    data-testid="stop"
                    disabled=move || {
                        matches!(state.get(), PlayerState::Idle | PlayerState::Ended)
                    }
                    on:click=move |_| player.stop()
                >
                    <span class="play-icon" aria-hidden="true">"■"</span>
                    <span>"Stop"</span>
                </button>
                <p class="player-state" data-testid="player-words">{move || view.with(PlayerView::words)}</p>
                // Screen readers hear when the music starts, pauses and ends, not each wait.
                <p class="visually-hidden" aria-live="polite">{move || spoken_state.get()}</p>
                <p class="playback-time">
                    <span class="visually-hidden">"Played and received: "</span>
                    <span
                        data-testid="playback-time"
                        data-seconds=move || format!("{:.3}", view.get().position)
                        data-received=move || format!("{:.3}", view.get().received)
                    >
                        {move || view.with(PlayerView::time_words)}
                    </span>
                </p>
            </div>
            <canvas
                class="waveform"
                data-testid="waveform"
                node_ref=canvas
                role="img"
                aria-label="The music's waveform, drawn as it arrives"
            ></canvas>
        </div>
    }
}

/// Sizes the canvas to its box in device pixels; its size, or nothing while it has no box.
fn fit(canvas: &web_sys::HtmlCanvasElement) -> Option<(u32, u32)> {
    let ratio = window().device_pixel_ratio().max(1.0);
    let width = (f64::from(canvas.client_width()) * ratio).round() as u32;
    let height = (f64::from(canvas.client_height()) * ratio).round() as u32;
    if width == 0 || height == 0 {
        return None;
    }
    if canvas.width() != width {
        canvas.set_width(width);
    }
    if canvas.height() != height {
        canvas.set_height(height);
    }
    Some((width, height))
}

/// Draws the peaks, played columns in gold, with the playhead.
fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    (width, height): (u32, u32),
    peaks: &Peaks,
    view: &PlayerView,
) {
    let Some(ctx) = context_2d(canvas) else {
        return;
    };
    let (w, h) = (f64::from(width), f64::from(height));
    let mid = h / 2.0;
    ctx.clear_rect(0.0, 0.0, w, h);
    ctx.set_fill_style_str(BASELINE);
    ctx.fill_rect(0.0, mid - 0.5, w, 1.0);
    let columns = peaks.columns();
    let head = playhead_column(view.fraction(), columns.len());
    let (played, unplayed) = columns.split_at(head.min(columns.len()));
    for (first, part, colour) in [(0, played, PLAYED), (head, unplayed, UNPLAYED)] {
        ctx.set_fill_style_str(colour);
        for (i, peak) in part.iter().enumerate() {
            let Some(peak) = peak else {
                continue;
            };
            let top = mid - f64::from(peak.max) * mid * 0.92;
            let bottom = mid - f64::from(peak.min) * mid * 0.92;
            ctx.fill_rect((first + i) as f64, top, 1.0, (bottom - top).max(1.0));
        }
    }
    if view.has_audio() {
        let ratio = window().device_pixel_ratio().max(1.0);
        ctx.set_fill_style_str(PLAYHEAD);
        ctx.fill_rect(head as f64 - ratio / 2.0, 0.0, 2.0 * ratio, h);
    }
}
