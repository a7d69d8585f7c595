//! Reading a 16-bit PCM WAV file (a stored track's `audio.wav`) into its format and samples, so
//! that a pre-rendered track plays through the same player as streamed audio.

use ekphrasis_shared::frame::s16_to_f32;

use crate::audio::AudioFormat;

/// Why bytes are not a WAV file this page can play.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    #[error("not a RIFF/WAVE file")]
    NotWav,
    #[error("the WAV file has no {0} chunk")]
    Missing(&'static str),
    #[error("the WAV file is not 16-bit PCM (format {format}, {bits} bits)")]
    Unsupported { format: u16, bits: u16 },
    #[error("the WAV file's format chunk is malformed")]
    BadFormat,
}

/// A decoded WAV file.
#[derive(Clone, Debug, PartialEq)]
pub struct Wav {
    pub format: AudioFormat,
    /// Samples in [-1, 1], channels interleaved.
    pub samples: Vec<f32>,
}

/// PCM, and WAVE_FORMAT_EXTENSIBLE (whose sub-format this reader takes to be PCM).
const PCM: u16 = 1;
const EXTENSIBLE: u16 = 0xfffe;

/// Reads a RIFF/WAVE file of 16-bit PCM. A data chunk whose size runs past the end of the bytes
/// (as streamed files write it) is read to the end.
pub fn decode(bytes: &[u8]) -> Result<Wav, WavError> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWav);
    }
    let mut format = None;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body_start = at + 8;
        let body_end = body_start.saturating_add(size).min(bytes.len());
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " => format = Some(read_format(body)?),
            b"data" => {
                let format = format.ok_or(WavError::Missing("format"))?;
                let samples = body
                    .chunks_exact(2)
                    .map(|b| s16_to_f32(i16::from_le_bytes([b[0], b[1]])))
                    .collect();
                return Ok(Wav { format, samples });
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body_start.saturating_add(size).saturating_add(size & 1);
    }
    Err(WavError::Missing("data"))
}

fn read_format(body: &[u8]) -> Result<AudioFormat, WavError> {
    if body.len() < 16 {
        return Err(WavError::BadFormat);
    }
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let tag = u16_at(0);
    let channels = u16_at(2);
    let sample_rate = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
    let bits = u16_at(14);
    if !(tag == PCM || tag == EXTENSIBLE) || bits != 16 {
        return Err(WavError::Unsupported { format: tag, bits });
    }
    if channels == 0 || sample_rate == 0 {
        return Err(WavError::BadFormat);
    }
    Ok(AudioFormat {
        sample_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A canonical 44-byte-header WAV, as the server writes it.
    fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        out.extend_from_slice(&(2 * channels).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    #[test]
    fn reads_the_servers_wav_files() {
        let decoded = decode(&wav(32_000, 1, &[0, 16384, -32768])).expect("a WAV");
        assert_eq!(
            decoded.format,
            AudioFormat {
                sample_rate: 32_000,
                channels: 1
            }
        );
        assert_eq!(decoded.samples, [0.0, 0.5, -1.0]);
    }

    #[test]
    fn skips_other_chunks_with_their_padding() {
        let plain = wav(8000, 2, &[1, 2]);
        let mut bytes = plain[..36].to_vec();
        bytes.extend_from_slice(b"LIST");
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(b"abc\0");
        bytes.extend_from_slice(&plain[36..]);
        let decoded = decode(&bytes).expect("a WAV");
        assert_eq!(decoded.format.channels, 2);
        assert_eq!(decoded.samples.len(), 2);
    }

    #[test]
    fn a_data_chunk_that_runs_long_is_read_to_the_end() {
        let mut bytes = wav(8000, 1, &[5, 6, 7]);
        let size_at = bytes.len() - 6 - 4;
        bytes[size_at..size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&bytes).expect("a WAV").samples.len(), 3);
    }

    #[test]
    fn refuses_what_it_cannot_play() {
        assert_eq!(decode(b"not a wav file"), Err(WavError::NotWav));
        let mut float = wav(8000, 1, &[1]);
        float[20] = 3; // IEEE float
        float[34] = 32;
        assert_eq!(
            decode(&float),
            Err(WavError::Unsupported {
                format: 3,
                bits: 32
            })
        );
        let header_only = &wav(8000, 1, &[])[..36];
        assert_eq!(decode(header_only), Err(WavError::Missing("data")));
    }
}
