//! The binary audio frame: how PCM travels over the WebSocket.
//!
//! ```text
//! offset  size  field
//! 0       1     tag: 0x01 = PCM, in the encoding announced by `AudioFormat`
//! 1       4     sequence number, u32 little-endian, 0 for a job's first frame
//! 5       8     index of the frame's first sample, u64 little-endian (per channel)
//! 13      2·n   n samples, i16 little-endian, channels interleaved
//! ```
//! A reader ignores frames with a tag it does not know, so later versions can add kinds.

/// Tag byte of a PCM frame.
pub const TAG_PCM: u8 = 0x01;
/// Bytes before the samples.
pub const HEADER_LEN: usize = 13;

/// One chunk of PCM audio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioFrame {
    /// Counts the job's frames from 0, so a reader can tell a gap.
    pub seq: u32,
    /// Index, in the whole track, of this frame's first sample.
    pub first_sample: u64,
    /// Signed 16-bit samples.
    pub samples: Vec<i16>,
}

/// Why bytes are not a readable frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("empty binary message")]
    Empty,
    #[error("audio frame shorter than its {HEADER_LEN}-byte header ({0} bytes)")]
    Truncated(usize),
    #[error("audio frame payload of {0} bytes is not a whole number of 16-bit samples")]
    OddPayload(usize),
}

impl AudioFrame {
    /// The frame's bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 2 * self.samples.len());
        out.push(TAG_PCM);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.first_sample.to_le_bytes());
        for s in &self.samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// Reads a frame; `Ok(None)` for a frame kind this build does not know.
    pub fn decode(bytes: &[u8]) -> Result<Option<Self>, FrameError> {
        let (&tag, _) = bytes.split_first().ok_or(FrameError::Empty)?;
        if tag != TAG_PCM {
            return Ok(None);
        }
        if bytes.len() < HEADER_LEN {
            return Err(FrameError::Truncated(bytes.len()));
        }
        let (header, pcm) = bytes.split_at(HEADER_LEN);
        if !pcm.len().is_multiple_of(2) {
            return Err(FrameError::OddPayload(pcm.len()));
        }
        let seq = u32::from_le_bytes(header[1..5].try_into().expect("4 bytes"));
        let first_sample = u64::from_le_bytes(header[5..13].try_into().expect("8 bytes"));
        let samples = pcm
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        Ok(Some(Self {
            seq,
            first_sample,
            samples,
        }))
    }
}

/// Converts a float sample in [-1, 1] to 16-bit PCM, clipping outside that range.
pub fn f32_to_s16(sample: f32) -> i16 {
    let scaled = (sample.clamp(-1.0, 1.0) * 32767.0).round();
    scaled as i16
}

/// Converts a 16-bit PCM sample to a float in [-1, 1].
pub fn s16_to_f32(sample: i16) -> f32 {
    f32::from(sample) / 32768.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let frame = AudioFrame {
            seq: 0x0102_0304,
            first_sample: 0x0000_0001_0000_0506,
            samples: vec![1, -2, i16::MAX, i16::MIN],
        };
        let expected: &[u8] = &[
            0x01, // tag
            0x04, 0x03, 0x02, 0x01, // seq
            0x06, 0x05, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // first sample
            0x01, 0x00, 0xfe, 0xff, 0xff, 0x7f, 0x00, 0x80, // samples
        ];
        assert_eq!(frame.encode(), expected);
        assert_eq!(AudioFrame::decode(expected), Ok(Some(frame)));
    }

    #[test]
    fn header_only_frame_has_no_samples() {
        let bytes = [TAG_PCM, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let frame = AudioFrame::decode(&bytes).unwrap().unwrap();
        assert!(frame.samples.is_empty());
    }

    #[test]
    fn malformed_frames_are_refused_and_unknown_tags_ignored() {
        assert_eq!(AudioFrame::decode(&[]), Err(FrameError::Empty));
        assert_eq!(
            AudioFrame::decode(&[TAG_PCM, 1, 2]),
            Err(FrameError::Truncated(3))
        );
        let mut odd = AudioFrame::default_header();
        odd.push(7);
        assert_eq!(AudioFrame::decode(&odd), Err(FrameError::OddPayload(1)));
        assert_eq!(AudioFrame::decode(&[0x7f, 1, 2, 3]), Ok(None));
    }

    #[test]
    fn sample_conversion_clips_and_round_trips() {
        assert_eq!(f32_to_s16(2.0), i16::MAX);
        assert_eq!(f32_to_s16(-2.0), -i16::MAX);
        assert_eq!(f32_to_s16(0.0), 0);
        assert_eq!(f32_to_s16(0.5), 16384);
        assert!((s16_to_f32(f32_to_s16(0.25)) - 0.25).abs() < 1e-4);
    }

    impl AudioFrame {
        fn default_header() -> Vec<u8> {
            AudioFrame {
                seq: 0,
                first_sample: 0,
                samples: vec![],
            }
            .encode()
        }
    }
}
