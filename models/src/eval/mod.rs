//! Judging music as the paper did (its Table II and Fig. 3): the metrics and the three models
//! they read audio through, each loading its published checkpoint unchanged.
//!
//! - [`clap`]: LAION CLAP as transformers' `ClapModel` (HTSAT audio tower, RoBERTa text tower,
//!   projections, feature extractor): the embeddings under the CLAP score.
//! - [`metrics`]: FAD, the two KL divergences, Inception Score, CLAP alignment and THD, as plain
//!   functions over embeddings, logits or samples (f64 where the references are).
//! - [`panns`]: PANNs CNN14 with its torchlibrosa front end and audioldm_eval's clip
//!   normalisation: the logits under the paired KL and the Inception Score.
//! - [`torch_state_dict`]: reading a checkpoint's state dict, whether `.safetensors`, zip `.pth`
//!   or legacy (pre-1.6) `.pth`, told apart by content; VGGish and PANNs load through it.
//! - [`vggish`]: torchvggish's VGGish without PCA or final ReLU, with its exact input pipeline
//!   (resampy `kaiser_best` to 16 kHz, log-mel examples): the model under FAD and the histogram KL.

pub mod clap;
pub mod metrics;
pub mod panns;
pub mod torch_state_dict;
pub mod vggish;
