//! Where a job runtime's models come from: [`ModelSource`] names the roles, their revisions and
//! the variants they run, and loads one copy of them a worker. Checkpoint folders
//! ([`super::model_set::ModelDirs`]) are the product's source; benchmarks add full-size models
//! with random weights.

use std::collections::BTreeMap;

use ekphrasis_models::eval::clap::Clap;
use ekphrasis_models::pipeline::Pipeline;
use ekphrasis_shared::domain::Variant;

use super::model_set::LoadOptions;

/// The models of a job runtime.
pub trait ModelSource: Send + Sync + 'static {
    /// Each role's revision: with the request, it keys a stored track.
    fn revisions(&self) -> BTreeMap<String, String>;

    /// The variants these models can run.
    fn variants(&self) -> Vec<Variant>;

    /// The role (in [`Self::revisions`]) of the MusicGen that composes `variant`.
    fn composer_role(&self, variant: Variant) -> Option<String>;

    /// One copy of the chain's models (called once a worker, on its thread).
    fn load(&self, options: &LoadOptions) -> anyhow::Result<Pipeline>;

    /// CLAP, which judges each finished track, when there is one.
    fn load_judge(&self, options: &LoadOptions) -> anyhow::Result<Option<Clap>>;
}
