//! The emotion labeller: a painting in; happy, angry, sad, fun and neutral out.
//!
//! - [`labeller`]: the labeller as the rest of the product sees it ([`Labeller`], [`Reading`]):
//!   the trained model when one is configured, otherwise zero-shot CLIP.
//! - [`resnet_bigru`]: the paper's model, a head of two bidirectional GRU layers and multi-head
//!   self-attention on [`resnet`] features.
//! - [`resnet`]: the ResNet-50 backbone in transformers' layout.
//! - [`clip_zero_shot`]: CLIP's image and text towers against "a painting that feels …".

pub mod clip_zero_shot;
pub mod labeller;
pub mod resnet;
pub mod resnet_bigru;

pub use labeller::{Labeller, LabellerKind, Reading};
