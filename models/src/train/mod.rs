//! Training the emotion head (`ekphrasis train emotion`): a folder-per-emotion dataset, features
//! from a frozen backbone computed once and cached, a seeded stratified held-out split, AdamW with
//! early stopping, and the model directory written for `EmotionModel::load`.
//!
//! - [`dataset`]: listing and checking the dataset folder.
//! - [`cache`]: backbone features by image hash, in memory and on disk.
//! - [`split`]: the seeded stratified held-out split.
//! - [`params`]: seeded trainable weights.
//! - [`fit`]: the optimisation loop with early stopping.
//! - [`metrics`]: accuracy and the confusion matrix.

pub mod cache;
pub mod dataset;
pub mod fit;
pub mod metrics;
pub mod params;
pub mod split;

pub use dataset::{Dataset, MIN_IMAGES_PER_CLASS};
pub use fit::{EpochRecord, FitOptions, Fitted, fit};
pub use metrics::Confusion;
