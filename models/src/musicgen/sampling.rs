//! Choosing each codebook's next token from its logits: greedy (argmax), or top-k sampling with a
//! temperature from a seeded generator, so the same seed gives the same music.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How tokens are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// The most likely token.
    Greedy,
    /// Among the `top_k` most likely tokens, in proportion to `softmax(logits / temperature)`.
    TopK { top_k: usize, temperature: f64 },
}

impl Sampling {
    /// The paper's (and MusicGen's) defaults: top-k 250, temperature 1.
    pub const DEFAULT: Sampling = Sampling::TopK {
        top_k: 250,
        temperature: 1.0,
    };
}

/// A token chooser with its own random generator.
#[derive(Debug, Clone)]
pub struct Sampler {
    sampling: Sampling,
    rng: StdRng,
}

impl Sampler {
    /// A chooser seeded with `seed`.
    pub fn new(sampling: Sampling, seed: u64) -> Self {
        Self {
            sampling,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Chooses a token index from logits.
    pub fn choose(&mut self, logits: &[f32]) -> u32 {
        match self.sampling {
            Sampling::Greedy => argmax(logits),
            Sampling::TopK { top_k, temperature } => {
                let draw = self.rng.random::<f64>();
                sample_top_k(logits, top_k, temperature, draw)
            }
        }
    }
}

/// The index of the largest value (the first one on ties, as torch's argmax).
pub fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Top-k sampling with a uniform draw in [0, 1): values below the k-th largest are dropped
/// (ties with it are kept, as transformers' `TopKLogitsWarper` does), the rest weighted by
/// `exp((v − max) / temperature)`.
pub fn sample_top_k(logits: &[f32], top_k: usize, temperature: f64, draw: f64) -> u32 {
    let k = top_k.clamp(1, logits.len());
    let mut sorted: Vec<f32> = logits.to_vec();
    let (_, kth, _) = sorted.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let threshold = *kth;
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&v| {
            if v >= threshold {
                (f64::from(v - max) / temperature).exp()
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut target = draw * total;
    for (i, w) in weights.iter().enumerate() {
        if *w > 0.0 {
            if target < *w {
                return i as u32;
            }
            target -= w;
        }
    }
    // Rounding left the draw past the last kept token: take the last kept one.
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(argmax(&[0.0, 3.0, 3.0, -1.0]), 1);
    }

    #[test]
    fn top_k_keeps_only_the_k_largest() {
        let logits = [0.0, 5.0, 1.0, 4.0, 3.0];
        for i in 0..100 {
            let token = sample_top_k(&logits, 2, 1.0, i as f64 / 100.0);
            assert!(token == 1 || token == 3, "{token}");
        }
        // With k = 1 sampling is greedy.
        assert_eq!(sample_top_k(&logits, 1, 1.0, 0.999), 1);
    }

    #[test]
    fn draws_split_in_proportion_to_the_weights() {
        // Two tokens of equal logit: the lower half of draws picks the first.
        let logits = [2.0, 2.0, -50.0];
        assert_eq!(sample_top_k(&logits, 3, 1.0, 0.49), 0);
        assert_eq!(sample_top_k(&logits, 3, 1.0, 0.51), 1);
    }

    #[test]
    fn low_temperature_approaches_greedy_and_seeds_repeat() {
        let logits = [1.0, 1.5, 0.5];
        let mut cold = Sampler::new(
            Sampling::TopK {
                top_k: 3,
                temperature: 0.01,
            },
            1,
        );
        assert!((0..50).all(|_| cold.choose(&logits) == 1));
        let sampling = Sampling::TopK {
            top_k: 3,
            temperature: 1.0,
        };
        let (mut a, mut b) = (Sampler::new(sampling, 7), Sampler::new(sampling, 7));
        let xs: Vec<u32> = (0..32).map(|_| a.choose(&logits)).collect();
        let ys: Vec<u32> = (0..32).map(|_| b.choose(&logits)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|&t| t != 1), "sampling varies");
    }
}
