//! When each piece of streamed audio plays, in the audio clock's seconds: a small jitter buffer
//! before playback starts, chunks laid end to end at sample-exact times, and, when the network
//! falls behind, a fresh buffer before playing on, with short gain fades at every gap so it
//! never clicks. Pure arithmetic: [`crate::player`] turns a [`Plan`] into Web Audio calls.
//!
//! Audio is counted in frames (one sample per channel). A *run* is audio playing without a gap:
//! it starts at a clock time with a frame and grows as chunks are appended at its end.
//!
//! When audio arrives slower than it plays (a CPU composing at 0.2× real time), starting after
//! the jitter buffer would play a little, wait, play a little. Instead, once the piece's length is
//! known, a run starts only when what is in hand will carry playback to the end at the rate audio
//! has been arriving: with `r` seconds of audio a second, `R` seconds still to come and `B` in
//! hand, playing all of it takes `B + R` seconds and receiving the rest `R / r`, so it waits for
//! `B ≥ R (1/r − 1)` plus the jitter buffer ([`Timeline::starts_in`] says how long that is).

/// How the timeline buffers, schedules and fades.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimelineConfig {
    /// Audio in hand before playback starts or starts again after an underrun, in seconds.
    pub jitter_seconds: f64,
    /// How far ahead of the clock a run is started, so that its first sample is not late.
    pub lead_seconds: f64,
    /// New audio joins the playing run only while the run has at least this much left to play;
    /// later than that the run ends (with its fade) and the audio waits for a fresh buffer.
    pub guard_seconds: f64,
    /// Length of the fade in at each run's start and out at its end.
    pub fade_seconds: f64,
    /// Longest chunk handed out at once, in seconds.
    pub max_chunk_seconds: f64,
    /// The arrival rate is trusted only after audio has been arriving for this long, in seconds.
    pub rate_window_seconds: f64,
    /// How much longer than the measured rate says the rest of the piece is allowed to take to
    /// arrive (1.1: ten percent), against a rate that slows a little.
    pub rate_margin: f64,
}

impl Default for TimelineConfig {
    fn default() -> Self {
        Self {
            jitter_seconds: 0.4,
            lead_seconds: 0.05,
            guard_seconds: 0.02,
            fade_seconds: 0.005,
            max_chunk_seconds: 2.0,
            rate_window_seconds: 0.25,
            rate_margin: 1.1,
        }
    }
}

/// Audio that plays without a gap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    /// Clock time of its first frame.
    pub start: f64,
    /// Index of its first frame in the piece.
    pub first_frame: u64,
    /// How many frames it holds so far.
    pub frames: u64,
}

/// Frames of the piece to play from one clock time on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chunk {
    pub first_frame: u64,
    pub frames: u64,
    /// Clock time of its first frame.
    pub start: f64,
}

/// A linear change of the output gain between two clock times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ramp {
    pub start: f64,
    pub end: f64,
    pub from: f32,
    pub to: f32,
}

/// What to do on the audio graph now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Drop every gain change scheduled at or after this time first (the fade out of a run
    /// that is being extended).
    pub cancel_gain_from: Option<f64>,
    /// Chunks to schedule, in order.
    pub chunks: Vec<Chunk>,
    /// Gain changes to schedule, in time order.
    pub ramps: Vec<Ramp>,
}

/// How the playback stands at a clock time, before pause and stop are considered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Waiting for enough audio to start, or to go on after an underrun.
    Buffering,
    /// A run is playing, or is about to start.
    Playing,
    /// Everything there is has been played.
    Ended,
}

/// The schedule of one piece on the audio clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    config: TimelineConfig,
    /// Frames per second.
    rate: f64,
    /// Frames received so far.
    received: u64,
    /// Whether every frame has been received.
    complete: bool,
    /// Frames handed out in chunks so far (the next chunk starts here).
    scheduled: u64,
    runs: Vec<Run>,
    /// Whether the last run may still grow; false once it has run (nearly) dry.
    open: bool,
    /// Frames the whole piece will have, when known.
    expected: Option<u64>,
    /// When audio first arrived (clock time) and how many frames came then.
    first_arrival: Option<(f64, u64)>,
    /// When audio last arrived, and how many arrivals there have been.
    last_arrival: f64,
    arrivals: u32,
}

