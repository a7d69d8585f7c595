//! Web Audio calls shared by the streaming player and the kiosk's crossfader: the audio clock,
//! starting it, gain fades, and buffers made from received samples.

use leptos::logging::warn;
use wasm_bindgen::JsValue;
use web_sys::{AudioBuffer, AudioContext, AudioContextOptions, AudioContextState, GainNode};

use crate::audio::{AudioFormat, channel};

/// MusicGen's sample rate: the audio clock runs at it, so chunks meet sample-exactly without
/// each being resampled on its own.
const CONTEXT_RATE: f32 = 32_000.0;

/// A new audio clock at MusicGen's rate, or at the browser's own when it cannot run at 32 kHz
/// (it then resamples).
pub fn new_context() -> Result<AudioContext, JsValue> {
    let options = AudioContextOptions::new();
    options.set_sample_rate(CONTEXT_RATE);
    AudioContext::new_with_context_options(&options).or_else(|_| AudioContext::new())
}

/// Starts the clock if it is not running (browsers allow it after a person's gesture).
pub fn resume(context: &AudioContext) {
    if context.state() != AudioContextState::Running
        && let Err(error) = context.resume()
    {
        warn!("could not start the audio: {error:?}");
    }
}

/// Fades a gain from wherever it is now to `to` over `seconds`, dropping fades planned later.
pub fn ramp_from_current(gain: &GainNode, now: f64, to: f32, seconds: f64) {
    let param = gain.gain();
    let from = param.value();
    let _ = param.cancel_scheduled_values(now);
    let _ = param.set_value_at_time(from, now);
    let _ = param.linear_ramp_to_value_at_time(to, now + seconds);
}

/// A buffer holding `frames` frames of `samples` (channels interleaved) from `first_frame`.
pub fn audio_buffer(
    context: &AudioContext,
    format: AudioFormat,
    samples: &[f32],
    first_frame: u64,
    frames: u64,
) -> Result<AudioBuffer, JsValue> {
    let channels = format.channels.max(1);
    let buffer = context.create_buffer(
        u32::from(channels),
        frames as u32,
        format.sample_rate as f32,
    )?;
    for index in 0..channels {
        let data = channel(samples, format.channels, index, first_frame, frames);
        buffer.copy_to_channel(&data, i32::from(index))?;
    }
    Ok(buffer)
}
