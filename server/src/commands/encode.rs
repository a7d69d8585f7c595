//! `ekphrasis encode AUDIO --musicgen DIR --codes-out FILE.json [--seconds S]`: music to EnCodec
//! codes with the encoder inside a MusicGen checkpoint (its `audio_encoder.*` weights, as
//! published). The file is read as every command that reads music reads it (channels averaged,
//! resampled to the codec's rate), cut or zero-padded to `--seconds`; the codes are written as
//! `{"codes": [[…], …]}`, one list per codebook, as `compose --codes-out` writes them.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use candle_core::{DType, Tensor};
use clap::Args;
use ekphrasis_models::device::DeviceChoice;
use ekphrasis_models::musicgen::MusicGen;

use super::common::report::loaded;
use crate::audio::decode::{MusicReader, fit_length};
use crate::checkpoints::catalog;

/// Flags of `ekphrasis encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// The music: WAV, FLAC, MP3 or Ogg Vorbis, any rate and channel count.
    pub audio: PathBuf,
    /// MusicGen checkpoint whose EnCodec encodes: a directory in Hugging Face layout, or a hub
    /// id [default: MODELS/musicgen/, else facebook/musicgen-small].
    #[arg(long, env = "EKPHRASIS_MUSICGEN")]
    pub musicgen: Option<String>,
    /// Folder of model checkpoints, one sub-folder a role (musicgen/ is used here).
    #[arg(long, env = "EKPHRASIS_MODELS")]
    pub models: Option<PathBuf>,
    /// Where to write the codes as JSON `{"codes": [[…], …]}`.
    #[arg(long)]
    pub codes_out: PathBuf,
    /// Cut or zero-pad the music to this many seconds [default: as long as the file].
    #[arg(long)]
    pub seconds: Option<f64>,
    /// A SoundFont (`.sf2`) to render MIDI files with.
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, env = "EKPHRASIS_DEVICE", default_value = "auto")]
    pub device: String,
}

/// Runs the command.
pub fn run(args: EncodeArgs) -> anyhow::Result<()> {
    if let Some(seconds) = args.seconds
        && !(seconds.is_finite() && seconds > 0.0)
    {
        bail!("--seconds must be a positive number, not {seconds}");
    }
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let dir = catalog::locate(
        &catalog::MUSICGEN,
        args.musicgen.as_deref(),
        args.models.as_deref(),
    )?;
    let started = Instant::now();
    // The codec is small; f32 everywhere keeps the codes the reference's.
    let encoder = MusicGen::load_audio_encoder(&dir, &device, DType::F32)?;
    loaded(&dir, &device, started);
    let rate = encoder.config().sampling_rate;
    let mut samples =
        MusicReader::new(args.soundfont.as_deref())?.read_mono_at(&args.audio, rate as u32)?;
    if let Some(seconds) = args.seconds {
        samples = fit_length(samples, (seconds * rate as f64).round() as usize);
    }
    let started = Instant::now();
    let len = samples.len();
    let audio = Tensor::from_vec(samples, (1, 1, len), &device)?;
    let codes = encoder.encode(&audio)?.squeeze(0)?.to_vec2::<u32>()?;
    eprintln!(
        "encoded {:.2} s of music into {} frames of {} codebooks in {:.1} s",
        len as f64 / rate as f64,
        codes.first().map_or(0, Vec::len),
        codes.len(),
        started.elapsed().as_secs_f64()
    );
    let json = serde_json::json!({ "codes": codes });
    std::fs::write(&args.codes_out, json.to_string())
        .with_context(|| format!("writing {}", args.codes_out.display()))?;
    eprintln!("wrote {}", args.codes_out.display());
    Ok(())
}
