//! Where a job runtime's models come from: [`ModelSource`] names the roles, their revisions and
//! the variants they run, and loads one copy of them a worker. Checkpoint folders
//! ([`super::model_set::ModelDirs`]) are the product's source; benchmarks add full-size models
//! with random weights. [`Serving`] offers only some of a source's variants (`--variants`).

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

    /// One copy of only the models `variants` need (a worker serving some variants); every
    /// model unless a source knows better.
    fn load_for(&self, options: &LoadOptions, variants: &[Variant]) -> anyhow::Result<Pipeline> {
        let _ = variants;
        self.load(options)
    }

    /// CLAP, which judges each finished track, when there is one.
    fn load_judge(&self, options: &LoadOptions) -> anyhow::Result<Option<Clap>>;
}

/// A source that offers only some of the variants its models can run (`--variants`): the same
/// revisions (so its tracks are keyed as any other worker's with those models), fewer variants
/// and composers, and only the models those variants run loaded.
pub struct Serving<S> {
    models: S,
    only: Vec<Variant>,
}

impl<S: ModelSource> Serving<S> {
    /// `models` offering only `only`; a variant they cannot run is refused by name.
    pub fn new(models: S, only: &[Variant]) -> anyhow::Result<Self> {
        let can = models.variants();
        if let Some(variant) = only.iter().find(|v| !can.contains(v)) {
            let why = if *variant == Variant::Optimized {
                ": it needs a fine-tuned MusicGen (--optimized-musicgen DIR or --variant-musicgen \
                 optimized=DIR)"
            } else {
                ""
            };
            let names: Vec<_> = can.iter().map(|v| v.as_str()).collect();
            anyhow::bail!(
                "--variants names {variant}, which these models cannot serve{why}; they serve {}",
                names.join(", ")
            );
        }
        Ok(Self {
            models,
            only: only.to_vec(),
        })
    }
}

impl<S: ModelSource> ModelSource for Serving<S> {
    fn revisions(&self) -> BTreeMap<String, String> {
        self.models.revisions()
    }

    fn variants(&self) -> Vec<Variant> {
        let mut variants = self.models.variants();
        variants.retain(|v| self.only.contains(v));
        variants
    }

    fn composer_role(&self, variant: Variant) -> Option<String> {
        if self.only.contains(&variant) {
            self.models.composer_role(variant)
        } else {
            None
        }
    }

    fn load(&self, options: &LoadOptions) -> anyhow::Result<Pipeline> {
        self.models.load_for(options, &self.only)
    }

    fn load_judge(&self, options: &LoadOptions) -> anyhow::Result<Option<Clap>> {
        self.models.load_judge(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The base models: every variant but optimized.
    struct Base;

    impl ModelSource for Base {
        fn revisions(&self) -> BTreeMap<String, String> {
            BTreeMap::from([("musicgen".into(), "r1".into())])
        }

        fn variants(&self) -> Vec<Variant> {
            vec![Variant::Emotive, Variant::Narrative, Variant::Lyrical]
        }

        fn composer_role(&self, variant: Variant) -> Option<String> {
            (variant != Variant::Optimized).then(|| "musicgen".into())
        }

        fn load(&self, _: &LoadOptions) -> anyhow::Result<Pipeline> {
            anyhow::bail!("no models in this test")
        }

        fn load_judge(&self, _: &LoadOptions) -> anyhow::Result<Option<Clap>> {
            Ok(None)
        }
    }

    #[test]
    fn only_the_variants_asked_for_are_served_and_others_are_refused_by_name() {
        let serving = Serving::new(Base, &[Variant::Lyrical, Variant::Emotive]).unwrap();
        assert_eq!(serving.variants(), [Variant::Emotive, Variant::Lyrical]);
        assert_eq!(
            serving.composer_role(Variant::Lyrical).as_deref(),
            Some("musicgen")
        );
        assert_eq!(serving.composer_role(Variant::Narrative), None);
        assert_eq!(serving.revisions(), Base.revisions(), "tracks keyed alike");

        let err = Serving::new(Base, &[Variant::Lyrical, Variant::Optimized])
            .err()
            .expect("the base models cannot serve optimized")
            .to_string();
        assert!(
            err.contains("optimized") && err.contains("fine-tuned MusicGen"),
            "{err}"
        );
        assert!(err.contains("emotive, narrative, lyrical"), "{err}");
    }
}
