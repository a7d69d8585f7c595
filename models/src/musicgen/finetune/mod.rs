//! Fine-tuning MusicGen as the paper did (its §III.D): the decoder and the text projection learn
//! from painting–music pairs while T5 and EnCodec stay frozen.
//!
//! - [`labels`]: a clip's codes as delay-pattern labels and decoder inputs.
//! - [`data`]: examples into batches (text padding, condition dropout, shuffling).
//! - [`loss`]: transformers' loss, per-codebook cross-entropy without the pads.
//! - [`model`]: the decoder with trainable weights and a differentiable forward pass.
//! - [`optim`]: transformers' learning-rate schedules and PyTorch's gradient clipping.
//! - [`adamw`]: PyTorch's AdamW, its state open to saving for a resumed run.
//! - [`grads`]: a batch's loss and gradients, through the whole graph or layer by layer with
//!   recomputation (what fits a 30 s × 16 batch in a GPU's memory).
//! - [`step`]: one optimizer step (accumulation, clipping, schedule, AdamW).
//! - [`fit`](mod@fit): epochs, validation, learning-rate cuts, early stopping, the best weights.
//! - [`resume`]: a run's state after every epoch, to continue it exactly.
//! - [`save`]: the tuned model as a complete checkpoint in the published layout.

pub mod adamw;
pub mod data;
pub mod fit;
pub mod grads;
pub mod labels;
pub mod loss;
pub mod model;
pub mod optim;
pub mod resume;
pub mod save;
pub mod step;

pub use data::{Batch, BatchPlan, Example, epoch_batches, make_batch};
pub use fit::{
    EpochRecord, FitData, FitEvent, FitHooks, FitOptions, FitOutcome, FitProgress, fit, snapshot,
    validation_loss,
};
pub use labels::{decoder_inputs, delay_labels};
pub use loss::codebook_cross_entropy;
pub use model::{Freeze, TrainableMusicGen};
pub use optim::{Schedule, ScheduleKind, clip_grad_norm};
pub use save::write_checkpoint;
pub use step::{StepReport, StepSettings, Trainer, TrainerState};