impl Timeline {
    /// An empty timeline for audio of `rate` frames per second.
    pub fn new(rate: u32, config: TimelineConfig) -> Self {
        Self {
            config,
            rate: f64::from(rate.max(1)),
            received: 0,
            complete: false,
            scheduled: 0,
            runs: Vec::new(),
            open: false,
            expected: None,
            first_arrival: None,
            last_arrival: 0.0,
            arrivals: 0,
        }
    }

    /// Notes that `frames` frames have been received in all, by clock time `now`.
    pub fn set_received(&mut self, frames: u64, now: f64) {
        if frames <= self.received {
            return;
        }
        self.received = frames;
        if self.first_arrival.is_none() {
            self.first_arrival = Some((now, frames));
        }
        self.last_arrival = now;
        self.arrivals += 1;
    }

    /// Notes how long the whole piece will be, in seconds, when known.
    pub fn set_expected(&mut self, seconds: Option<f64>) {
        self.expected = seconds.map(|s| (s.max(0.0) * self.rate).round() as u64);
    }

    /// Seconds of audio arriving per second of clock time, from the first arrival to the last,
    /// once that is long enough to tell; measured up to `now` instead when nothing has come for
    /// more than twice the usual gap (the stream has slowed or stalled).
    pub fn arrival_rate(&self, now: f64) -> Option<f64> {
        let (since, at_first) = self.first_arrival?;
        let span = self.last_arrival - since;
        if span < self.config.rate_window_seconds || self.arrivals < 2 {
            return None;
        }
        let gap = span / f64::from(self.arrivals - 1);
        let over = if now - self.last_arrival > 2.0 * gap {
            now - since
        } else {
            span
        };
        Some((self.received - at_first) as f64 / self.rate / over)
    }

    /// Seconds of audio still to arrive, when the piece's length is known.
    fn remaining_seconds(&self) -> Option<f64> {
        let expected = self.expected?;
        Some(expected.saturating_sub(self.received) as f64 / self.rate)
    }

    /// Seconds in hand that playing on needs before it may start: the jitter buffer, plus
    /// whatever keeps the rest of the piece from running dry at the arrival rate. `None` while
    /// that rate is not known yet.
    fn needed_seconds(&self, now: f64) -> Option<f64> {
        let jitter = self.config.jitter_seconds;
        let Some(remaining) = self.remaining_seconds() else {
            return Some(jitter);
        };
        if remaining == 0.0 {
            return Some(jitter);
        }
        let rate = self.arrival_rate(now)?;
        if rate >= 1.0 {
            return Some(jitter);
        }
        if rate <= 0.0 {
            return Some(f64::INFINITY);
        }
        Some(jitter + self.config.rate_margin * remaining * (1.0 / rate - 1.0))
    }

    /// While waiting to start (or to go on), about how many seconds until it will, at the rate
    /// audio has been arriving; `None` while playing, or while that rate is not known.
    pub fn starts_in(&self, now: f64) -> Option<f64> {
        if self.open || self.complete {
            return None;
        }
        let rate = self.arrival_rate(now).filter(|&rate| rate > 0.0)?;
        let in_hand = (self.received - self.scheduled) as f64 / self.rate;
        let needed = self.needed_seconds(now)?;
        if in_hand >= needed {
            return Some(0.0);
        }
        let remaining = self.remaining_seconds().unwrap_or(0.0);
        if rate >= 1.0 || remaining == 0.0 {
            return Some(((needed - in_hand) / rate.max(1e-9)).max(0.0));
        }
        // Waiting `t` seconds brings `r t` more in hand and leaves `R − r t` to come; with the
        // margin `m`: B + r t ≥ j + m (R − r t)(1/r − 1), so
        // t ≥ (j + m R (1 − r)/r − B) / (r + m (1 − r)).
        let (jitter, m) = (self.config.jitter_seconds, self.config.rate_margin);
        let wait =
            (jitter + m * remaining * (1.0 - rate) / rate - in_hand) / (rate + m * (1.0 - rate));
        Some(wait.max(0.0))
    }

