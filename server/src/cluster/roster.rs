//! Which workers are alive and what they serve: each worker publishes its card (variants,
//! model revisions, slots) every few seconds to a stream that keeps the last card of each for
//! [`CARD_KEPT`], and withdraws it when it stops; web nodes read the cards into one
//! [`RuntimeInfo`].

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use ekphrasis_shared::domain::Variant;
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::broker::Broker;
use super::subjects;
use crate::jobs::RuntimeInfo;

/// How long a card is kept: a worker silent this long is taken for gone.
pub const CARD_KEPT: Duration = Duration::from_secs(20);
/// How often a worker publishes its card.
pub const CARD_EVERY: Duration = Duration::from_secs(5);
/// How often a web node reads the cards.
const READ_EVERY: Duration = Duration::from_secs(1);
/// The role of the base MusicGen, which composes a variant without a fine-tuned one.
const BASE_COMPOSER: &str = "musicgen";

/// What one worker serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerCard {
    pub name: String,
    pub variants: Vec<Variant>,
    pub revisions: BTreeMap<String, String>,
    pub composers: BTreeMap<Variant, String>,
    pub demo: bool,
    pub sample_rate: u32,
    /// Jobs it runs at once.
    pub slots: usize,
}

impl WorkerCard {
    /// The card of a worker whose models are `info`.
    pub fn new(name: &str, info: &RuntimeInfo, slots: usize) -> Self {
        Self {
            name: name.to_owned(),
            variants: info.variants.clone(),
            revisions: info.revisions.clone(),
            composers: info.composers.clone(),
            demo: info.demo,
            sample_rate: info.sample_rate,
            slots,
        }
    }

    /// Publishes the card (waiting for the broker to store it).
    pub async fn publish(&self, broker: &Broker) -> anyhow::Result<()> {
        let body = serde_json::to_vec(self).expect("a card serialises");
        broker
            .jetstream
            .publish(subjects::worker_card(&self.name), body.into())
            .await
            .context("publishing the worker's card")?
            .await
            .context("storing the worker's card")?;
        Ok(())
    }

    /// Takes the card off the broker (a worker stopping), so web nodes stop offering what only
    /// it served within a second rather than after [`CARD_KEPT`].
    pub async fn withdraw(&self, broker: &Broker) -> anyhow::Result<()> {
        broker
            .jetstream
            .get_stream(subjects::WORKERS_STREAM)
            .await
            .context("the workers' stream")?
            .purge()
            .filter(subjects::worker_card(&self.name))
            .await
            .context("withdrawing the worker's card")?;
        Ok(())
    }
}

/// The live workers' cards as one runtime description, kept fresh by a background task.
#[derive(Clone)]
pub struct Roster {
    info: Arc<RwLock<(RuntimeInfo, Vec<WorkerCard>)>>,
}

impl Roster {
    /// Reads the cards now, then every second until `stop` is cancelled.
    pub async fn watch(broker: Broker, stop: tokio_util::sync::CancellationToken) -> Self {
        let roster = Self {
            info: Arc::new(RwLock::new((merge(&[]), Vec::new()))),
        };
        roster.refresh(&broker).await;
        let watching = roster.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(READ_EVERY);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = every.tick() => watching.refresh(&broker).await,
                }
            }
        });
        roster
    }

    /// What the live workers serve together.
    pub fn info(&self) -> RuntimeInfo {
        self.info
            .read()
            .map(|info| info.0.clone())
            .unwrap_or_else(|_| merge(&[]))
    }

    /// The live workers' cards.
    pub fn cards(&self) -> Vec<WorkerCard> {
        self.snapshot().1
    }

    /// What the live workers serve together and their cards, from one reading.
    pub fn snapshot(&self) -> (RuntimeInfo, Vec<WorkerCard>) {
        self.info
            .read()
            .map(|info| info.clone())
            .unwrap_or_else(|_| (merge(&[]), Vec::new()))
    }

    /// Reads every card now (a broker error keeps the last reading).
    pub async fn refresh(&self, broker: &Broker) {
        match read_cards(broker).await {
            Ok(cards) => {
                if let Ok(mut info) = self.info.write() {
                    *info = (merge(&cards), cards);
                }
            }
            Err(e) => tracing::debug!(error = format!("{e:#}"), "reading the workers' cards"),
        }
    }
}

