//! `ekphrasis train …`: training the paper's models.
//!
//! - [`emotion`]: `train emotion`, the emotion labeller's head on a frozen ResNet-50.
//! - [`musicgen`]: `train musicgen`, fine-tuning MusicGen on painting–music pairs.

pub mod emotion;
pub mod musicgen;

use clap::Subcommand;

/// What to train.
#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// The emotion labeller's head (BiGRU + attention) on a frozen ResNet-50.
    Emotion(emotion::TrainEmotionArgs),
    /// MusicGen's decoder on music and its texts, as the paper fine-tuned it.
    Musicgen(Box<musicgen::TrainMusicgenArgs>),
}

/// Runs a training command.
pub fn run(command: TrainCommand) -> anyhow::Result<()> {
    match command {
        TrainCommand::Emotion(args) => emotion::run(args),
        TrainCommand::Musicgen(args) => musicgen::run(*args),
    }
}