    /// Notes that no more audio will come.
    pub fn finish(&mut self) {
        self.complete = true;
    }

    /// Frames received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether every frame has been received.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The runs scheduled since the last rewind.
    #[cfg(test)]
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Forgets what was scheduled, so that the piece plays again from its first frame (it has
    /// all arrived by then, or goes on arriving at the rate measured).
    pub fn rewind(&mut self) {
        self.scheduled = 0;
        self.runs.clear();
        self.open = false;
    }

    /// What to schedule at clock time `now` for the audio received so far.
    pub fn plan(&mut self, now: f64) -> Plan {
        let mut plan = Plan::default();
        let pending = self.received - self.scheduled;
        if self.open {
            let run = *self.runs.last().expect("an open run exists");
            let end = self.end_of(&run);
            if end - now >= self.config.guard_seconds {
                if pending > 0 {
                    // Join the playing run: cancel its fade out and lay the audio at its end.
                    plan.cancel_gain_from = Some(end - self.fade_len(&run));
                    self.extend(&mut plan);
                }
                return plan;
            }
            // Too late to join seamlessly: the run ends with the fade out already scheduled.
            self.open = false;
        }
        let in_hand = pending as f64 / self.rate;
        let carries = self
            .needed_seconds(now)
            .is_some_and(|needed| in_hand >= needed);
        let enough = (pending >= self.jitter_frames() && carries) || (self.complete && pending > 0);
        if !enough {
            return plan;
        }
        let earliest = now + self.config.lead_seconds;
        let after_last = self.runs.last().map_or(f64::MIN, |run| self.end_of(run));
        let start = self.align(earliest.max(after_last));
        self.runs.push(Run {
            start,
            first_frame: self.scheduled,
            frames: 0,
        });
        self.open = true;
        self.extend(&mut plan);
        let run = *self.runs.last().expect("just pushed");
        let fade = self.fade_len(&run);
        // The fade in goes before the fade out added by `extend`.
        plan.ramps.insert(
            0,
            Ramp {
                start,
                end: start + fade,
                from: 0.0,
                to: 1.0,
            },
        );
        plan
    }

    /// How the playback stands at clock time `now`.
    pub fn flow(&self, now: f64) -> Flow {
        match self.runs.last() {
            Some(run) if now < self.end_of(run) => Flow::Playing,
            Some(_) if self.complete && self.scheduled == self.received => Flow::Ended,
            _ => Flow::Buffering,
        }
    }

    /// The position in the piece that plays at clock time `now`, in seconds: it stands still
    /// in a gap and before the first run starts.
    pub fn position(&self, now: f64) -> f64 {
        let frame = match self.runs.iter().rev().find(|run| run.start <= now) {
            Some(run) => {
                // A hair over, so that float error does not lose a frame at exact times.
                let into = ((now - run.start) * self.rate + 1e-6).max(0.0) as u64;
                run.first_frame + into.min(run.frames)
            }
            None => self.runs.first().map_or(0, |run| run.first_frame),
        };
        frame as f64 / self.rate
    }

    /// Seconds of audio received.
    pub fn received_seconds(&self) -> f64 {
        self.received as f64 / self.rate
    }

    /// Appends every pending frame to the last run, in chunks, and fades out at its new end.
    fn extend(&mut self, plan: &mut Plan) {
        let max_chunk = ((self.config.max_chunk_seconds * self.rate) as u64).max(1);
        let mut run = *self.runs.last().expect("a run to extend");
        while self.scheduled < self.received {
            let frames = (self.received - self.scheduled).min(max_chunk);
            plan.chunks.push(Chunk {
                first_frame: self.scheduled,
                frames,
                start: run.start + (self.scheduled - run.first_frame) as f64 / self.rate,
            });
            self.scheduled += frames;
            run.frames += frames;
        }
        *self.runs.last_mut().expect("a run to extend") = run;
        let end = self.end_of(&run);
        plan.ramps.push(Ramp {
            start: end - self.fade_len(&run),
            end,
            from: 1.0,
            to: 0.0,
        });
    }

    fn end_of(&self, run: &Run) -> f64 {
        run.start + run.frames as f64 / self.rate
    }

    /// The fade, shortened for a run too short to hold both of its fades.
    fn fade_len(&self, run: &Run) -> f64 {
        let length = run.frames as f64 / self.rate;
        self.config.fade_seconds.min(length / 2.0)
    }

    fn jitter_frames(&self) -> u64 {
        ((self.config.jitter_seconds * self.rate).round() as u64).max(1)
    }

    /// The first frame boundary of the clock at or after `time`.
    fn align(&self, time: f64) -> f64 {
        (time * self.rate).ceil() / self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1000 frames a second keeps the arithmetic readable; the defaults otherwise.
    fn timeline() -> Timeline {
        Timeline::new(1000, TimelineConfig::default())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn playback_waits_for_the_jitter_buffer() {
        let mut t = timeline();
        t.set_received(300, 0.0);
        assert_eq!(t.plan(0.0), Plan::default());
        assert_eq!(t.flow(0.0), Flow::Buffering);
        t.set_received(400, 0.0);
        let plan = t.plan(1.0);
        assert_eq!(
            plan.chunks,
            [Chunk {
                first_frame: 0,
                frames: 400,
                start: 1.05
            }]
        );
        // Fade in at the start, fade out at the end of what is there.
        assert_eq!(plan.ramps.len(), 2);
        assert!(close(plan.ramps[0].start, 1.05) && close(plan.ramps[0].end, 1.055));
        assert_eq!((plan.ramps[0].from, plan.ramps[0].to), (0.0, 1.0));
        assert!(close(plan.ramps[1].start, 1.445) && close(plan.ramps[1].end, 1.45));
        assert_eq!((plan.ramps[1].from, plan.ramps[1].to), (1.0, 0.0));
        assert_eq!(plan.cancel_gain_from, None);
        assert_eq!(t.flow(1.0), Flow::Playing);
    }

    #[test]
    fn chunks_are_laid_end_to_end_at_exact_times() {
        let mut t = timeline();
        t.set_received(400, 0.0);
        t.plan(0.0);
        let mut next = 0.05 + 0.4;
        for (i, now) in [0.1, 0.3, 0.5, 0.7].into_iter().enumerate() {
            t.set_received(400 + 256 * (i as u64 + 1), 0.0);
            let plan = t.plan(now);
            assert_eq!(plan.chunks.len(), 1, "at {now}");
            let chunk = plan.chunks[0];
            assert_eq!(chunk.first_frame, 400 + 256 * i as u64);
            // Computed from the run's start, never accumulated: no drift.
            assert!(close(chunk.start, 0.05 + chunk.first_frame as f64 / 1000.0));
            assert!(close(chunk.start, next));
            next = chunk.start + chunk.frames as f64 / 1000.0;
            // The previous end's fade out is cancelled and a new one put at the new end.
            assert!(close(
                plan.cancel_gain_from.expect("a cancel"),
                chunk.start - 0.005
            ));
            assert_eq!(plan.ramps.len(), 1);
            assert!(close(plan.ramps[0].end, next));
        }
        assert_eq!(t.runs().len(), 1);
    }

    #[test]
    fn an_underrun_waits_for_a_new_buffer_and_starts_after_the_gap() {
        let mut t = timeline();
        t.set_received(400, 0.0);
        t.plan(0.0); // plays 0.05 .. 0.45
        assert_eq!(t.flow(0.44), Flow::Playing);
        assert_eq!(t.flow(0.45), Flow::Buffering);
        // Audio arrives too late to join the run.
        t.set_received(500, 0.0);
        assert_eq!(t.plan(0.44).chunks, []);
        assert_eq!(t.flow(0.5), Flow::Buffering);
        assert!(
            close(t.position(0.6), 0.4),
            "the position stands still in the gap"
        );
        t.set_received(800, 0.0);
        let plan = t.plan(0.7);
        assert_eq!(
            plan.chunks,
            [Chunk {
                first_frame: 400,
                frames: 400,
                start: 0.75
            }]
        );
        assert_eq!(plan.cancel_gain_from, None, "the old fade out stays");
        assert_eq!(plan.ramps[0].from, 0.0, "fades in again");
        assert!(close(plan.ramps[0].start, 0.75));
        assert_eq!(t.runs().len(), 2);
        assert!(close(t.position(0.85), 0.5));
    }

    #[test]
    fn audio_just_before_the_run_ends_does_not_join_it() {
        let mut t = timeline();
        t.set_received(400, 0.0);
        t.plan(0.0); // ends at 0.45; the guard is 20 ms
        t.set_received(1000, 0.0);
        let plan = t.plan(0.435);
        // Not joined: a new run starts after the old one has faded out.
        assert_eq!(plan.cancel_gain_from, None);
        assert_eq!(plan.chunks.len(), 1);
        assert!(plan.chunks[0].start >= 0.45);
        assert!(close(plan.chunks[0].start, 0.485));
    }

    #[test]
    fn a_new_run_never_overlaps_the_fading_one() {
        let mut t = timeline();
        t.set_received(400, 0.0);
        t.plan(0.0); // ends at 0.45
        t.set_received(800, 0.0);
        let plan = t.plan(0.44);
        // The old run still fades until 0.45; the lead alone would start at 0.49.
        assert!(close(plan.chunks[0].start, 0.49));
        let mut t2 = timeline();
        t2.set_received(400, 0.0);
        t2.plan(0.0);
        t2.set_received(800, 0.0);
        // The clock has passed the end: start after the lead.
        let plan = t2.plan(0.5);
        assert!(close(plan.chunks[0].start, 0.55));
    }

    #[test]
    fn the_end_of_the_stream_plays_a_short_tail_and_ends() {
        let mut t = timeline();
        t.set_received(100, 0.0);
        assert!(t.plan(0.0).chunks.is_empty());
        t.finish();
        let plan = t.plan(0.0);
        assert_eq!(plan.chunks.len(), 1);
        assert_eq!(t.flow(0.1), Flow::Playing);
        assert_eq!(t.flow(0.151), Flow::Ended);
        assert!(close(t.position(10.0), 0.1));
        // A tail shorter than two fades gets shorter fades.
        let mut tiny = timeline();
        tiny.set_received(4, 0.0);
        tiny.finish();
        let plan = tiny.plan(0.0);
        assert!(close(plan.ramps[0].end - plan.ramps[0].start, 0.002));
        assert!(plan.ramps[0].end <= plan.ramps[1].start + 1e-12);
    }

    #[test]
    fn a_finished_piece_replays_from_the_start_in_long_chunks() {
        let mut t = timeline();
        t.set_received(5000, 0.0);
        t.finish();
        let first = t.plan(0.0);
        assert_eq!(first.chunks.len(), 3, "2 s chunks at most");
        assert_eq!(t.flow(6.0), Flow::Ended);
        t.rewind();
        assert!(close(t.position(6.0), 0.0));
        let again = t.plan(6.0);
        assert_eq!(again.chunks.len(), 3);
        assert_eq!(again.chunks[0].first_frame, 0);
        assert!(close(again.chunks[0].start, 6.05));
        assert!(close(again.chunks[2].start, 6.05 + 4.0));
        assert_eq!(t.flow(7.0), Flow::Playing);
        assert!(close(t.position(7.05), 1.0));
    }

    #[test]
    fn starts_fall_on_frame_boundaries() {
        let mut t = Timeline::new(32_000, TimelineConfig::default());
        t.set_received(12_800, 0.0);
        let plan = t.plan(1.234_567_89);
        let start = plan.chunks[0].start;
        let frames = start * 32_000.0;
        assert!((frames - frames.round()).abs() < 1e-6, "{frames}");
        assert!(start >= 1.234_567_89 + 0.05);
    }

    #[test]
    fn nothing_is_scheduled_twice() {
        let mut t = timeline();
        let mut scheduled = 0;
        let mut now = 0.0;
        for step in 1..=40u64 {
            // Arrivals at uneven pace, sometimes slower than playback.
            now += if step % 7 == 0 { 0.6 } else { 0.1 };
            t.set_received(step * 120, 0.0);
            for chunk in t.plan(now).chunks {
                assert_eq!(chunk.first_frame, scheduled);
                assert!(chunk.start >= now, "scheduled in the past");
                scheduled += chunk.frames;
            }
        }
        t.finish();
        for chunk in t.plan(now).chunks {
            assert_eq!(chunk.first_frame, scheduled);
            scheduled += chunk.frames;
        }
        assert_eq!(scheduled, 40 * 120);
        // Runs never overlap in time.
        for pair in t.runs().windows(2) {
            let end = pair[0].start + pair[0].frames as f64 / 1000.0;
            assert!(pair[1].start >= end);
        }
    }

    /// A 10 s piece (at 1000 frames a second) arriving at `rate` seconds of audio a second, in
    /// chunks of 256 frames, planned at every arrival and every 10 ms between: when the first
    /// run starts, how many runs there are, what `starts_in` said halfway to the start, and when
    /// the last frame plays.
    fn stream(rate: f64) -> (f64, usize, Option<f64>, f64) {
        let mut t = timeline();
        t.set_expected(Some(10.0));
        let chunk = 256u64;
        let every = chunk as f64 / 1000.0 / rate;
        let (mut received, mut next_arrival) = (0u64, 0.0);
        let mut first_start = None;
        let mut forecasts = Vec::new();
        let mut now = 0.0;
        while t.flow(now) != Flow::Ended {
            while received < 10_000 && next_arrival <= now {
                received = (received + chunk).min(10_000);
                t.set_received(received, next_arrival);
                next_arrival += every;
                if received == 10_000 {
                    t.finish();
                }
            }
            let plan = t.plan(now);
            if first_start.is_none() {
                match plan.chunks.first() {
                    Some(chunk) => first_start = Some(chunk.start),
                    None => forecasts.push((now, t.starts_in(now))),
                }
            }
            now += 0.01;
            assert!(now < 200.0, "the piece never ended");
        }
        let start = first_start.unwrap();
        let halfway = forecasts
            .iter()
            .find(|(at, _)| *at >= start / 2.0)
            .and_then(|(at, wait)| wait.map(|wait| at + wait));
        let last = t.runs().last().map(|run| t.end_of(run)).unwrap();
        (start, t.runs().len(), halfway, last)
    }

    #[test]
    fn audio_slower_than_real_time_waits_once_then_plays_to_the_end_without_a_gap() {
        for rate in [0.2, 0.5, 0.9] {
            let (start, runs, forecast, last) = stream(rate);
            assert_eq!(runs, 1, "rate {rate}: one run, no underrun");
            // It starts about when the audio still to come can arrive during playback.
            let arrived_all = 10.0 / rate;
            assert!(start + 10.0 >= arrived_all, "rate {rate}: start {start}");
            assert!(
                start + 10.0 <= arrived_all * 1.25 + 0.5,
                "rate {rate}: start {start}"
            );
            assert!(close(last, start + 10.0) || last > start + 10.0 - 1e-9);
            // The forecast made halfway through the wait was close to the real start.
            let forecast = forecast.expect("a forecast while waiting");
            assert!(
                (forecast - start).abs() < 0.15 * start + 0.3,
                "rate {rate}: forecast {forecast}, started {start}"
            );
        }
    }

    #[test]
    fn audio_faster_than_real_time_starts_after_the_jitter_buffer() {
        let (start, runs, _, _) = stream(2.0);
        assert_eq!(runs, 1);
        assert!(start < 0.5, "{start}");
    }

    #[test]
    fn without_a_known_length_the_jitter_buffer_is_enough() {
        let mut t = timeline();
        t.set_received(400, 0.0);
        assert_eq!(t.plan(0.3).chunks.len(), 1);
    }
}
