//! Audio files the server writes and reads back.
//!
//! - [`wav`]: 16-bit PCM WAV, what the command line writes and what a track keeps losslessly.
//! - [`ogg`]: the compressed download of a track (Ogg Vorbis).

pub mod ogg;
pub mod wav;
