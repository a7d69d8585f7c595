//! MIDI files rendered to audio with a SoundFont (rustysynth): the paper's music is MIDI, so
//! every command that reads music renders a `.mid` file with `--soundfont FILE.sf2` at the rate
//! it wants, left and right averaged, with a second after the last event for the notes to fade.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustysynth::{MidiFile, MidiFileSequencer, SoundFont, Synthesizer, SynthesizerSettings};

/// Seconds rendered after the last MIDI event.
pub const TAIL_SECONDS: f64 = 1.0;

/// The longest MIDI file rendered, in seconds.
pub const MAX_SECONDS: f64 = 3600.0;

/// Reads a SoundFont (`.sf2`).
pub fn load_soundfont(path: &Path) -> anyhow::Result<Arc<SoundFont>> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let font = SoundFont::new(&mut BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{}: not a usable SoundFont: {e}", path.display()))?;
    Ok(Arc::new(font))
}

/// Whether `path` names a MIDI file, by its extension.
pub fn is_midi(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
}

/// Renders the MIDI file at `path`, whose contents are `bytes`, with `font` as mono samples at
/// `rate`.
pub fn render(
    path: &Path,
    bytes: &[u8],
    font: &Arc<SoundFont>,
    rate: u32,
) -> anyhow::Result<Vec<f32>> {
    let midi = MidiFile::new(&mut &bytes[..])
        .map_err(|e| anyhow::anyhow!("{}: not a readable MIDI file: {e}", path.display()))?;
    let seconds = midi.get_length();
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("{}: the MIDI file has no events", path.display());
    }
    if seconds > MAX_SECONDS {
        bail!(
            "{}: {seconds:.0} s of MIDI, longer than the {MAX_SECONDS:.0} s read",
            path.display()
        );
    }
    let settings = SynthesizerSettings::new(rate as i32);
    let synthesizer = Synthesizer::new(font, &settings)
        .map_err(|e| anyhow::anyhow!("the SoundFont cannot synthesize: {e}"))?;
    let mut sequencer = MidiFileSequencer::new(synthesizer);
    sequencer.play(&Arc::new(midi), false);
    let len = ((seconds + TAIL_SECONDS) * f64::from(rate)).ceil() as usize;
    let mut left = vec![0f32; len];
    let mut right = vec![0f32; len];
    sequencer.render(&mut left, &mut right);
    Ok(left
        .iter()
        .zip(&right)
        .map(|(l, r)| (l + r) * 0.5)
        .collect())
}
