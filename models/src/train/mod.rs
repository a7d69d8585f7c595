//! Training the emotion head (`ekphrasis train emotion`): a folder-per-emotion dataset, features
//! from a frozen backbone computed once and cached, a seeded stratified held-out split, AdamW with
//! early stopping, and the model directory written for `EmotionModel::load`.
//!
//! - [`run`]: one training run, dataset folder to model directory, with progress events.
//! - [`dataset`]: listing and checking the dataset folder.
//! - [`backbone`]: the frozen ResNet and its identity.
//! - [`cache`]: backbone features by image hash, in memory and on disk.
//! - [`split`]: the seeded stratified held-out split.
//! - [`params`]: seeded trainable weights.
//! - [`fit`](mod@fit): the optimisation loop with early stopping.
//! - [`metrics`]: accuracy and the confusion matrix.
//! - [`save`]: writing the model directory.

pub mod backbone;
pub mod cache;
pub mod dataset;
pub mod fit;
pub mod metrics;
pub mod params;
pub mod run;
pub mod save;
pub mod split;

pub use backbone::Backbone;
pub use dataset::{Dataset, MIN_IMAGES_PER_CLASS};
pub use fit::{EpochRecord, FitOptions, Fitted, fit};
pub use metrics::Confusion;
pub use run::{Decoder, TrainEvent, TrainOptions, TrainReport, train_emotion};
