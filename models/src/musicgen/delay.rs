//! MusicGen's delay pattern: codebook k runs k steps behind codebook 0, so that each step's
//! tokens can depend on the coarser codebooks of the same audio frame. Position 0 holds the start
//! token of every codebook; codebook k holds frame f at position k + 1 + f; every other position
//! is the pad id, which is also what the decoder is fed there (as transformers does).

/// The pattern for one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayPattern {
    /// Codebooks (4 in MusicGen).
    pub codebooks: usize,
    /// Audio frames wanted after the delay is undone.
    pub frames: usize,
}

impl DelayPattern {
    /// Decoder steps needed: one per frame plus the delay of the last codebook.
    pub fn steps(&self) -> usize {
        self.frames + self.codebooks - 1
    }

    /// Whether codebook `k` holds the pad id at `position` (0 is the start token).
    pub fn is_pad(&self, k: usize, position: usize) -> bool {
        position <= k || position > k + self.frames
    }

    /// The frame that codebook `k` holds at `position`, if it holds one.
    pub fn frame_at(&self, k: usize, position: usize) -> Option<usize> {
        (!self.is_pad(k, position)).then(|| position - k - 1)
    }

    /// The frame completed by writing `position` (the last codebook reaching it), if any.
    pub fn completed_frame(&self, position: usize) -> Option<usize> {
        self.frame_at(self.codebooks - 1, position)
    }

    /// Codebook k's position for frame f.
    pub fn position(&self, k: usize, frame: usize) -> usize {
        k + 1 + frame
    }

    /// Undoes the delay: `sequences[k]` are codebook k's tokens from position 0; returns
    /// `codes[k][f]` for every complete frame.
    pub fn revert(&self, sequences: &[Vec<u32>]) -> Vec<Vec<u32>> {
        sequences
            .iter()
            .enumerate()
            .map(|(k, seq)| {
                (0..self.frames)
                    .map_while(|f| seq.get(self.position(k, f)).copied())
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_transformers_pattern_for_four_codebooks() {
        // transformers' mask for max_new_tokens = 16 (13 frames): codebook k is forced to pad
        // where t <= k or t >= 14 + k.
        let pattern = DelayPattern {
            codebooks: 4,
            frames: 13,
        };
        assert_eq!(pattern.steps(), 16);
        for k in 0..4 {
            for t in 0..=16 {
                assert_eq!(pattern.is_pad(k, t), t <= k || t >= 14 + k, "k={k} t={t}");
            }
        }
        assert_eq!(pattern.completed_frame(3), None);
        assert_eq!(pattern.completed_frame(4), Some(0));
        assert_eq!(pattern.completed_frame(16), Some(12));
    }

    #[test]
    fn revert_reads_each_codebook_shifted_by_its_delay() {
        let pattern = DelayPattern {
            codebooks: 2,
            frames: 3,
        };
        let pad = 9;
        let sequences = vec![vec![pad, 1, 2, 3, pad], vec![pad, pad, 11, 12, 13]];
        assert_eq!(
            pattern.revert(&sequences),
            vec![vec![1, 2, 3], vec![11, 12, 13]]
        );
    }
}
