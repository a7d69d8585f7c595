//! The streaming player on Web Audio: the piece's audio is kept as it arrives and played
//! through [`crate::timeline`]'s plan, one `AudioBufferSourceNode` per chunk at exact times, a
//! gain node per playback for the fades at gaps and a master gain for pause. The arithmetic is
//! in `timeline` and `playback`; this module only makes the Web Audio calls and keeps
//! [`PlayerView`] up to date on each animation frame while something plays.

use std::time::Duration;

use ekphrasis_shared::AudioFrame;
use leptos::logging::warn;
use leptos::prelude::*;
use wasm_bindgen::JsValue;
use web_sys::{
    AudioBufferSourceNode, AudioContext, AudioContextState, AudioScheduledSourceNode, GainNode,
};

use crate::audio::{AudioFormat, ReceivedAudio};
use crate::playback::{Holds, PlayerState, PlayerView, state};
use crate::timeline::{Plan, Timeline, TimelineConfig};
use crate::web_audio::{self, audio_buffer, ramp_from_current, resume};

/// Length of the fades when pausing, resuming and stopping, in seconds.
const FADE: f64 = 0.005;

/// The audio clock and the gains every playback goes through.
struct Graph {
    context: AudioContext,
    /// Fades for pause and resume.
    master: GainNode,
    /// The page's volume (a kiosk sets it).
    volume: GainNode,
}

/// One playback from its start (or since the last rewind): its own gain for the timeline's
/// fades and the chunks it has scheduled.
struct Session {
    gain: GainNode,
    /// Each scheduled chunk with the clock time it ends.
    sources: Vec<(AudioBufferSourceNode, f64)>,
}

struct Engine {
    graph: Option<Graph>,
    session: Option<Session>,
    /// The piece's schedule, once its audio format is known.
    timeline: Option<Timeline>,
    holds: Holds,
    expected: Option<f64>,
    ticking: bool,
    /// Loudness from 0 to 1.
    volume: f32,
}

/// The page's handle on the player.
#[derive(Clone, Copy)]
pub struct Player {
    engine: StoredValue<Engine, LocalStorage>,
    audio: RwSignal<ReceivedAudio>,
    view: RwSignal<PlayerView>,
}

impl Default for Engine {
    fn default() -> Self {
        Self {
            graph: None,
            session: None,
            timeline: None,
            holds: Holds::default(),
            expected: None,
            ticking: false,
            volume: 1.0,
        }
    }
}

impl Player {
    /// A player with nothing to play.
    pub fn new() -> Self {
        Self {
            engine: StoredValue::new_local(Engine::default()),
            audio: RwSignal::new(ReceivedAudio::default()),
            view: RwSignal::new(PlayerView::default()),
        }
    }

    /// What the controls show (tracked).
    pub fn view(&self) -> PlayerView {
        self.view.get()
    }

    /// The audio received for the piece (tracked through the signal).
    pub fn audio(&self) -> RwSignal<ReceivedAudio> {
        self.audio
    }

    /// Makes sure the audio clock exists and runs. Browsers allow sound only after a person's
    /// gesture, so every click that leads to music calls this first.
    pub fn unlock(&self) {
        self.engine.update_value(|engine| {
            let held = engine.holds.paused || engine.holds.reading;
            if let (Some(graph), false) = (engine.graph(), held) {
                resume(&graph.context);
            }
        });
    }

    /// Sets the loudness, from 0 to 1.
    pub fn set_volume(&self, volume: f32) {
        self.engine.update_value(|engine| {
            engine.volume = volume.clamp(0.0, 1.0);
            if let Some(graph) = engine.graph.as_ref() {
                graph.volume.gain().set_value(engine.volume);
            }
        });
    }

    /// Holds the music while the painting is read aloud: the audio clock stops, and audio that
    /// arrives meanwhile waits to play.
    pub fn hold_for_reading(&self) {
        self.engine.update_value(|engine| {
            engine.holds.reading = true;
            if let Some(graph) = engine.graph()
                && let Err(error) = graph.context.suspend()
            {
                warn!("could not hold the audio: {error:?}");
            }
        });
        self.refresh();
    }

    /// The reading is over: the music plays (unless the person paused it).
    pub fn release_reading(&self) {
        let held = self
            .engine
            .try_update_value(|engine| std::mem::take(&mut engine.holds.reading))
            .unwrap_or(false);
        if held {
            self.engine.update_value(|engine| {
                if let (false, Some(graph)) = (engine.holds.paused, engine.graph.as_ref()) {
                    resume(&graph.context);
                }
            });
            self.feed();
        }
    }

    /// A new piece is on its way (`seconds` long, when known): the old one stops.
    pub fn expect(&self, seconds: Option<f64>) {
        self.engine.update_value(|engine| {
            engine.silence();
            engine.timeline = None;
            engine.holds = Holds {
                awaiting: true,
                reading: engine.holds.reading,
                ..Holds::default()
            };
            engine.resume_if_paused();
            engine.expected = seconds;
        });
        self.audio.set(ReceivedAudio::default());
        self.refresh();
    }

