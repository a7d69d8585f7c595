//! Accuracy and the confusion matrix over the five emotions.

use std::fmt;

use ekphrasis_shared::domain::Emotion;

/// Counts of (true emotion, predicted emotion) pairs, rows true, columns predicted, both in
/// `Emotion::ALL` order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    /// `counts[truth][prediction]`.
    pub counts: [[usize; 5]; 5],
}

impl Confusion {
    /// Tallies predictions against labels.
    pub fn from_predictions(labels: &[usize], predictions: &[usize]) -> Self {
        let mut counts = [[0; 5]; 5];
        for (&truth, &guess) in labels.iter().zip(predictions) {
            if truth < 5 && guess < 5 {
                counts[truth][guess] += 1;
            }
        }
        Self { counts }
    }

    /// The share of items on the diagonal (0 when there are none).
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().flatten().sum();
        let right: usize = (0..5).map(|i| self.counts[i][i]).sum();
        if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        }
    }
}

impl fmt::Display for Confusion {
    /// A table: one row per true emotion, one column per predicted emotion.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>12}", "true \\ pred")?;
        for emotion in Emotion::ALL {
            write!(f, "{:>9}", emotion.as_str())?;
        }
        writeln!(f)?;
        for (row, emotion) in self.counts.iter().zip(Emotion::ALL) {
            write!(f, "{:>12}", emotion.as_str())?;
            for count in row {
                write!(f, "{count:>9}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_accuracy() {
        let c = Confusion::from_predictions(&[0, 1, 2, 2], &[0, 2, 2, 2]);
        assert_eq!(c.counts[1][2], 1);
        assert_eq!(c.counts[2][2], 2);
        assert!((c.accuracy() - 0.75).abs() < 1e-12);
        assert!(c.to_string().contains("neutral"));
        assert_eq!(Confusion::default().accuracy(), 0.0);
    }
}
