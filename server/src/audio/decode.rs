//! Reading music files: WAV, FLAC, MP3 and Ogg Vorbis through symphonia, any sample rate and
//! channel count, averaged to mono (as the paper's training script does with torchaudio); then
//! resampled to the rate a model wants ([`super::resample`]). A [`MusicReader`] also renders MIDI
//! with a SoundFont ([`super::midi`]). Every failure names the file.

use std::io::Cursor;
use std::path::Path;

use anyhow::{Context, bail};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::midi;
use super::resample::resample;

/// The longest music file read, in seconds of audio (a clip is cut from its start).
pub const MAX_SECONDS: f64 = 3600.0;

/// Mono audio at its file's rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Mono {
    /// Samples, the channels averaged.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

/// Reads music of every kind a command takes: audio files, and MIDI when a SoundFont is given.
#[derive(Clone, Default)]
pub struct MusicReader {
    soundfont: Option<std::sync::Arc<rustysynth::SoundFont>>,
}

impl std::fmt::Debug for MusicReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MusicReader")
            .field("soundfont", &self.soundfont.is_some())
            .finish()
    }
}

impl MusicReader {
    /// A reader that renders MIDI with the SoundFont at `soundfont`, when one is given.
    pub fn new(soundfont: Option<&Path>) -> anyhow::Result<Self> {
        Ok(Self {
            soundfont: soundfont.map(midi::load_soundfont).transpose()?,
        })
    }

    /// The file as mono at `rate` samples per second.
    pub fn read_mono_at(&self, path: &Path, rate: u32) -> anyhow::Result<Vec<f32>> {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot open", path.display()))?;
        self.decode_mono_at(path, bytes, rate)
    }

    /// `bytes`, the contents of the file at `path` (named in errors, its extension taken as a
    /// hint), as mono at `rate` samples per second.
    pub fn decode_mono_at(
        &self,
        path: &Path,
        bytes: Vec<u8>,
        rate: u32,
    ) -> anyhow::Result<Vec<f32>> {
        if midi::is_midi(path) {
            return match &self.soundfont {
                Some(font) => midi::render(path, &bytes, font, rate),
                None => bail!(
                    "{}: a MIDI file is rendered with a SoundFont: give --soundfont FILE.sf2",
                    path.display()
                ),
            };
        }
        let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
        let mono = decode(stream, path)
            .with_context(|| format!("{}: not readable as music", path.display()))?;
        resample(&mono.samples, mono.sample_rate, rate)
            .with_context(|| format!("{}: resampling to {rate} Hz", path.display()))
    }
}

/// An audio file (not MIDI) at its own rate, as the metrics read it before each model's own
/// resampling: the channels averaged, and the first channel alone (audioldm_eval's PANNs input).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeAudio {
    pub mono: Mono,
    /// The first channel, when the file has more than one.
    pub first_channel: Option<Vec<f32>>,
}

impl NativeAudio {
    /// The first channel (the whole file when it is mono).
    pub fn first_channel(&self) -> &[f32] {
        self.first_channel.as_deref().unwrap_or(&self.mono.samples)
    }
}

/// Reads an audio file (not MIDI) at its own rate.
pub fn read_native(path: &Path) -> anyhow::Result<NativeAudio> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let (mono, first_channel) = decode_keeping_first(stream, path)
        .with_context(|| format!("{}: not readable as music", path.display()))?;
    Ok(NativeAudio {
        mono,
        first_channel,
    })
}

fn decode(stream: MediaSourceStream, path: &Path) -> anyhow::Result<Mono> {
    let (mono, _) = decode_channels(stream, path, false)?;
    Ok(mono)
}

fn decode_keeping_first(
    stream: MediaSourceStream,
    path: &Path,
) -> anyhow::Result<(Mono, Option<Vec<f32>>)> {
    decode_channels(stream, path, true)
}

/// Decodes to mono (the channels averaged) and, when `keep_first` and there are several
/// channels, the first channel too.
fn decode_channels(
    stream: MediaSourceStream,
    path: &Path,
    keep_first: bool,
) -> anyhow::Result<(Mono, Option<Vec<f32>>)> {
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .context("unknown or broken container (WAV, FLAC, MP3 and Ogg Vorbis are read)")?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .context("no audio track")?;
    let track_id = track.id;
    let sample_rate = track
        .codec_params
        .sample_rate
        .context("the audio track has no sample rate")?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .context("unsupported audio codec")?;
    let most = (MAX_SECONDS * f64::from(sample_rate)) as usize;
    let mut samples = Vec::new();
    let mut first = Vec::new();
    let mut several_channels = false;
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(e).context("reading a packet"),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // A damaged packet is skipped, as players do; a broken stream ends in an error below.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(e).context("decoding"),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count().max(1);
        let buffer = match &mut buffer {
            Some(b) if b.capacity() >= decoded.capacity() * channels => b,
            slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        let scale = 1.0 / channels as f32;
        if keep_first && channels > 1 {
            several_channels = true;
            first.extend(buffer.samples().iter().step_by(channels));
        }
        samples.extend(
            buffer
                .samples()
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() * scale),
        );
        if samples.len() >= most {
            samples.truncate(most);
            first.truncate(most);
            break;
        }
    }
    if samples.is_empty() {
        bail!("no audio samples");
    }
    let mono = Mono {
        samples,
        sample_rate,
    };
    Ok((mono, several_channels.then_some(first)))
}

/// `samples` cut or zero-padded to exactly `len`.
pub fn fit_length(mut samples: Vec<f32>, len: usize) -> Vec<f32> {
    samples.resize(len, 0.0);
    samples
}
