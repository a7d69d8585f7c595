//! ALiBi (Press et al., "Train Short, Test Long", 2022) as Falcon-RW applies it: each head adds
//! `slope × key position` to its attention scores, the key position counted over the real
//! (unpadded) tokens of the row. Follows transformers' `build_alibi_tensor`: the slope formula of
//! the original implementation, interleaved for head counts that are not a power of two
//! (REFERENCE-NOTES trap 14), and the product computed in bf16 as the reference does (trap 1):
//! slope and position are both rounded to bf16 (so position 257 counts as 256) and so is their
//! product.

use half::bf16;

/// The slope of each head: for the largest power of two `n ≤ heads`, `2^(-8i/n)` for
/// i = 1..=n, then for the remaining heads every other slope of the `2n` sequence
/// (`2^(-4i/n)` for odd i).
pub fn slopes(heads: usize) -> Vec<f32> {
    if heads == 0 {
        return Vec::new();
    }
    let closest = 1usize << heads.ilog2();
    let base = |n: usize| -> f32 { 2f64.powf(-(2f64.powf(-((n as f64).log2() - 3.0)))) as f32 };
    let pow = |base: f32, power: usize| (f64::from(base).powi(power as i32)) as f32;
    let first = base(closest);
    let mut slopes: Vec<f32> = (1..=closest).map(|i| pow(first, i)).collect();
    if closest != heads {
        let extra = base(2 * closest);
        let remaining = (heads - closest).min(closest);
        slopes.extend((0..remaining).map(|i| pow(extra, 2 * i + 1)));
    }
    slopes
}

/// The bias one head adds for a key at `position`: `bf16(bf16(slope) × bf16(position))`, as
/// transformers computes it (a bf16 tensor times an integer tensor is a bf16 product), before
/// the division by √head_dim.
pub fn bias(slope: f32, position: u32) -> f32 {
    let slope = bf16::from_f32(slope);
    let position = bf16::from_f32(position as f32);
    (slope * position).to_f32()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_follow_the_geometric_sequence() {
        let s = slopes(8);
        for (i, slope) in s.iter().enumerate() {
            assert!((slope - 2f32.powi(-(i as i32 + 1))).abs() < 1e-7);
        }
        assert_eq!(slopes(1), [2f32.powi(-8)]);
    }

    #[test]
    fn other_head_counts_interleave_the_next_power() {
        // 6 heads: the 4-head slopes 2^-2, 2^-4, 2^-6, 2^-8, then 2^-1 and 2^-3 from the 8-head set.
        let s = slopes(6);
        let want = [-2, -4, -6, -8, -1, -3].map(|e| 2f32.powi(e));
        for (got, want) in s.iter().zip(want) {
            assert!((got - want).abs() < 1e-7, "{s:?}");
        }
    }

    #[test]
    fn the_product_is_computed_in_bf16() {
        // 2^-0.25 rounds to 0.83984375 in bf16; × 1000 = 839.84375, which bf16 holds as 840.
        let slope = 2f32.powf(-0.25);
        assert_eq!(bias(slope, 1), 0.839_843_75);
        assert_eq!(bias(slope, 1000), 840.0);
        assert_eq!(bias(slope, 0), 0.0);
        // 257 is 256 in bf16: 2^-0.5 → 0.70703125, × 256 = 181 exactly.
        assert_eq!(bias(0.5f32.sqrt(), 257), 181.0);
    }
}
