//! Choosing the next token from Falcon-RW's logits: greedy (argmax over the whole head, as
//! transformers' greedy search), or sampling with transformers' warpers in their order —
//! temperature, top-k, top-p — from a seeded generator, so the same seed gives the same text.

use crate::error::{Error, Result};
/// The greedy choice, shared with MusicGen and BLIP.
pub use crate::musicgen::sampling::argmax;

/// How tokens are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// The most likely token (the first of equal maxima).
    Greedy,
    /// A random token from the warped distribution.
    Sample(SamplingParams),
}

/// Sampling settings, as transformers names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    /// Logits are divided by this before the softmax (above 0).
    pub temperature: f64,
    /// Keep only the k most likely tokens (ties with the k-th kept); 0 keeps all.
    pub top_k: usize,
    /// Keep the most likely tokens until their probability reaches p (the one crossing it
    /// included); 1 keeps all.
    pub top_p: f64,
}

impl SamplingParams {
    /// The defaults when the checkpoint's generation_config.json gives none (falcon-rw-1b's gives
    /// none): a little cooler than the raw distribution, which keeps a base model on topic.
    pub const DEFAULT: SamplingParams = SamplingParams {
        temperature: 0.7,
        top_k: 50,
        top_p: 0.9,
    };

    /// Refuses settings that cannot be used.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::Input(format!(
                "temperature: must be above 0, got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::Input(format!(
                "top-p: must be in (0, 1], got {}",
                self.top_p
            )));
        }
        Ok(())
    }
}

/// Samples among the first `limit` logits (ids the tokenizer can decode) with a uniform draw in
/// [0, 1).
pub fn sample(logits: &[f32], params: &SamplingParams, limit: usize, draw: f64) -> u32 {
    if logits.is_empty() {
        return 0;
    }
    let logits = &logits[..limit.clamp(1, logits.len())];
    let scaled: Vec<f64> = logits
        .iter()
        .map(|&v| f64::from(v) / params.temperature)
        .collect();
    // Top-k: drop values below the k-th largest.
    let mut order: Vec<usize> = (0..scaled.len()).collect();
    order.sort_by(|&a, &b| scaled[b].total_cmp(&scaled[a]).then(a.cmp(&b)));
    if params.top_k > 0 && params.top_k < order.len() {
        let threshold = scaled[order[params.top_k - 1]];
        order.retain(|&i| scaled[i] >= threshold);
    }
    // Softmax over what is left, then top-p in descending order: keep a token while the mass
    // before it is below p.
    let max = scaled[order[0]];
    let weights: Vec<f64> = order.iter().map(|&i| (scaled[i] - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut kept = 0;
    let mut before = 0.0;
    for w in &weights {
        if kept > 0 && before >= params.top_p * total {
            break;
        }
        before += w;
        kept += 1;
    }
    let kept_total: f64 = weights[..kept].iter().sum();
    let mut target = draw * kept_total;
    for (i, w) in weights[..kept].iter().enumerate() {
        if target < *w {
            return order[i] as u32;
        }
        target -= w;
    }
    // Rounding left the draw past the last kept token.
    order[kept - 1] as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: SamplingParams = SamplingParams {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
    };

    #[test]
    fn draws_split_in_proportion_to_the_probabilities() {
        // ln 3 vs 0: probabilities 3/4 and 1/4.
        let logits = [3f32.ln(), 0.0];
        assert_eq!(sample(&logits, &ALL, 2, 0.74), 0);
        assert_eq!(sample(&logits, &ALL, 2, 0.76), 1);
    }

    #[test]
    fn top_k_and_top_p_keep_the_likeliest() {
        let logits = [0.0f32, 5.0, 1.0, 4.0, 3.0];
        let top2 = SamplingParams { top_k: 2, ..ALL };
        for i in 0..100 {
            let t = sample(&logits, &top2, 5, f64::from(i) / 100.0);
            assert!(t == 1 || t == 3, "{t}");
        }
        // p(5) ≈ 0.64, p(4) ≈ 0.24: p = 0.5 keeps only the first, p = 0.7 the first two.
        let p50 = SamplingParams { top_p: 0.5, ..ALL };
        assert!((0..100).all(|i| sample(&logits, &p50, 5, f64::from(i) / 100.0) == 1));
        let p70 = SamplingParams { top_p: 0.7, ..ALL };
        let seen: std::collections::BTreeSet<u32> = (0..100)
            .map(|i| sample(&logits, &p70, 5, f64::from(i) / 100.0))
            .collect();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn ids_past_the_limit_are_never_drawn_and_temperature_sharpens() {
        let logits = [0.0f32, 1.0, 50.0];
        assert!((0..100).all(|i| sample(&logits, &ALL, 2, f64::from(i) / 100.0) < 2));
        let cold = SamplingParams {
            temperature: 0.01,
            ..ALL
        };
        assert!((0..100).all(|i| sample(&logits, &cold, 2, f64::from(i) / 100.0) == 1));
    }

    #[test]
    fn bad_settings_are_refused() {
        for params in [
            SamplingParams {
                temperature: 0.0,
                ..ALL
            },
            SamplingParams {
                temperature: f64::NAN,
                ..ALL
            },
            SamplingParams { top_p: 0.0, ..ALL },
            SamplingParams { top_p: 1.5, ..ALL },
        ] {
            assert!(params.validate().is_err(), "{params:?}");
        }
        SamplingParams::DEFAULT.validate().unwrap();
    }
}
