//! What the page says about the server's music models, from `GET /api/health`: the demo
//! models' banner, why the models are unavailable, and which variants can be chosen.

use ekphrasis_shared::Variant;
use ekphrasis_shared::api::{Health, ModelsStatus};

/// A notice about the models, shown above everything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelsNotice {
    /// The tiny random-weight demo models: everything works, but the music is noise.
    Demo,
    /// The models are not loaded, for this reason.
    Unavailable { reason: String },
}

impl ModelsNotice {
    /// The notice for a health answer, if it needs one.
    pub fn from_health(health: &Health) -> Option<Self> {
        match &health.models {
            ModelsStatus::Ready { demo: true, .. } => Some(ModelsNotice::Demo),
            ModelsStatus::Ready { demo: false, .. } => None,
            ModelsStatus::Unavailable { reason } => Some(ModelsNotice::Unavailable {
                reason: reason.clone(),
            }),
        }
    }

    /// The headline.
    pub fn title(&self) -> &'static str {
        match self {
            ModelsNotice::Demo => "Demo models: the music is noise",
            ModelsNotice::Unavailable { .. } => "The music models are not available here",
        }
    }

    /// The explanation under the headline.
    pub fn detail(&self) -> String {
        match self {
            ModelsNotice::Demo => "This server runs tiny stand-in models with random weights, so \
                                   that every part of Ekphrasis can be tried. The emotions, \
                                   captions and descriptions are made up and the music sounds \
                                   like noise. With the real models installed it is music."
                .to_owned(),
            ModelsNotice::Unavailable { reason } => format!(
                "The server said: “{reason}”. Paintings can be chosen, but no music can be made \
                 until the person running this server installs the models."
            ),
        }
    }

    /// The machine-readable name, for `data-kind`.
    pub fn name(&self) -> &'static str {
        match self {
            ModelsNotice::Demo => "demo",
            ModelsNotice::Unavailable { .. } => "unavailable",
        }
    }
}

/// Whether this server can run `variant`; true while its health is not known.
pub fn variant_available(health: Option<&Health>, variant: Variant) -> bool {
    match health.map(|health| &health.models) {
        None => true,
        Some(ModelsStatus::Ready { variants, .. }) => {
            // A server that lists no variants predates the list: take the paper's three.
            variants.contains(&variant) || (variants.is_empty() && variant != Variant::Optimized)
        }
        Some(ModelsStatus::Unavailable { .. }) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(models: ModelsStatus) -> Health {
        Health {
            status: "ok".into(),
            server: "ekphrasis/0.1.0".into(),
            protocol: 1,
            models,
            public_url: None,
            cluster: None,
        }
    }

    #[test]
    fn demo_models_get_the_banner() {
        let demo = health(ModelsStatus::Ready {
            demo: true,
            variants: vec![Variant::Lyrical],
            composers: Default::default(),
        });
        let notice = ModelsNotice::from_health(&demo).expect("a banner");
        assert_eq!(notice.title(), "Demo models: the music is noise");
        assert_eq!(notice.name(), "demo");
        let real = health(ModelsStatus::Ready {
            demo: false,
            variants: vec![],
            composers: Default::default(),
        });
        assert_eq!(ModelsNotice::from_health(&real), None);
    }

    #[test]
    fn unavailable_models_say_why() {
        let down = health(ModelsStatus::Unavailable {
            reason: "no weights in /models".into(),
        });
        let notice = ModelsNotice::from_health(&down).expect("a notice");
        assert!(notice.detail().contains("no weights in /models"));
        assert!(!variant_available(Some(&down), Variant::Lyrical));
    }

    #[test]
    fn only_the_servers_variants_can_be_chosen() {
        let three = health(ModelsStatus::Ready {
            demo: false,
            variants: vec![Variant::Emotive, Variant::Narrative, Variant::Lyrical],
            composers: Default::default(),
        });
        assert!(variant_available(Some(&three), Variant::Lyrical));
        assert!(!variant_available(Some(&three), Variant::Optimized));
        assert!(variant_available(None, Variant::Optimized));
        let unlisted = health(ModelsStatus::Ready {
            demo: false,
            variants: vec![],
            composers: Default::default(),
        });
        assert!(variant_available(Some(&unlisted), Variant::Emotive));
        assert!(!variant_available(Some(&unlisted), Variant::Optimized));
    }
}
