//! The kiosk's rhythm: what it shows (the attract loop, a visitor's chosen painting, or a
//! visitor's own painting), which painting the attract loop is on and when it moves on, and when
//! a visit has been left alone long enough to end. Times are seconds on any steady clock.

/// What the kiosk shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Cycling the paintings with their music, waiting for a visitor.
    Attract,
    /// A visitor touched the painting at this index: its music and its words.
    Visit(usize),
    /// A visitor's own painting (uploaded or photographed), composed live.
    Own,
}

impl Mode {
    /// The machine-readable name, as the kiosk's `data-mode` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Attract => "attract",
            Mode::Visit(_) => "visit",
            Mode::Own => "own",
        }
    }
}

/// What a tick changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Nothing,
    /// The attract loop moved on to its next painting.
    Advanced,
    /// A visit was left alone for the idle time: back to the attract loop.
    BackToAttract,
}

/// The kiosk's state over time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rhythm {
    mode: Mode,
    /// How many paintings the loop cycles.
    len: usize,
    /// The painting the loop shows.
    index: usize,
    /// When the loop's painting came up.
    shown_at: f64,
    /// When a visitor last touched the kiosk (or the piece last moved on).
    last_touch: f64,
    /// Seconds of no touch that end a visit.
    idle_limit: f64,
}

