//! The packed q4_K product with 256-bit `vpdpbusd`: four weights of eight rows times four
//! activation bytes in one instruction, on CPUs with AVX-VNNI (Intel client parts from Alder
//! Lake, which lack AVX-512) or with AVX-512 VNNI and VL (the same instruction, EVEX-encoded).
//! One body, written once as a macro, becomes both functions; the activations are quantized, and
//! a tile half's mins' term and f32 scaling done, as in [`super::avx2`].

use std::arch::x86_64::*;

use super::avx2::{broadcast4, finish_half};
use super::{ActBlock, PASS_ROWS, ROWS, SUBS, Tile};

/// The product for one encoding of `vpdpbusd` (`$dot`), under `$features`.
macro_rules! vnni256_product {
    ($(#[$doc:meta])* $name:ident, $features:literal, $dot:ident) => {
        $(#[$doc])*
        #[target_feature(enable = $features)]
        pub(super) unsafe fn $name<const M: usize>(
            tiles: &[Tile],
            acts: &[&[ActBlock]; PASS_ROWS],
            sums: &mut [[f32; ROWS]; PASS_ROWS],
        ) {
            let nibbles = _mm256_set1_epi8(0x0F);
            // Rows 0–7 and 8–15 of each tile in turn, as in the AVX2 product.
            let mut total = [[_mm256_setzero_ps(); M]; 2];
            for (b, tile) in tiles.iter().enumerate() {
                for (half, total) in total.iter_mut().enumerate() {
                    let mut scaled = [_mm256_setzero_si256(); M];
                    for j in 0..SUBS {
                        // SAFETY: 8 bytes of a 16-byte scale row.
                        let scale = unsafe {
                            _mm256_cvtepu8_epi32(_mm_loadl_epi64(
                                tile.scales[j].as_ptr().add(8 * half) as *const _,
                            ))
                        };
                        let mut dot = [_mm256_setzero_si256(); M];
                        for p in 0..4 {
                            // SAFETY: 32 bytes of a 64-byte group.
                            let raw = unsafe {
                                _mm256_loadu_si256(
                                    tile.qs[j][p].as_ptr().add(32 * half) as *const _
                                )
                            };
                            let low = _mm256_and_si256(raw, nibbles);
                            let high = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibbles);
                            for i in 0..M {
                                let qs = &acts[i][b].qs;
                                // SAFETY: offsets below 256 − 4.
                                unsafe {
                                    dot[i] = $dot(dot[i], low, broadcast4(qs, 32 * j + 4 * p));
                                    dot[i] =
                                        $dot(dot[i], high, broadcast4(qs, 32 * j + 16 + 4 * p));
                                }
                            }
                        }
                        for i in 0..M {
                            scaled[i] =
                                _mm256_add_epi32(scaled[i], _mm256_mullo_epi32(dot[i], scale));
                        }
                    }
                    // SAFETY: `half` is 0 or 1.
                    unsafe { finish_half(tile, half, acts, b, &scaled, total) };
                }
            }
            for (half, total) in total.iter().enumerate() {
                for i in 0..M {
                    // SAFETY: 8 f32 values.
                    unsafe { _mm256_storeu_ps(sums[i].as_mut_ptr().add(8 * half), total[i]) };
                }
            }
        }
    };
}

vnni256_product!(
    /// Sums of sixteen weight rows with `M` activation rows, with AVX-VNNI's VEX `vpdpbusd`.
    product_vex,
    "avx2,fma,f16c,avxvnni",
    _mm256_dpbusd_avx_epi32
);

vnni256_product!(
    /// The same with AVX-512 VNNI's 256-bit EVEX `vpdpbusd`.
    product_evex,
    "avx2,fma,f16c,avx512vnni,avx512vl",
    _mm256_dpbusd_epi32
);

/// Whether this CPU has the VEX encoding (else it runs [`product_evex`]).
pub(super) fn has_vex() -> bool {
    std::arch::is_x86_feature_detected!("avxvnni")
}
