//! Audio files the server writes and reads.
//!
//! - [`wav`]: 16-bit PCM WAV, what the command line writes and what a track keeps losslessly.
//! - [`ogg`]: the compressed download of a track (Ogg Vorbis).
//! - [`decode`]: reading music (WAV, FLAC, MP3, Ogg Vorbis; MIDI through [`midi`]) as mono at a
//!   model's rate.
//! - [`midi`]: MIDI rendered with a SoundFont.
//! - [`resample`]: changing the sample rate.

pub mod decode;
pub mod midi;
pub mod ogg;
pub mod resample;
pub mod wav;
