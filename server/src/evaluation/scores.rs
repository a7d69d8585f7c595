//! What `ekphrasis eval` reports: the paper's metrics under the contract's JSON keys (a metric
//! not asked for, or whose model is missing, is absent), the counts of files, pairs and skipped
//! files, and the same as lines a person reads.

use std::collections::BTreeMap;

use serde::Serialize;

/// One evaluation's result, serialised as `eval --json` prints it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scores {
    /// Fréchet Audio Distance over VGGish embeddings (the paper's `calc_fad.py`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fad: Option<f64>,
    /// The paper's `calc_kl.py`: KL of softmaxed 100-bin histograms of VGGish values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_vggish_softmax: Option<f64>,
    /// The same with sigmoids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_vggish_sigmoid: Option<f64>,
    /// audioldm_eval's paired KL over PANNs CNN14 logits, softmax.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_softmax: Option<f64>,
    /// The same with sigmoids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_sigmoid: Option<f64>,
    /// audioldm_eval's Inception Score over the generated files' CNN14 logits: mean of splits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isc_mean: Option<f64>,
    /// Its population standard deviation over the splits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isc_std: Option<f64>,
    /// Mean cosine of CLAP audio and text embeddings over the generated files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clap: Option<f64>,
    /// Mean total harmonic distortion over the generated files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thd: Option<f64>,
    /// Generated files read.
    pub files: usize,
    /// Generated files read whose reference file (same relative path) was read too.
    pub pairs: usize,
    /// Files named on stderr and left out because they could not be read.
    pub skipped: usize,
    /// Each generated file's CLAP cosine, by relative path (for per-emotion figures; not in
    /// the JSON).
    #[serde(skip)]
    pub clap_by_file: BTreeMap<String, f64>,
}

impl Scores {
    /// The scores as aligned lines, the paper's name of each metric first.
    pub fn lines(&self) -> Vec<String> {
        let rows = [
            ("FAD (VGGish)", self.fad),
            ("KL softmax (VGGish histograms)", self.kl_vggish_softmax),
            ("KL sigmoid (VGGish histograms)", self.kl_vggish_sigmoid),
            ("KL softmax (PANNs, paired)", self.kl_softmax),
            ("KL sigmoid (PANNs, paired)", self.kl_sigmoid),
            ("Inception Score (PANNs)", self.isc_mean),
            ("Inception Score std", self.isc_std),
            ("CLAP", self.clap),
            ("THD", self.thd),
        ];
        let mut lines: Vec<String> = rows
            .iter()
            .filter_map(|(name, value)| value.map(|v| format!("{name:<32} {v:.6}")))
            .collect();
        lines.push(format!(
            "{:<32} {} generated, {} pairs, {} skipped",
            "files", self.files, self.pairs, self.skipped
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_metrics_are_absent_and_counts_always_there() {
        let scores = Scores {
            thd: Some(0.5),
            files: 3,
            pairs: 2,
            ..Scores::default()
        };
        let json = serde_json::to_value(&scores).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["files", "pairs", "skipped", "thd"]);
        assert_eq!(scores.lines().len(), 2);
    }
}
