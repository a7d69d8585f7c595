//! WAV files: mono or interleaved 16-bit PCM, the format every audio tool reads.

use std::io::{self, Write};

use ekphrasis_shared::frame::f32_to_s16;

/// Bytes of the RIFF/WAVE header written before the samples.
pub const HEADER_LEN: usize = 44;

/// The 44-byte header of a 16-bit PCM WAV holding `samples` samples (all channels together).
pub fn header(sample_rate: u32, channels: u16, samples: u64) -> io::Result<[u8; HEADER_LEN]> {
    let data_len = samples
        .checked_mul(2)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= u32::MAX - 36)
        .ok_or_else(|| io::Error::other("too many samples for one WAV file"))?;
    let block_align = channels * 2;
    let mut out = [0u8; HEADER_LEN];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(b"RIFF");
    put(&(36 + data_len).to_le_bytes());
    put(b"WAVE");
    put(b"fmt ");
    put(&16u32.to_le_bytes());
    put(&1u16.to_le_bytes()); // PCM
    put(&channels.to_le_bytes());
    put(&sample_rate.to_le_bytes());
    put(&(sample_rate * u32::from(block_align)).to_le_bytes());
    put(&block_align.to_le_bytes());
    put(&16u16.to_le_bytes());
    put(b"data");
    put(&data_len.to_le_bytes());
    Ok(out)
}

/// Writes 16-bit samples (channels interleaved) as a WAV file.
pub fn write_s16(
    out: &mut impl Write,
    sample_rate: u32,
    channels: u16,
    samples: &[i16],
) -> io::Result<()> {
    out.write_all(&header(sample_rate, channels, samples.len() as u64)?)?;
    let mut bytes = Vec::with_capacity(samples.len() * 2);
    for s in samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    out.write_all(&bytes)
}

/// Reads back the 16-bit mono or interleaved samples and the sample rate of a WAV file this
/// module wrote (the canonical 44-byte header).
pub fn read_s16(bytes: &[u8]) -> io::Result<(u32, Vec<i16>)> {
    let bad =
        |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("not our WAV: {what}"));
    if bytes.len() < HEADER_LEN || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    if &bytes[36..40] != b"data" || u16::from_le_bytes([bytes[34], bytes[35]]) != 16 {
        return Err(bad("not 16-bit PCM with the data chunk after fmt"));
    }
    let rate = u32::from_le_bytes(bytes[24..28].try_into().expect("4 bytes"));
    let len = u32::from_le_bytes(bytes[40..44].try_into().expect("4 bytes")) as usize;
    let data = bytes
        .get(HEADER_LEN..HEADER_LEN + len)
        .ok_or_else(|| bad("shorter than its header says"))?;
    let samples = data
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    Ok((rate, samples))
}

/// Writes float samples in [-1, 1] as a 16-bit PCM WAV file.
pub fn write(
    out: &mut impl Write,
    sample_rate: u32,
    channels: u16,
    samples: &[f32],
) -> io::Result<()> {
    let samples: Vec<i16> = samples.iter().copied().map(f32_to_s16).collect();
    write_s16(out, sample_rate, channels, &samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_the_canonical_44_bytes() {
        let mut file = Vec::new();
        write(&mut file, 32_000, 1, &[0.0, 1.0, -1.0]).unwrap();
        assert_eq!(file.len(), HEADER_LEN + 6);
        assert_eq!(&file[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(file[4..8].try_into().unwrap()), 36 + 6);
        assert_eq!(&file[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([file[22], file[23]]), 1, "mono");
        assert_eq!(u32::from_le_bytes(file[24..28].try_into().unwrap()), 32_000);
        assert_eq!(
            u32::from_le_bytes(file[28..32].try_into().unwrap()),
            64_000,
            "byte rate"
        );
        assert_eq!(&file[36..40], b"data");
        assert_eq!(u32::from_le_bytes(file[40..44].try_into().unwrap()), 6);
        assert_eq!(&file[44..], &[0, 0, 0xff, 0x7f, 0x01, 0x80]);
    }

    #[test]
    fn what_is_written_reads_back() {
        let mut file = Vec::new();
        write_s16(&mut file, 8000, 1, &[1, -2, 32767]).unwrap();
        assert_eq!(read_s16(&file).unwrap(), (8000, vec![1, -2, 32767]));
        assert!(read_s16(&file[..48]).is_err());
        assert!(read_s16(b"not a wav file at all, but long enough to hold a header").is_err());
    }
}
