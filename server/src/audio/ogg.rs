//! The compressed download of a track: mono 16-bit PCM encoded as Ogg Vorbis (libvorbis with the
//! aoTuV tunings, through `vorbis_rs`), which browsers play and which keeps MusicGen's 32 kHz
//! rate without resampling.

use std::num::{NonZeroU8, NonZeroU32};

use ekphrasis_shared::frame::s16_to_f32;
use vorbis_rs::{VorbisBitrateManagementStrategy, VorbisEncoderBuilder};

/// Samples handed to the encoder at a time (libvorbis suggests about a thousand).
const BLOCK: usize = 1024;

/// The MIME type of what [`encode`] makes.
pub const MIME: &str = "audio/ogg";

/// Encodes mono samples at `sample_rate` as an Ogg Vorbis file. `serial` names the logical
/// stream inside the file; the same samples and serial give the same bytes.
pub fn encode(
    samples: &[i16],
    sample_rate: u32,
    serial: i32,
) -> Result<Vec<u8>, vorbis_rs::VorbisError> {
    let rate = NonZeroU32::new(sample_rate).unwrap_or(NonZeroU32::MIN);
    let mut builder =
        VorbisEncoderBuilder::new_with_serial(rate, NonZeroU8::MIN, Vec::new(), serial);
    builder.bitrate_management_strategy(VorbisBitrateManagementStrategy::QualityVbr {
        target_quality: 0.5,
    });
    let mut encoder = builder.build()?;
    let mut block = Vec::with_capacity(BLOCK);
    for chunk in samples.chunks(BLOCK) {
        block.clear();
        block.extend(chunk.iter().copied().map(s16_to_f32));
        encoder.encode_audio_block([&block[..]])?;
    }
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use vorbis_rs::VorbisDecoder;

    use super::*;

    fn tone(rate: u32, seconds: f32) -> Vec<i16> {
        let n = (rate as f32 * seconds) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                (0.4 * (2.0 * std::f32::consts::PI * 440.0 * t).sin() * 32767.0) as i16
            })
            .collect()
    }

    #[test]
    fn a_tone_survives_encoding_and_is_much_smaller() {
        let rate = 32_000;
        let pcm = tone(rate, 2.0);
        let ogg = encode(&pcm, rate, 7).unwrap();
        assert_eq!(&ogg[..4], b"OggS");
        assert!(ogg.len() < pcm.len() * 2 / 5, "{} bytes", ogg.len());

        let mut decoder = VorbisDecoder::new(std::io::Cursor::new(ogg.clone())).unwrap();
        assert_eq!(decoder.sampling_frequency().get(), rate);
        assert_eq!(decoder.channels().get(), 1);
        let mut decoded = Vec::new();
        while let Some(block) = decoder.decode_audio_block().unwrap() {
            decoded.extend_from_slice(block.samples()[0]);
        }
        assert_eq!(decoded.len(), pcm.len());
        // Lossy, but the waveform is the same tone: compare away from the edges.
        let original: Vec<f32> = pcm.iter().copied().map(s16_to_f32).collect();
        let (mut error, mut energy) = (0.0f64, 0.0f64);
        for (a, b) in original[4000..60000].iter().zip(&decoded[4000..60000]) {
            error += f64::from(a - b).powi(2);
            energy += f64::from(*a).powi(2);
        }
        let snr_db = 10.0 * (energy / error).log10();
        assert!(snr_db > 20.0, "signal-to-noise {snr_db:.1} dB");

        assert_eq!(encode(&pcm, rate, 7).unwrap(), ogg, "deterministic");
    }

    #[test]
    fn silence_and_empty_input_still_make_a_valid_file() {
        let ogg = encode(&[], 32_000, 1).unwrap();
        assert_eq!(&ogg[..4], b"OggS");
        let ogg = encode(&[0; 100], 32_000, 1).unwrap();
        assert_eq!(&ogg[..4], b"OggS");
    }
}
