//! The seeded stratified held-out split: the same share of every class is held out, chosen by a
//! seeded shuffle, so reruns with the same seed split alike.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Indices of the training and held-out items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Items to fit on, in dataset order.
    pub train: Vec<usize>,
    /// Items to judge on, in dataset order.
    pub held_out: Vec<usize>,
}

/// Splits items by label: from every class, round(share × count) items (at least one, and at
/// least one left for training when the class has two or more) are held out.
pub fn stratified(labels: &[usize], classes: usize, share: f64, seed: u64) -> Split {
    let mut train = Vec::new();
    let mut held_out = Vec::new();
    for class in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        let mut rng =
            StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ class as u64);
        members.shuffle(&mut rng);
        let count = members.len();
        let take = ((share * count as f64).round() as usize)
            .max(1)
            .min(count.saturating_sub(1));
        held_out.extend_from_slice(&members[..take]);
        train.extend_from_slice(&members[take..]);
    }
    train.sort_unstable();
    held_out.sort_unstable();
    Split { train, held_out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_is_split_in_proportion_and_reproducibly() {
        let labels: Vec<usize> = (0..50).map(|i| i % 5).collect();
        let split = stratified(&labels, 5, 0.2, 3);
        assert_eq!(split.held_out.len(), 10);
        assert_eq!(split.train.len(), 40);
        for class in 0..5 {
            assert_eq!(
                split
                    .held_out
                    .iter()
                    .filter(|&&i| labels[i] == class)
                    .count(),
                2
            );
        }
        assert_eq!(split, stratified(&labels, 5, 0.2, 3));
        assert_ne!(split, stratified(&labels, 5, 0.2, 4));
        let mut all: Vec<usize> = split.train.iter().chain(&split.held_out).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn small_classes_keep_one_on_each_side() {
        let labels = [0, 0, 1, 1, 1, 1];
        let split = stratified(&labels, 2, 0.01, 0);
        assert_eq!(split.held_out.len(), 2);
        let split = stratified(&labels, 2, 0.99, 0);
        assert_eq!(split.train.len(), 2);
    }
}
