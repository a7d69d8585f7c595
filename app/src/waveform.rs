//! The waveform drawing's numbers: for each pixel column the lowest and highest sample of the
//! audio it stands for, kept up to date as audio arrives without reading old samples again.

/// The lowest and highest sample in one column, in [-1, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peak {
    pub min: f32,
    pub max: f32,
}

/// Peaks of a piece drawn `columns` wide, where the full width stands for `total_frames`.
#[derive(Clone, Debug, PartialEq)]
pub struct Peaks {
    columns: usize,
    total_frames: u64,
    channels: usize,
    /// One entry per column; `None` where no audio has arrived yet.
    peaks: Vec<Option<Peak>>,
    /// Interleaved samples already taken in.
    consumed: usize,
}

impl Peaks {
    /// No audio yet, for a drawing `columns` wide standing for `total_frames` frames.
    pub fn new(columns: usize, total_frames: u64, channels: u16) -> Self {
        Self {
            columns,
            total_frames: total_frames.max(1),
            channels: usize::from(channels.max(1)),
            peaks: vec![None; columns],
            consumed: 0,
        }
    }

    /// Brings the peaks up to date with `samples` (interleaved, every sample so far), starting
    /// over when the shape changed or the samples are not a continuation of what was seen.
    pub fn sync(&mut self, samples: &[f32], columns: usize, total_frames: u64, channels: u16) {
        let total_frames = total_frames.max(1);
        let same_shape = self.columns == columns
            && self.total_frames == total_frames
            && self.channels == usize::from(channels.max(1));
        if !same_shape || samples.len() < self.consumed {
            *self = Peaks::new(columns, total_frames, channels);
        }
        self.extend(&samples[self.consumed..]);
    }

    /// Takes in samples that follow the ones already seen.
    pub fn extend(&mut self, more: &[f32]) {
        if self.columns == 0 {
            self.consumed += more.len();
            return;
        }
        for (i, &sample) in more.iter().enumerate() {
            let frame = ((self.consumed + i) / self.channels) as u64;
            let column = self.column_of(frame);
            let sample = sample.clamp(-1.0, 1.0);
            let peak = self.peaks[column].get_or_insert(Peak {
                min: sample,
                max: sample,
            });
            peak.min = peak.min.min(sample);
            peak.max = peak.max.max(sample);
        }
        self.consumed += more.len();
    }

    /// Every column's peak, left to right.
    pub fn columns(&self) -> &[Option<Peak>] {
        &self.peaks
    }

    /// The column a frame falls in (the last one for frames past the end).
    fn column_of(&self, frame: u64) -> usize {
        let column =
            (u128::from(frame) * self.columns as u128 / u128::from(self.total_frames)) as usize;
        column.min(self.columns - 1)
    }
}

/// The column of a drawing `columns` wide where the playhead stands, `fraction` of the way.
pub fn playhead_column(fraction: f64, columns: usize) -> usize {
    let at = (fraction.clamp(0.0, 1.0) * columns as f64) as usize;
    at.min(columns.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(min: f32, max: f32) -> Option<Peak> {
        Some(Peak { min, max })
    }

    #[test]
    fn each_column_holds_the_extremes_of_its_frames() {
        let mut peaks = Peaks::new(2, 4, 1);
        peaks.extend(&[0.1, -0.5, 0.9, 0.2]);
        assert_eq!(peaks.columns(), [peak(-0.5, 0.1), peak(0.2, 0.9)]);
    }

    #[test]
    fn columns_fill_as_audio_arrives() {
        let mut peaks = Peaks::new(4, 8, 1);
        peaks.extend(&[0.5, 0.5, 0.25]);
        assert_eq!(
            peaks.columns(),
            [peak(0.5, 0.5), peak(0.25, 0.25), None, None]
        );
        peaks.extend(&[-0.25]);
        assert_eq!(peaks.columns()[1], peak(-0.25, 0.25));
    }

    #[test]
    fn channels_share_a_column_and_samples_are_clipped() {
        let mut peaks = Peaks::new(1, 2, 2);
        peaks.extend(&[0.3, -2.0, 3.0, 0.0]);
        assert_eq!(peaks.columns(), [peak(-1.0, 1.0)]);
    }

    #[test]
    fn sync_reads_only_new_samples_and_restarts_on_a_new_shape() {
        let mut peaks = Peaks::new(0, 1, 1);
        let samples = [0.1, 0.2, 0.3, 0.4];
        peaks.sync(&samples[..2], 2, 4, 1);
        assert_eq!(peaks.columns(), [peak(0.1, 0.2), None]);
        peaks.sync(&samples, 2, 4, 1);
        assert_eq!(peaks.columns(), [peak(0.1, 0.2), peak(0.3, 0.4)]);
        // More audio than the width was meant for: draw it again, wider in time.
        peaks.sync(&samples, 1, 4, 1);
        assert_eq!(peaks.columns(), [peak(0.1, 0.4)]);
        // A new piece (fewer samples than seen) starts over.
        peaks.sync(&samples[..1], 1, 4, 1);
        assert_eq!(peaks.columns(), [peak(0.1, 0.1)]);
    }

    #[test]
    fn frames_past_the_expected_end_land_in_the_last_column() {
        let mut peaks = Peaks::new(2, 2, 1);
        peaks.extend(&[0.0, 0.0, 0.7]);
        assert_eq!(peaks.columns()[1], peak(0.0, 0.7));
        let mut none = Peaks::new(0, 2, 1);
        none.extend(&[0.5]);
        assert!(none.columns().is_empty());
    }

    #[test]
    fn the_playhead_stays_inside_the_drawing() {
        assert_eq!(playhead_column(0.0, 100), 0);
        assert_eq!(playhead_column(0.5, 100), 50);
        assert_eq!(playhead_column(1.0, 100), 99);
        assert_eq!(playhead_column(2.0, 100), 99);
        assert_eq!(playhead_column(0.5, 0), 0);
    }
}
