//! The audio received for the current piece: its format and its samples as floats, kept in
//! order for playback.

use ekphrasis_shared::AudioFrame;
use ekphrasis_shared::frame::s16_to_f32;

/// How the samples are laid out, from the server's `audio_format` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioFormat {
    pub sample_rate: u32,
    pub channels: u16,
}

/// Everything received of one piece's audio.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReceivedAudio {
    pub format: Option<AudioFormat>,
    /// Samples in [-1, 1], channels interleaved, in the order they arrived.
    pub samples: Vec<f32>,
    /// The sequence number the next frame should carry.
    next_seq: u32,
    /// Frames that arrived with another sequence number than expected.
    pub out_of_order: u32,
    /// Binary messages that were not readable audio frames.
    pub unreadable: u32,
}

impl ReceivedAudio {
    /// Starts over with a new format, dropping anything received before.
    pub fn start(&mut self, format: AudioFormat) {
        *self = ReceivedAudio {
            format: Some(format),
            ..ReceivedAudio::default()
        };
    }

    /// Keeps a frame's samples.
    pub fn push(&mut self, frame: &AudioFrame) {
        if frame.seq != self.next_seq {
            self.out_of_order += 1;
        }
        self.next_seq = frame.seq.wrapping_add(1);
        self.samples
            .extend(frame.samples.iter().copied().map(s16_to_f32));
    }

    /// The sequence number of the next frame: how many arrived in order since the format, which
    /// is where a resumed piece's audio goes on.
    pub fn next_frame(&self) -> u32 {
        self.next_seq
    }

    /// Counts a binary message that could not be read.
    pub fn note_unreadable(&mut self) {
        self.unreadable += 1;
    }

    /// Seconds of audio received, once the format is known.
    pub fn seconds(&self) -> Option<f32> {
        let format = self.format?;
        let per_second = format.sample_rate as f32 * f32::from(format.channels.max(1));
        (per_second > 0.0).then(|| self.samples.len() as f32 / per_second)
    }

    /// What has arrived, in words, once the format is known.
    pub fn summary(&self) -> Option<String> {
        let format = self.format?;
        let seconds = self.seconds()?;
        let layout = match format.channels {
            1 => "mono".to_owned(),
            2 => "stereo".to_owned(),
            n => format!("{n} channels"),
        };
        let mut words = format!(
            "{} Hz {layout} · {seconds:.1} s of audio received",
            format.sample_rate
        );
        if self.out_of_order > 0 {
            words.push_str(&format!(" · {} out of order", frames(self.out_of_order)));
        }
        if self.unreadable > 0 {
            words.push_str(&format!(" · {} unreadable", frames(self.unreadable)));
        }
        Some(words)
    }
}

impl ReceivedAudio {
    /// Frames (one sample per channel) received.
    pub fn frames(&self) -> u64 {
        let channels = self.format.map_or(1, |f| usize::from(f.channels.max(1)));
        (self.samples.len() / channels) as u64
    }

    /// A piece received whole, such as a stored track's WAV file.
    pub fn whole(format: AudioFormat, samples: Vec<f32>) -> Self {
        ReceivedAudio {
            format: Some(format),
            samples,
            ..ReceivedAudio::default()
        }
    }
}

/// One channel of `frames` frames from `first_frame` on, out of interleaved samples.
pub fn channel(
    samples: &[f32],
    channels: u16,
    index: u16,
    first_frame: u64,
    frames: u64,
) -> Vec<f32> {
    let channels = usize::from(channels.max(1));
    let start = first_frame as usize * channels + usize::from(index);
    samples
        .iter()
        .skip(start)
        .step_by(channels)
        .take(frames as usize)
        .copied()
        .collect()
}

/// A count of frames in words.
fn frames(count: u32) -> String {
    match count {
        1 => "1 frame".to_owned(),
        n => format!("{n} frames"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u32, samples: Vec<i16>) -> AudioFrame {
        AudioFrame {
            seq,
            first_sample: 0,
            samples,
        }
    }

    #[test]
    fn samples_are_kept_as_floats_and_counted_in_seconds() {
        let mut audio = ReceivedAudio::default();
        audio.push(&frame(0, vec![0, 16384]));
        assert_eq!(audio.seconds(), None);
        audio.start(AudioFormat {
            sample_rate: 4,
            channels: 2,
        });
        assert!(audio.samples.is_empty());
        audio.push(&frame(0, vec![0, 16384, -32768, 0]));
        audio.push(&frame(1, vec![1, 1, 1, 1]));
        assert_eq!(audio.samples.len(), 8);
        assert_eq!(audio.samples[1], 0.5);
        assert_eq!(audio.samples[2], -1.0);
        assert_eq!(audio.seconds(), Some(1.0));
        assert_eq!(audio.out_of_order, 0);
        assert_eq!(
            audio.summary().as_deref(),
            Some("4 Hz stereo · 1.0 s of audio received")
        );
    }

    #[test]
    fn channels_are_taken_apart_and_frames_counted() {
        let stereo = [0.0, 1.0, 0.1, 1.1, 0.2, 1.2];
        assert_eq!(channel(&stereo, 2, 0, 1, 2), [0.1, 0.2]);
        assert_eq!(channel(&stereo, 2, 1, 0, 5), [1.0, 1.1, 1.2]);
        assert_eq!(channel(&stereo, 1, 0, 4, 1), [0.2]);
        let audio = ReceivedAudio::whole(
            AudioFormat {
                sample_rate: 2,
                channels: 2,
            },
            stereo.to_vec(),
        );
        assert_eq!(audio.frames(), 3);
        assert_eq!(audio.seconds(), Some(1.5));
    }

    #[test]
    fn gaps_and_unreadable_frames_are_counted() {
        let mut audio = ReceivedAudio::default();
        audio.push(&frame(0, vec![]));
        audio.push(&frame(2, vec![]));
        audio.push(&frame(3, vec![]));
        audio.note_unreadable();
        assert_eq!(audio.out_of_order, 1);
        assert_eq!(audio.unreadable, 1);
        assert_eq!(audio.summary(), None);
        audio.format = Some(AudioFormat {
            sample_rate: 32_000,
            channels: 1,
        });
        assert_eq!(
            audio.summary().as_deref(),
            Some(
                "32000 Hz mono · 0.0 s of audio received · 1 frame out of order \
                 · 1 frame unreadable"
            )
        );
    }
}
