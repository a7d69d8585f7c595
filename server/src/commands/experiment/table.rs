//! The paper's Table II beside ours: `table2.md` for people and `table2.json` for tools, each
//! variant's row from the paper followed by the row Ekphrasis measured.
//!
//! The paper's columns are FAD, CLAP, KL, THD and ISc. Ours fill them with `fad`, `clap` (the
//! "{emotion} song" text of Fig. 3), `kl_vggish_softmax` (the paper's own `calc_kl.py`, softmax
//! form), `thd` and `isc_mean`; the JSON holds every figure `eval` computes.

use std::collections::BTreeMap;
use std::path::Path;

use ekphrasis_shared::domain::Variant;
use serde::Serialize;

use super::plot::title;
use crate::dataset::manifest::write_json;
use crate::evaluation::scores::Scores;

/// One row of the paper's Table II.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PaperRow {
    pub fad: f64,
    pub clap: f64,
    pub kl: f64,
    pub thd: f64,
    pub isc: f64,
}

/// The paper's Table II, MusicGen-small rows.
pub fn paper(variant: Variant) -> PaperRow {
    let [fad, clap, kl, thd, isc] = match variant {
        Variant::Emotive => [7.02, 0.075, 0.054, 1.79, 1.044],
        Variant::Narrative => [5.22, 0.096, 0.045, 1.73, 1.032],
        Variant::Lyrical => [5.06, 0.11, 0.046, 1.92, 1.031],
        Variant::Optimized => [5.54, 0.13, 0.012, 1.75, 1.033],
    };
    PaperRow {
        fad,
        clap,
        kl,
        thd,
        isc,
    }
}

/// Writes `table2.md` and `table2.json` into `out`.
pub fn write(
    ours: &BTreeMap<Variant, Scores>,
    clap_by_emotion: &super::plot::ClapByEmotion,
    settings: &serde_json::Value,
    out: &Path,
) -> anyhow::Result<()> {
    let json = serde_json::json!({
        "paper": ours.keys().map(|v| (v.as_str(), paper(*v))).collect::<BTreeMap<_, _>>(),
        "ours": ours.iter().map(|(v, s)| (v.as_str(), s)).collect::<BTreeMap<_, _>>(),
        "clap_per_emotion": clap_by_emotion
            .iter()
            .map(|(v, by)| (v.as_str(), by.iter().map(|(e, c)| (e.as_str(), *c)).collect::<BTreeMap<_, _>>()))
            .collect::<BTreeMap<_, _>>(),
        "settings": settings,
    });
    write_json(&out.join("table2.json"), &json)?;
    std::fs::write(out.join("table2.md"), markdown(ours))
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.join("table2.md").display()))
}

/// The table as Markdown: the paper's row, then ours, for each variant.
pub fn markdown(ours: &BTreeMap<Variant, Scores>) -> String {
    let cell = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    let mut md = String::from(
        "| Model | FAD ↓ | CLAP ↑ | KL ↓ | THD ↓ | ISc ↑ |\n|---|---|---|---|---|---|\n",
    );
    for (variant, scores) in ours {
        let p = paper(*variant);
        let name = title(*variant);
        md += &format!(
            "| MG-S {name} (paper) | {} | {} | {} | {} | {} |\n",
            p.fad, p.clap, p.kl, p.thd, p.isc
        );
        md += &format!(
            "| MG-S {name} (Ekphrasis) | {} | {} | {} | {} | {} |\n",
            cell(scores.fad),
            cell(scores.clap),
            cell(scores.kl_vggish_softmax),
            cell(scores.thd),
            cell(scores.isc_mean)
        );
    }
    md += "\nCLAP uses the text \"{emotion} song\" (the paper's Fig. 3); KL is the paper's \
           `calc_kl.py` (VGGish histograms, softmax). A dash: the metric's model was not given.\n";
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_the_papers_row_then_ours() {
        let ours = BTreeMap::from([(
            Variant::Lyrical,
            Scores {
                fad: Some(4.5),
                thd: Some(1.25),
                files: 2,
                ..Scores::default()
            },
        )]);
        let md = markdown(&ours);
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| MG-S")).collect();
        assert_eq!(
            rows,
            [
                "| MG-S Lyrical (paper) | 5.06 | 0.11 | 0.046 | 1.92 | 1.031 |",
                "| MG-S Lyrical (Ekphrasis) | 4.5000 | – | – | 1.2500 | – |",
            ]
        );
    }
}