    /// Sets how long the coming piece will be, once the server has said.
    pub fn set_expected(&self, seconds: f64) {
        self.engine
            .update_value(|engine| engine.expected = Some(seconds));
        self.refresh();
    }

    /// The piece's audio format: its audio follows.
    pub fn begin(&self, format: AudioFormat) {
        self.audio.update(|audio| audio.start(format));
        self.engine.update_value(|engine| {
            engine.silence();
            engine.timeline = Some(Timeline::new(format.sample_rate, TimelineConfig::default()));
            engine.holds.awaiting = false;
        });
        self.refresh();
    }

    /// Keeps a frame's audio and schedules what can play.
    pub fn push(&self, frame: &AudioFrame) {
        self.audio.update(|audio| audio.push(frame));
        self.feed();
    }

    /// Counts a binary message that was not readable audio.
    pub fn note_unreadable(&self) {
        self.audio.update(ReceivedAudio::note_unreadable);
    }

    /// No more audio will come for this piece: what is left plays out.
    pub fn finish(&self) {
        self.engine.update_value(|engine| {
            engine.holds.awaiting = false;
            if let Some(timeline) = engine.timeline.as_mut() {
                timeline.finish();
            }
        });
        self.feed();
    }

    /// Plays a piece received whole, such as a stored track.
    pub fn play_whole(&self, format: AudioFormat, samples: Vec<f32>) {
        let frames = samples.len() / usize::from(format.channels.max(1));
        self.expect(Some(frames as f64 / f64::from(format.sample_rate.max(1))));
        self.begin(format);
        self.audio.set(ReceivedAudio::whole(format, samples));
        self.finish();
    }

    /// Forgets the piece: nothing to play.
    pub fn clear(&self) {
        self.engine.update_value(|engine| {
            engine.silence();
            engine.timeline = None;
            engine.holds = Holds {
                reading: engine.holds.reading,
                ..Holds::default()
            };
            engine.expected = None;
        });
        self.audio.set(ReceivedAudio::default());
        self.refresh();
    }

    /// Play, pause, or play again from the start, as the play button says.
    pub fn toggle(&self) {
        match self.view.get_untracked().state {
            PlayerState::Reading => self.release_reading(),
            PlayerState::Playing | PlayerState::Buffering => self.pause(),
            PlayerState::Paused => self.resume(),
            PlayerState::Ended | PlayerState::Idle => self.replay(),
        }
    }

    /// Stops and goes back to the start.
    pub fn stop(&self) {
        self.engine.update_value(|engine| {
            engine.silence();
            if let Some(timeline) = engine.timeline.as_mut() {
                timeline.rewind();
            }
            engine.holds.stopped = true;
            engine.holds.awaiting = false;
        });
        self.refresh();
    }

    fn pause(&self) {
        let engine = self.engine;
        self.engine.update_value(|e| {
            e.holds.paused = true;
            let Some(graph) = e.graph.as_ref() else {
                return;
            };
            let now = graph.context.current_time();
            ramp_from_current(&graph.master, now, 0.0, FADE);
            // Suspend once the fade is out, unless play was pressed meanwhile.
            set_timeout(
                move || {
                    engine.update_value(|e| {
                        if let (true, Some(graph)) = (e.holds.paused, e.graph.as_ref())
                            && let Err(error) = graph.context.suspend()
                        {
                            warn!("could not pause the audio: {error:?}");
                        }
                    });
                },
                Duration::from_millis(20),
            );
        });
        self.refresh();
    }

    fn resume(&self) {
        self.engine.update_value(|engine| {
            engine.holds.paused = false;
            engine.holds.stopped = false;
            let reading = engine.holds.reading;
            if let (Some(graph), false) = (engine.graph(), reading) {
                resume(&graph.context);
                let now = graph.context.current_time();
                ramp_from_current(&graph.master, now, 1.0, FADE);
            }
        });
        self.feed();
    }

    fn replay(&self) {
        self.engine.update_value(|engine| {
            engine.silence();
            if let Some(timeline) = engine.timeline.as_mut() {
                timeline.rewind();
            }
            engine.holds.stopped = false;
        });
        self.resume();
    }

    /// Schedules whatever the timeline plans for the audio received so far.
    fn feed(&self) {
        let audio = self.audio;
        self.engine.update_value(|engine| {
            let frames = audio.with_untracked(ReceivedAudio::frames);
            let now = engine.graph().map(|graph| graph.context.current_time());
            let expected = engine.expected;
            if let Some(timeline) = engine.timeline.as_mut() {
                timeline.set_expected(expected);
                timeline.set_received(frames, now.unwrap_or(0.0));
            }
            let Some(now) = now.filter(|_| !engine.holds.stopped) else {
                return;
            };
            let Some(plan) = engine.timeline.as_mut().map(|t| t.plan(now)) else {
                return;
            };
            if plan.chunks.is_empty() && plan.ramps.is_empty() {
                return;
            }
            audio.with_untracked(|audio| {
                if let Err(error) = engine.schedule(&plan, audio, now) {
                    warn!("could not schedule audio: {error:?}");
                }
            });
        });
        self.refresh();
    }

