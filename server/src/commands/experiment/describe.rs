//! The experiment's first half: each test painting's emotion reading, caption and musical
//! description, made once for every variant (they differ only in which of these texts MusicGen
//! hears) and kept in `described.json`, so a run that stops resumes where it was.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use ekphrasis_shared::domain::Variant;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::plan::{Item, Layout};
use crate::commands::common::chain::{self, ChainModels};
use crate::dataset::manifest::write_json;
use crate::upload;

/// What the chain made of one painting, and the text each variant composes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Texts {
    /// The labeller's emotion (which may differ from the data set's).
    pub emotion: String,
    pub caption: Option<String>,
    pub description: Option<String>,
    /// The text MusicGen hears, by variant name.
    pub music_text: BTreeMap<String, String>,
}

impl Texts {
    /// The text `variant` composes from, if this painting was described for it.
    pub fn for_variant(&self, variant: Variant) -> Option<&str> {
        self.music_text.get(variant.as_str()).map(String::as_str)
    }
}

/// Every painting's texts by relative name: those kept from earlier runs, the rest made now. A
/// painting that cannot be read or described is named on stderr and left out.
pub fn describe_all(
    chain_models: &ChainModels,
    items: &[Item],
    variants: &[Variant],
    layout: &Layout,
    seed: u64,
) -> anyhow::Result<BTreeMap<String, Texts>> {
    let path = layout.described();
    let mut done: BTreeMap<String, Texts> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not what an earlier run wrote", path.display()))?,
        Err(_) => BTreeMap::new(),
    };
    let complete = |t: &Texts| variants.iter().all(|v| t.for_variant(*v).is_some());
    let pending: Vec<&Item> = items
        .iter()
        .filter(|i| !done.get(&i.relative).is_some_and(complete))
        .collect();
    if pending.is_empty() {
        return Ok(done);
    }
    // The widest variant asked for runs every stage any of them needs.
    let widest = *variants
        .iter()
        .max_by_key(|v| stages(**v))
        .expect("variants");
    eprintln!(
        "describing {} paintings (emotion{}) …",
        pending.len(),
        match stages(widest) {
            0 => "",
            1 => ", caption",
            _ => ", caption, description",
        }
    );
    let mut pipeline = chain::load(chain_models, widest, false)?;
    let bar = ProgressBar::new(pending.len() as u64).with_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} paintings described [{elapsed} < {eta}]",
        )
        .expect("a valid template"),
    );
    for item in pending {
        let made = upload::read_file(
            &item.painting,
            chain_models.max_bytes,
            chain_models.max_pixels,
        )
        .and_then(|image| {
            let request = chain::request(widest, 1, seed);
            let described =
                pipeline.describe(&image, &request, &mut |_| {}, &AtomicBool::new(false))?;
            Ok(Texts {
                emotion: described.reading.label.as_str().to_string(),
                caption: described.caption.as_ref().map(|c| c.text.clone()),
                description: described.description.as_ref().map(|d| d.text.clone()),
                music_text: Variant::ALL
                    .iter()
                    .filter(|v| stages(**v) <= stages(widest))
                    .map(|v| (v.as_str().to_string(), described.music_text(*v)))
                    .collect(),
            })
        });
        bar.inc(1);
        match made {
            Ok(texts) => {
                done.insert(item.relative.clone(), texts);
                write_json(&path, &done)?;
            }
            Err(e) => bar.suspend(|| {
                eprintln!("skipped {}: {e:#}", item.painting.display());
            }),
        }
    }
    bar.finish_and_clear();
    Ok(done)
}

/// How many stages before composing a variant runs.
fn stages(variant: Variant) -> usize {
    match ekphrasis_models::pipeline::needs(variant) {
        (false, false) => 0,
        (true, false) => 1,
        _ => 2,
    }
}
