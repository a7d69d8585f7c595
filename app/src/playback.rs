//! What the player shows: its state (idle, buffering, playing, paused, ended) from the
//! timeline's flow and the person's presses, its words, and the numbers under the waveform.

use crate::timeline::Flow;

/// The player's state, as its `data-state` names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlayerState {
    /// Nothing to play, or stopped at the start.
    #[default]
    Idle,
    /// Waiting for audio: before the first, or after the network fell behind.
    Buffering,
    Playing,
    /// Paused by the person, or held by the browser until the person presses play.
    Paused,
    /// Everything received has been played.
    Ended,
    /// Waiting while the painting is read aloud; the music follows.
    Reading,
}

impl PlayerState {
    /// The machine-readable name.
    pub fn name(self) -> &'static str {
        match self {
            PlayerState::Idle => "idle",
            PlayerState::Buffering => "buffering",
            PlayerState::Playing => "playing",
            PlayerState::Paused => "paused",
            PlayerState::Ended => "ended",
            PlayerState::Reading => "reading",
        }
    }

    /// The state in words.
    pub fn words(self) -> &'static str {
        match self {
            PlayerState::Idle => "Ready",
            PlayerState::Buffering => "Buffering…",
            PlayerState::Playing => "Playing",
            PlayerState::Paused => "Paused",
            PlayerState::Ended => "Finished",
            PlayerState::Reading => "Reading the painting aloud…",
        }
    }

    /// What the play button does now, as its label.
    pub fn play_label(self) -> &'static str {
        match self {
            PlayerState::Playing | PlayerState::Buffering => "Pause",
            PlayerState::Paused => "Play",
            PlayerState::Ended => "Play again",
            PlayerState::Idle => "Play",
            PlayerState::Reading => "Skip the reading",
        }
    }
}

/// What the person (or the browser) has done to the playback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Holds {
    /// A piece is coming but its audio has not started arriving.
    pub awaiting: bool,
    /// Stopped: nothing plays until Play.
    pub stopped: bool,
    /// Paused by the person, or the audio clock is suspended.
    pub paused: bool,
    /// The painting is being read aloud: the music waits.
    pub reading: bool,
}

/// The player's state; `flow` is `None` while there is no audio to play.
pub fn state(flow: Option<Flow>, holds: Holds) -> PlayerState {
    match flow {
        _ if holds.reading && !holds.stopped => PlayerState::Reading,
        None if holds.awaiting => PlayerState::Buffering,
        None => PlayerState::Idle,
        Some(_) if holds.stopped => PlayerState::Idle,
        Some(Flow::Ended) => PlayerState::Ended,
        Some(_) if holds.paused => PlayerState::Paused,
        Some(Flow::Buffering) => PlayerState::Buffering,
        Some(Flow::Playing) => PlayerState::Playing,
    }
}

/// What the player's controls and waveform show.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlayerView {
    pub state: PlayerState,
    /// Where playback is, in seconds.
    pub position: f64,
    /// Seconds of audio received.
    pub received: f64,
    /// How long the piece will be, when known: the waveform's full width.
    pub expected: Option<f64>,
    /// While waiting for enough audio to play through, about how long until it starts.
    pub starts_in: Option<f64>,
}

impl PlayerView {
    /// The state in words, with the wait while buffering when it is known and worth saying.
    pub fn words(&self) -> String {
        match (self.state, self.starts_in) {
            (PlayerState::Buffering, _) if !self.has_audio() => "Waiting for the music…".to_owned(),
            (PlayerState::Buffering, Some(wait)) if wait >= 1.5 => {
                format!("Starts in about {} s", wait.ceil() as u64)
            }
            (state, _) => state.words().to_owned(),
        }
    }

    /// Where playback is against the piece's length (or what has arrived while that is not
    /// known), e.g. `0:03 / 0:15`.
    pub fn time_words(&self) -> String {
        crate::clock::progress(self.position, self.span())
    }