    /// Brings the view up to date, and keeps it so on each animation frame while needed.
    fn refresh(&self) {
        let (view, start_ticking) = self
            .engine
            .try_update_value(|engine| {
                let view = engine.view();
                // Also while the clock starts up again after a pause (or waits for the browser
                // to allow sound), so that the view sees it run.
                let waking = view.state == PlayerState::Paused && !engine.holds.paused;
                let wanted =
                    waking || matches!(view.state, PlayerState::Playing | PlayerState::Buffering);
                let start = wanted && !engine.ticking;
                if start {
                    engine.ticking = true;
                }
                (view, start)
            })
            .unwrap_or_default();
        if self.view.get_untracked() != view {
            self.view.set(view);
        }
        if start_ticking {
            let player = *self;
            request_animation_frame(move || player.tick());
        }
    }

    fn tick(self) {
        self.engine.update_value(|engine| engine.ticking = false);
        self.refresh();
    }
}

impl Engine {
    /// The audio graph, made on first use.
    fn graph(&mut self) -> Option<&Graph> {
        if self.graph.is_none() {
            match make_graph(self.volume) {
                Ok(graph) => self.graph = Some(graph),
                Err(error) => warn!("this browser cannot play audio here: {error:?}"),
            }
        }
        self.graph.as_ref()
    }

    /// What the controls show now.
    fn view(&self) -> PlayerView {
        let now = self
            .graph
            .as_ref()
            .map_or(0.0, |graph| graph.context.current_time());
        let suspended = self
            .graph
            .as_ref()
            .is_some_and(|graph| graph.context.state() == AudioContextState::Suspended);
        let holds = Holds {
            paused: self.holds.paused || suspended,
            ..self.holds
        };
        let flow = self
            .timeline
            .as_ref()
            .filter(|t| t.received() > 0 || t.is_complete())
            .map(|t| t.flow(now));
        PlayerView {
            state: state(flow, holds),
            position: self.timeline.as_ref().map_or(0.0, |t| t.position(now)),
            received: self
                .timeline
                .as_ref()
                .map_or(0.0, Timeline::received_seconds),
            expected: self.expected,
            starts_in: self.timeline.as_ref().and_then(|t| t.starts_in(now)),
        }
    }

    /// Resumes the clock after a pause, so that a new piece is heard.
    fn resume_if_paused(&mut self) {
        if std::mem::take(&mut self.holds.paused)
            && !self.holds.reading
            && let Some(graph) = self.graph.as_ref()
        {
            resume(&graph.context);
            ramp_from_current(&graph.master, graph.context.current_time(), 1.0, FADE);
        }
    }

    /// Fades out and stops everything scheduled.
    fn silence(&mut self) {
        let (Some(graph), Some(session)) = (self.graph.as_ref(), self.session.take()) else {
            return;
        };
        let now = graph.context.current_time();
        ramp_from_current(&session.gain, now, 0.0, FADE);
        for (source, _) in &session.sources {
            // Fails only for a source that never started.
            let _ = AudioScheduledSourceNode::stop_with_when(source, now + FADE);
        }
        let gain = session.gain;
        set_timeout(
            move || {
                let _ = gain.disconnect();
            },
            Duration::from_millis(200),
        );
    }

    /// Makes the plan's chunks and gain changes.
    fn schedule(&mut self, plan: &Plan, audio: &ReceivedAudio, now: f64) -> Result<(), JsValue> {
        let (Some(graph), Some(format)) = (self.graph.as_ref(), audio.format) else {
            return Ok(());
        };
        if self.session.is_none() {
            let gain = graph.context.create_gain()?;
            gain.connect_with_audio_node(&graph.master)?;
            self.session = Some(Session {
                gain,
                sources: Vec::new(),
            });
        }
        let session = self.session.as_mut().expect("made above");
        session.sources.retain(|(_, end)| *end > now);
        let param = session.gain.gain();
        if let Some(from) = plan.cancel_gain_from {
            param.cancel_scheduled_values(from)?;
        }
        for ramp in &plan.ramps {
            param.set_value_at_time(ramp.from, ramp.start)?;
            param.linear_ramp_to_value_at_time(ramp.to, ramp.end)?;
        }
        for chunk in &plan.chunks {
            let buffer = audio_buffer(
                &graph.context,
                format,
                &audio.samples,
                chunk.first_frame,
                chunk.frames,
            )?;
            let source = graph.context.create_buffer_source()?;
            source.set_buffer(Some(&buffer));
            source.connect_with_audio_node(&session.gain)?;
            AudioScheduledSourceNode::start_with_when(&source, chunk.start)?;
            let end = chunk.start + chunk.frames as f64 / f64::from(format.sample_rate);
            session.sources.push((source, end));
        }
        Ok(())
    }
}

fn make_graph(volume: f32) -> Result<Graph, JsValue> {
    let context = web_audio::new_context()?;
    let master = context.create_gain()?;
    let loudness = context.create_gain()?;
    loudness.gain().set_value(volume);
    master.connect_with_audio_node(&loudness)?;
    loudness.connect_with_audio_node(&context.destination())?;
    Ok(Graph {
        context,
        master,
        volume: loudness,
    })
}
