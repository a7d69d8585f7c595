//! The kiosk's sound for stored pieces: each played whole through Web Audio, one at a time, the
//! new one fading in while the last fades out, all at the kiosk's volume. Pieces are handed over
//! as decoded buffers, so what was fetched once plays again without the network.

use ekphrasis_shared::TrackId;
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    AudioBuffer, AudioBufferSourceNode, AudioContext, AudioScheduledSourceNode, GainNode,
};

use crate::audio::AudioFormat;
use crate::web_audio::{audio_buffer, new_context, ramp_from_current, resume};

/// The piece that is sounding.
struct Voice {
    serial: u64,
    source: AudioBufferSourceNode,
    gain: GainNode,
}

struct Mixer {
    context: AudioContext,
    /// The kiosk's volume.
    volume: GainNode,
    voice: Option<Voice>,
    /// Counts voices, so that a voice's end is told apart from a later one's.
    serial: u64,
}

/// The page's handle on the kiosk's sound.
#[derive(Clone, Copy)]
pub struct Crossfader {
    mixer: StoredValue<Option<Mixer>, LocalStorage>,
    volume: f32,
    /// The piece sounding now (tracked).
    playing: RwSignal<Option<TrackId>>,
    /// The piece started last, and how many have been started (tracked).
    started: RwSignal<(Option<TrackId>, u32)>,
}

impl Crossfader {
    /// A crossfader playing at `volume` (0 to 1).
    pub fn new(volume: f32) -> Self {
        Self {
            mixer: StoredValue::new_local(None),
            volume: volume.clamp(0.0, 1.0),
            playing: RwSignal::new(None),
            started: RwSignal::new((None, 0)),
        }
    }

    /// The piece started last (even if it has ended since), and how many pieces have been
    /// started (tracked).
    pub fn last_started(&self) -> (Option<TrackId>, u32) {
        self.started.get()
    }

    /// The piece sounding now (tracked).
    pub fn playing(&self) -> Option<TrackId> {
        self.playing.get()
    }

    /// Makes sure the audio clock runs: browsers allow sound only after a person's gesture.
    pub fn unlock(&self) {
        self.with_mixer(|mixer| resume(&mixer.context));
    }

    /// A buffer holding `samples` (channels interleaved), ready for [`Crossfader::play`].
    pub fn buffer(&self, format: AudioFormat, samples: &[f32]) -> Option<AudioBuffer> {
        let frames = samples.len() / usize::from(format.channels.max(1));
        self.with_mixer(|mixer| audio_buffer(&mixer.context, format, samples, 0, frames as u64))
            .and_then(|made| {
                made.map_err(|error| warn!("could not hold the audio: {error:?}"))
                    .ok()
            })
    }

    /// Plays `buffer` from its start, fading it in over `fade` seconds while whatever played
    /// fades out.
    pub fn play(&self, track: TrackId, buffer: &AudioBuffer, fade: f64) {
        let playing = self.playing;
        let started = self.with_mixer(|mixer| {
            let now = mixer.context.current_time();
            mixer.fade_out(now, fade);
            mixer.serial += 1;
            let serial = mixer.serial;
            let gain = mixer.context.create_gain()?;
            gain.connect_with_audio_node(&mixer.volume)?;
            let param = gain.gain();
            param.set_value_at_time(0.0, now)?;
            param.linear_ramp_to_value_at_time(1.0, now + fade.max(0.005))?;
            let source = mixer.context.create_buffer_source()?;
            source.set_buffer(Some(buffer));
            source.connect_with_audio_node(&gain)?;
            let mixer_handle = self.mixer;
            let ended = Closure::once_into_js(move || {
                let current = mixer_handle
                    .try_with_value(|mixer| {
                        mixer
                            .as_ref()
                            .and_then(|m| m.voice.as_ref())
                            .is_some_and(|voice| voice.serial == serial)
                    })
                    .unwrap_or(false);
                if current {
                    playing.try_set(None);
                }
            });
            AudioScheduledSourceNode::set_onended(&source, Some(ended.unchecked_ref()));
            AudioScheduledSourceNode::start_with_when(&source, now)?;
            mixer.voice = Some(Voice {
                serial,
                source,
                gain,
            });
            Ok::<_, JsValue>(())
        });
        match started {
            Some(Ok(())) => {
                self.playing.set(Some(track.clone()));
                self.started.update(|(last, count)| {
                    *last = Some(track);
                    *count += 1;
                });
            }
            Some(Err(error)) => warn!("could not play the piece: {error:?}"),
            None => {}
        }
    }

    /// Fades whatever plays out over `fade` seconds.
    pub fn fade_out(&self, fade: f64) {
        self.with_mixer(|mixer| {
            let now = mixer.context.current_time();
            mixer.fade_out(now, fade);
        });
        self.playing.set(None);
    }

    /// Runs `f` on the mixer, made on first use; `None` when this browser has no Web Audio.
    fn with_mixer<T>(&self, f: impl FnOnce(&mut Mixer) -> T) -> Option<T> {
        let volume = self.volume;
        self.mixer
            .try_update_value(|mixer| {
                if mixer.is_none() {
                    match Mixer::new(volume) {
                        Ok(made) => *mixer = Some(made),
                        Err(error) => warn!("this browser cannot play audio here: {error:?}"),
                    }
                }
                mixer.as_mut().map(f)
            })
            .flatten()
    }
}

impl Mixer {
    fn new(volume: f32) -> Result<Self, JsValue> {
        let context = new_context()?;
        let gain = context.create_gain()?;
        gain.gain().set_value(volume);
        gain.connect_with_audio_node(&context.destination())?;
        Ok(Self {
            context,
            volume: gain,
            voice: None,
            serial: 0,
        })
    }

    /// Fades the sounding voice out and stops it once silent.
    fn fade_out(&mut self, now: f64, fade: f64) {
        let Some(voice) = self.voice.take() else {
            return;
        };
        let fade = fade.max(0.005);
        ramp_from_current(&voice.gain, now, 0.0, fade);
        // Fails only for a source that already stopped.
        let _ = AudioScheduledSourceNode::stop_with_when(&voice.source, now + fade);
    }
}