    /// The length the waveform's width stands for: the expected length, or what has arrived
    /// when that is more.
    pub fn span(&self) -> f64 {
        self.expected.unwrap_or(0.0).max(self.received)
    }

    /// How far along the piece the playhead is, from 0 to 1.
    pub fn fraction(&self) -> f64 {
        match self.span() {
            span if span > 0.0 => (self.position / span).clamp(0.0, 1.0),
            _ => 0.0,
        }
    }

    /// Whether there is audio to play.
    pub fn has_audio(&self) -> bool {
        self.received > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_and_flow_give_the_state() {
        let none = Holds::default();
        assert_eq!(state(None, none), PlayerState::Idle);
        let awaiting = Holds {
            awaiting: true,
            ..none
        };
        assert_eq!(state(None, awaiting), PlayerState::Buffering);
        assert_eq!(state(Some(Flow::Playing), none), PlayerState::Playing);
        assert_eq!(state(Some(Flow::Buffering), none), PlayerState::Buffering);
        assert_eq!(state(Some(Flow::Ended), none), PlayerState::Ended);
        let paused = Holds {
            paused: true,
            ..none
        };
        assert_eq!(state(Some(Flow::Playing), paused), PlayerState::Paused);
        assert_eq!(state(Some(Flow::Buffering), paused), PlayerState::Paused);
        assert_eq!(state(Some(Flow::Ended), paused), PlayerState::Ended);
        let stopped = Holds {
            stopped: true,
            ..none
        };
        assert_eq!(state(Some(Flow::Playing), stopped), PlayerState::Idle);
        let reading = Holds {
            reading: true,
            paused: true,
            ..none
        };
        assert_eq!(state(None, reading), PlayerState::Reading);
        assert_eq!(state(Some(Flow::Playing), reading), PlayerState::Reading);
        assert_eq!(state(Some(Flow::Ended), reading), PlayerState::Reading);
    }

    #[test]
    fn names_words_and_labels() {
        let all = [
            PlayerState::Idle,
            PlayerState::Buffering,
            PlayerState::Playing,
            PlayerState::Paused,
            PlayerState::Ended,
            PlayerState::Reading,
        ];
        let names: Vec<&str> = all.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            ["idle", "buffering", "playing", "paused", "ended", "reading"]
        );
        assert_eq!(PlayerState::Playing.play_label(), "Pause");
        assert_eq!(PlayerState::Ended.play_label(), "Play again");
    }

    #[test]
    fn the_playhead_moves_across_the_expected_length() {
        let view = PlayerView {
            state: PlayerState::Playing,
            position: 3.0,
            received: 5.0,
            expected: Some(15.0),
            starts_in: None,
        };
        assert_eq!(view.span(), 15.0);
        assert!((view.fraction() - 0.2).abs() < 1e-12);
        let longer = PlayerView {
            received: 20.0,
            position: 10.0,
            ..view
        };
        assert_eq!(longer.fraction(), 0.5);
        assert_eq!(PlayerView::default().fraction(), 0.0);
        assert!(!PlayerView::default().has_audio());
    }

    #[test]
    fn a_long_wait_is_said_and_the_time_counts_against_the_whole_piece() {
        let mut view = PlayerView {
            state: PlayerState::Buffering,
            position: 0.0,
            received: 1.2,
            expected: Some(15.0),
            starts_in: Some(7.2),
        };
        assert_eq!(view.words(), "Starts in about 8 s");
        assert_eq!(view.time_words(), "0:00 / 0:15");
        view.starts_in = Some(0.5);
        assert_eq!(view.words(), "Buffering…");
        view.received = 0.0;
        assert_eq!(view.words(), "Waiting for the music…");
        view.received = 1.2;
        view.state = PlayerState::Playing;
        view.starts_in = None;
        assert_eq!(view.words(), "Playing");
    }
}