async fn read_cards(broker: &Broker) -> anyhow::Result<Vec<WorkerCard>> {
    let stream = broker
        .jetstream
        .get_stream(subjects::WORKERS_STREAM)
        .await
        .context("the workers' stream")?;
    let names: Vec<(String, usize)> = stream
        .info_with_subjects(subjects::WORKERS_ALL)
        .await
        .context("listing the workers")?
        .try_collect()
        .await
        .context("listing the workers")?;
    let mut cards = Vec::new();
    for (subject, _) in names {
        let message = match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => message,
            // Expired between the listing and now.
            Err(_) => continue,
        };
        match serde_json::from_slice::<WorkerCard>(&message.payload) {
            Ok(card) => cards.push(card),
            Err(e) => tracing::warn!(%subject, error = %e, "an unreadable worker card"),
        }
    }
    cards.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cards)
}

/// The cards as one runtime: every variant some worker serves; revisions as the workers report
/// them, the first card's first; each variant's composer as the workers serving it report it, a
/// variant's own fine-tuned MusicGen winning over the base one.
pub fn merge(cards: &[WorkerCard]) -> RuntimeInfo {
    let mut info = RuntimeInfo {
        revisions: BTreeMap::new(),
        demo: false,
        variants: Vec::new(),
        composers: BTreeMap::new(),
        sample_rate: 0,
    };
    for card in cards {
        for (role, revision) in &card.revisions {
            info.revisions
                .entry(role.clone())
                .or_insert_with(|| revision.clone());
        }
        for variant in &card.variants {
            if !info.variants.contains(variant) {
                info.variants.push(*variant);
            }
        }
        for (variant, role) in &card.composers {
            let composer = info
                .composers
                .entry(*variant)
                .or_insert_with(|| role.clone());
            if *composer == BASE_COMPOSER {
                composer.clone_from(role);
            }
        }
        info.demo |= card.demo;
        if info.sample_rate == 0 {
            info.sample_rate = card.sample_rate;
        }
    }
    info.variants.sort();
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(name: &str, variants: &[Variant]) -> WorkerCard {
        WorkerCard {
            name: name.into(),
            variants: variants.to_vec(),
            revisions: BTreeMap::from([("musicgen".into(), name.into())]),
            composers: variants.iter().map(|v| (*v, "musicgen".into())).collect(),
            demo: true,
            sample_rate: 32_000,
            slots: 1,
        }
    }

    #[test]
    fn the_cluster_serves_what_any_worker_serves() {
        let info = merge(&[
            card("a", &[Variant::Lyrical, Variant::Emotive]),
            card("b", &[Variant::Optimized]),
        ]);
        assert_eq!(
            info.variants,
            [Variant::Emotive, Variant::Lyrical, Variant::Optimized]
        );
        assert_eq!(info.revisions["musicgen"], "a");
        assert_eq!(info.sample_rate, 32_000);
        assert!(merge(&[]).variants.is_empty());
        // Whichever worker comes first, a variant's own fine-tuned MusicGen is named.
        let mut tuned = card("0-tuned", &[Variant::Lyrical, Variant::Optimized]);
        tuned.composers = BTreeMap::from([
            (Variant::Lyrical, "musicgen-lyrical".into()),
            (Variant::Optimized, "optimized".into()),
        ]);
        for cards in [
            [card("a", &[Variant::Lyrical]), tuned.clone()],
            [tuned, card("a", &[Variant::Lyrical])],
        ] {
            let info = merge(&cards);
            assert_eq!(info.composers[&Variant::Lyrical], "musicgen-lyrical");
            assert_eq!(info.composers[&Variant::Optimized], "optimized");
            assert_eq!(info.variants, [Variant::Lyrical, Variant::Optimized]);
        }
        let json = serde_json::to_string(&card("a", &[Variant::Lyrical])).unwrap();
        assert_eq!(
            serde_json::from_str::<WorkerCard>(&json).unwrap(),
            card("a", &[Variant::Lyrical])
        );
    }
}
