//! numpy's legacy `np.random.RandomState`, as far as the Inception Score needs it: the MT19937
//! generator seeded as `RandomState(seed)` seeds it, and `permutation(n)` drawing exactly the
//! numbers numpy draws, so that audioldm_eval's shuffled splits are the same rows.
//!
//! What numpy does, and this module with it:
//! - `RandomState(seed)` with an integer seed in 0..2³² runs MT19937's `init_genrand(seed)`; with
//!   a sequence of integers it runs `init_by_array` over them (each taken as a 32-bit word).
//! - `permutation(n)` is `shuffle(arange(n))`: for i = n−1 down to 1, j is drawn uniformly in
//!   0..=i and items i and j are swapped.
//! - The draw in 0..=i is the legacy one (`random_interval`): the smallest all-ones bit mask ≥ i,
//!   and 32-bit outputs (64-bit ones for i ≥ 2³², joined high word first) masked with it until one
//!   is ≤ i.

/// MT19937's state length in 32-bit words.
const STATE_WORDS: usize = 624;
/// MT19937's middle offset.
const SHIFT: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// numpy's legacy random state: one MT19937 stream.
#[derive(Clone)]
pub struct RandomState {
    key: [u32; STATE_WORDS],
    position: usize,
}

impl RandomState {
    /// `np.random.RandomState(seed)` for an integer seed (MT19937's `init_genrand`).
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; STATE_WORDS];
        key[0] = seed;
        for i in 1..STATE_WORDS {
            let previous = key[i - 1];
            key[i] = 1_812_433_253u32
                .wrapping_mul(previous ^ (previous >> 30))
                .wrapping_add(i as u32);
        }
        Self {
            key,
            position: STATE_WORDS,
        }
    }

    /// `np.random.RandomState([w₀, w₁, …])` for a sequence seed (MT19937's `init_by_array`).
    pub fn from_words(words: &[u32]) -> Self {
        let mut state = Self::new(19_650_218);
        let key = &mut state.key;
        let length = words.len().max(1);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..STATE_WORDS.max(words.len()) {
            let previous = key[i - 1];
            key[i] = (key[i] ^ (previous ^ (previous >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(words.get(j).copied().unwrap_or(0))
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= STATE_WORDS {
                key[0] = key[STATE_WORDS - 1];
                i = 1;
            }
            if j >= length {
                j = 0;
            }
        }
        for _ in 0..STATE_WORDS - 1 {
            let previous = key[i - 1];
            key[i] = (key[i] ^ (previous ^ (previous >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= STATE_WORDS {
                key[0] = key[STATE_WORDS - 1];
                i = 1;
            }
        }
        key[0] = 0x8000_0000;
        state.position = STATE_WORDS;
        state
    }

    /// The next 32-bit output (MT19937's `genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.position >= STATE_WORDS {
            self.regenerate();
        }
        let mut y = self.key[self.position];
        self.position += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// The next 64-bit output: two 32-bit ones, the first as the high word (numpy's
    /// `mt19937_next64`).
    pub fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.next_u32());
        (high << 32) | u64::from(self.next_u32())
    }

    /// A uniform integer in `0..=max`, drawn as numpy's legacy `random_interval` draws it.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u64::from(u32::MAX) {
            loop {
                let value = u64::from(self.next_u32()) & mask;
                if value <= max {
                    return value;
                }
            }
        }
        loop {
            let value = self.next_u64() & mask;
            if value <= max {
                return value;
            }
        }
    }

    /// `RandomState.permutation(n)`: 0..n shuffled as numpy's legacy `shuffle` does.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut items: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u64) as usize;
            items.swap(i, j);
        }
        items
    }

    /// Refills the state with the next 624 words (MT19937's twist).
    fn regenerate(&mut self) {
        let key = &mut self.key;
        for i in 0..STATE_WORDS {
            let y = (key[i] & UPPER_MASK) | (key[(i + 1) % STATE_WORDS] & LOWER_MASK);
            let mut next = key[(i + SHIFT) % STATE_WORDS] ^ (y >> 1);
            if y & 1 == 1 {
                next ^= MATRIX_A;
            }
            key[i] = next;
        }
        self.position = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_mt19937_outputs() {
        // The first outputs of the reference MT19937 (init_genrand(5489)), as every
        // implementation documents them.
        let mut state = RandomState::new(5489);
        let first: Vec<u32> = (0..3).map(|_| state.next_u32()).collect();
        assert_eq!(first, [3_499_211_612, 581_869_302, 3_890_346_734]);
        // mt19937ar.c's own test vector: init_by_array({0x123, 0x234, 0x345, 0x456}).
        let mut state = RandomState::from_words(&[0x123, 0x234, 0x345, 0x456]);
        let first: Vec<u32> = (0..3).map(|_| state.next_u32()).collect();
        assert_eq!(first, [1_067_595_299, 955_945_823, 477_289_528]);
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut items = RandomState::new(2020).permutation(100);
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
        assert!(RandomState::new(1).permutation(0).is_empty());
        assert_eq!(RandomState::new(1).permutation(1), [0]);
    }
}