impl Rhythm {
    /// The attract loop over `len` paintings, starting with the first.
    pub fn new(len: usize, idle_limit: f64, now: f64) -> Self {
        Self {
            mode: Mode::Attract,
            len,
            index: 0,
            shown_at: now,
            last_touch: now,
            idle_limit,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The painting the attract loop shows, when there is one.
    pub fn loop_index(&self) -> Option<usize> {
        (self.len > 0).then_some(self.index)
    }

    /// The number of paintings changed (the gallery was read again): the loop stays on its
    /// painting when it still exists, and a visit to one that is gone ends.
    pub fn resize(&mut self, len: usize, now: f64) {
        let was_empty = self.len == 0;
        self.len = len;
        if was_empty || self.index >= len {
            self.index = 0;
            self.shown_at = now;
        }
        if matches!(self.mode, Mode::Visit(i) if i >= len) {
            self.mode = Mode::Attract;
        }
    }

    /// A visitor touched the kiosk.
    pub fn touch(&mut self, now: f64) {
        self.last_touch = now;
    }

    /// A visitor chose the painting at `index`.
    pub fn visit(&mut self, index: usize, now: f64) {
        if index < self.len {
            self.mode = Mode::Visit(index);
            self.touch(now);
        }
    }

    /// A visitor brought a painting of their own.
    pub fn own(&mut self, now: f64) {
        self.mode = Mode::Own;
        self.touch(now);
    }

    /// Back to the attract loop now, continuing after the painting that was visited.
    pub fn attract(&mut self, now: f64) {
        if let Mode::Visit(index) = self.mode {
            self.index = index;
        }
        if !matches!(self.mode, Mode::Attract) {
            self.mode = Mode::Attract;
            self.next(now);
        }
    }

    /// Moves time on: the loop advances after `dwell` seconds on a painting; a visit ends
    /// after the idle time without a touch, unless `busy` (a visitor's piece is being made).
    pub fn tick(&mut self, now: f64, dwell: f64, busy: bool) -> Change {
        match self.mode {
            Mode::Attract if self.len > 1 && now - self.shown_at >= dwell => {
                self.next(now);
                Change::Advanced
            }
            Mode::Attract => Change::Nothing,
            _ if busy => {
                // The idle time counts from when the work ends.
                self.last_touch = now;
                Change::Nothing
            }
            _ if now - self.last_touch >= self.idle_limit => {
                self.attract(now);
                Change::BackToAttract
            }
            _ => Change::Nothing,
        }
    }

    fn next(&mut self, now: f64) {
        if self.len > 0 {
            self.index = (self.index + 1) % self.len;
        }
        self.shown_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_advances_after_each_dwell_and_wraps() {
        let mut rhythm = Rhythm::new(3, 60.0, 0.0);
        assert_eq!(rhythm.loop_index(), Some(0));
        assert_eq!(rhythm.tick(4.9, 5.0, false), Change::Nothing);
        assert_eq!(rhythm.tick(5.0, 5.0, false), Change::Advanced);
        assert_eq!(rhythm.loop_index(), Some(1));
        assert_eq!(rhythm.tick(9.0, 5.0, false), Change::Nothing);
        assert_eq!(rhythm.tick(10.0, 5.0, false), Change::Advanced);
        assert_eq!(rhythm.tick(15.0, 5.0, false), Change::Advanced);
        assert_eq!(rhythm.loop_index(), Some(0));
        assert_eq!(rhythm.mode(), Mode::Attract);
    }

    #[test]
    fn the_first_painting_gets_its_whole_turn_once_the_gallery_arrives() {
        let mut rhythm = Rhythm::new(0, 60.0, 0.0);
        assert_eq!(rhythm.tick(10.0, 5.0, false), Change::Nothing);
        rhythm.resize(3, 10.0);
        assert_eq!(rhythm.loop_index(), Some(0));
        assert_eq!(rhythm.tick(14.9, 5.0, false), Change::Nothing);
        assert_eq!(rhythm.tick(15.0, 5.0, false), Change::Advanced);
    }

    #[test]
    fn one_painting_or_none_stays_put() {
        let mut one = Rhythm::new(1, 60.0, 0.0);
        assert_eq!(one.tick(100.0, 5.0, false), Change::Nothing);
        assert_eq!(one.loop_index(), Some(0));
        let mut none = Rhythm::new(0, 60.0, 0.0);
        assert_eq!(none.tick(100.0, 5.0, false), Change::Nothing);
        assert_eq!(none.loop_index(), None);
        none.visit(0, 1.0);
        assert_eq!(none.mode(), Mode::Attract, "no painting to visit");
    }

    #[test]
    fn a_visit_ends_after_the_idle_time_without_a_touch() {
        let mut rhythm = Rhythm::new(4, 10.0, 0.0);
        rhythm.visit(2, 1.0);
        assert_eq!(rhythm.mode(), Mode::Visit(2));
        assert_eq!(
            rhythm.tick(8.0, 5.0, false),
            Change::Nothing,
            "visits do not advance"
        );
        rhythm.touch(8.0);
        assert_eq!(rhythm.tick(17.9, 5.0, false), Change::Nothing);
        assert_eq!(rhythm.tick(18.0, 5.0, false), Change::BackToAttract);
        assert_eq!(rhythm.mode(), Mode::Attract);
        assert_eq!(
            rhythm.loop_index(),
            Some(3),
            "the loop goes on after the visited one"
        );
    }

    #[test]
    fn work_under_way_keeps_a_visit_open() {
        let mut rhythm = Rhythm::new(2, 10.0, 0.0);
        rhythm.own(0.0);
        assert_eq!(rhythm.tick(30.0, 5.0, true), Change::Nothing);
        assert_eq!(rhythm.tick(39.0, 5.0, false), Change::Nothing);
        assert_eq!(rhythm.tick(40.0, 5.0, false), Change::BackToAttract);
    }

    #[test]
    fn the_gallery_changing_keeps_the_loop_in_range() {
        let mut rhythm = Rhythm::new(5, 10.0, 0.0);
        rhythm.visit(4, 0.0);
        rhythm.resize(3, 1.0);
        assert_eq!(rhythm.mode(), Mode::Attract);
        assert_eq!(rhythm.loop_index(), Some(0));
        rhythm.visit(1, 2.0);
        rhythm.resize(6, 3.0);
        assert_eq!(rhythm.mode(), Mode::Visit(1));
        assert_eq!(Mode::Visit(1).name(), "visit");
        assert_eq!(Mode::Own.name(), "own");
    }
}
