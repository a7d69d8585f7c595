//! Painting–music data for fine-tuning MusicGen.
//!
//! - [`folders`]: a folder of files by emotion.
//! - [`build`](mod@build): clips cut, paintings paired with music of their emotion, the split.
//! - [`manifest`]: a training manifest's rows (a clip and its text).
//! - [`cache`]: codes and T5 states computed once, kept on disk.

pub mod build;
pub mod cache;
pub mod folders;
pub mod manifest;
