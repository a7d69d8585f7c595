//! The packed q4_K product on CPUs with AVX2, FMA and F16C but no VNNI: `vpmaddubsw` multiplies
//! weight nibbles by activation bytes into 16-bit pairs, which stay exact summed over a whole
//! 32-weight subblock (at most 4 · 2 · 2 · 15 · 127 = 30,480), then one `vpmaddwd` against the
//! rows' 6-bit scales widens and scales them at once; the mins' term takes one `vpmaddwd` for two
//! subblocks. Sixteen rows are two registers of eight, both halves of a tile done before the next
//! tile, so the weights stream from memory without a second pass.

use std::arch::x86_64::*;

use super::{ActBlock, PASS_ROWS, ROWS, SUB, SUBS, SUPER, Tile};

/// Four activation bytes broadcast to every 32-bit lane.
#[inline(always)]
pub(super) unsafe fn broadcast4(qs: &[i8], at: usize) -> __m256i {
    // SAFETY: callers pass `at + 4 <= qs.len()`.
    unsafe { _mm256_set1_epi32(std::ptr::read_unaligned(qs.as_ptr().add(at) as *const i32)) }
}

/// Horizontal maximum of eight f32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn max8(v: __m256) -> f32 {
    let half = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let quarter = _mm_max_ps(half, _mm_movehl_ps(half, half));
    let one = _mm_max_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1));
    _mm_cvtss_f32(one)
}

/// Horizontal sum of eight i32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn sum8(v: __m256i) -> i32 {
    let half = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    let quarter = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0b01_00_11_10));
    let one = _mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, 0b10_11_00_01));
    _mm_cvtsi128_si32(one)
}

/// Eight values of `chunk` from `at`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load8(chunk: &[f32], at: usize) -> __m256 {
    // SAFETY: callers pass `at + 8 <= chunk.len()`.
    unsafe { _mm256_loadu_ps(chunk.as_ptr().add(at)) }
}

/// Quantizes 256 values symmetrically: `d = max|x| / 127`, `q = round(x / d)` (ties to even),
/// as the AVX-512 version does.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn quantize(chunk: &[f32], block: &mut ActBlock) {
    assert_eq!(chunk.len(), SUPER);
    let sign = _mm256_set1_ps(-0.0);
    let mut peak = _mm256_setzero_ps();
    for at in (0..SUPER).step_by(8) {
        // SAFETY: `at + 8 <= 256`.
        peak = _mm256_max_ps(peak, _mm256_andnot_ps(sign, unsafe { load8(chunk, at) }));
    }
    let amax = max8(peak);
    block.d = amax / 127.0;
    if amax == 0.0 {
        block.qs = [0; SUPER];
        block.sums = [0; SUBS];
        return;
    }
    let inverse = _mm256_set1_ps(127.0 / amax);
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (j, sum) in block.sums.iter_mut().enumerate() {
        let at = SUB * j;
        // SAFETY: 32 values from `32j`, inside the 256.
        let (q0, q1, q2, q3) = unsafe {
            (
                _mm256_cvtps_epi32(_mm256_mul_ps(load8(chunk, at), inverse)),
                _mm256_cvtps_epi32(_mm256_mul_ps(load8(chunk, at + 8), inverse)),
                _mm256_cvtps_epi32(_mm256_mul_ps(load8(chunk, at + 16), inverse)),
                _mm256_cvtps_epi32(_mm256_mul_ps(load8(chunk, at + 24), inverse)),
            )
        };
        // i32 → i16 → i8 with saturation; the packs work per 128-bit lane, so the four-byte
        // groups come out as q0 q1 q2 q3 (low halves), then the high halves, and a permute puts
        // them back in order.
        let bytes = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
        let ordered = _mm256_permutevar8x32_epi32(bytes, order);
        // SAFETY: 32 bytes at `32j`, inside the 256.
        unsafe { _mm256_storeu_si256(block.qs.as_mut_ptr().add(at) as *mut _, ordered) };
        *sum = sum8(_mm256_add_epi32(
            _mm256_add_epi32(q0, q1),
            _mm256_add_epi32(q2, q3),
        ));
    }
}

/// Eight rows' bytes of two 16-byte rows (`a` and `b`, from `at`) interleaved and widened: each
/// 32-bit lane holds row r's `a` and `b` as two 16-bit values, the operand `vpmaddwd` pairs with
/// two 16-bit sums.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn pairs8(a: &[u8; ROWS], b: &[u8; ROWS], at: usize) -> __m256i {
    // SAFETY: callers pass `at` 0 or 8: 8 bytes of each 16-byte row.
    unsafe {
        _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(
            _mm_loadl_epi64(a.as_ptr().add(at) as *const _),
            _mm_loadl_epi64(b.as_ptr().add(at) as *const _),
        ))
    }
}

/// Ends one tile half: adds its scaled sums and its mins' term (two subblocks a `vpmaddwd`:
/// min_j · sum_j + min_j+1 · sum_j+1), in f32 with the rows' and activations' scales, to `total`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn finish_half<const M: usize>(
    tile: &Tile,
    half: usize,
    acts: &[&[ActBlock]; PASS_ROWS],
    b: usize,
    scaled: &[__m256i; M],
    total: &mut [__m256; M],
) {
    let mut mins = [_mm256_setzero_si256(); M];
    for k in 0..SUBS / 2 {
        // SAFETY: 8 bytes from 0 or 8 of 16.
        let min = unsafe { pairs8(&tile.mins[2 * k], &tile.mins[2 * k + 1], 8 * half) };
        for i in 0..M {
            let sums = _mm256_set1_epi32(acts[i][b].pair_sums[k]);
            mins[i] = _mm256_add_epi32(mins[i], _mm256_madd_epi16(min, sums));
        }
    }
    // SAFETY: 8 f16 values each.
    let (d, dmin) = unsafe {
        (
            _mm256_cvtph_ps(_mm_loadu_si128(tile.d.as_ptr().add(8 * half) as *const _)),
            _mm256_cvtph_ps(_mm_loadu_si128(tile.dmin.as_ptr().add(8 * half) as *const _)),
        )
    };
    for i in 0..M {
        let da = _mm256_set1_ps(acts[i][b].d);
        total[i] = _mm256_fmadd_ps(
            _mm256_cvtepi32_ps(scaled[i]),
            _mm256_mul_ps(d, da),
            total[i],
        );
        total[i] = _mm256_fnmadd_ps(
            _mm256_cvtepi32_ps(mins[i]),
            _mm256_mul_ps(dmin, da),
            total[i],
        );
    }
}

/// Sums of sixteen weight rows (one tile row) with `M` activation rows, over all blocks.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn product<const M: usize>(
    tiles: &[Tile],
    acts: &[&[ActBlock]; PASS_ROWS],
    sums: &mut [[f32; ROWS]; PASS_ROWS],
) {
    let nibbles = _mm256_set1_epi8(0x0F);
    // Rows 0–7 and 8–15 of each tile in turn, so the weights stream from memory steadily.
    let mut total = [[_mm256_setzero_ps(); M]; 2];
    for (b, tile) in tiles.iter().enumerate() {
        for (half, total) in total.iter_mut().enumerate() {
            let mut scaled = [_mm256_setzero_si256(); M];
            for j in 0..SUBS {
                // Each row's scale twice, so `vpmaddwd` scales both 16-bit sums of its lane.
                // SAFETY: 8 bytes from 0 or 8 of 16.
                let scale = unsafe { pairs8(&tile.scales[j], &tile.scales[j], 8 * half) };
                let mut pairs = [_mm256_setzero_si256(); M];
                for p in 0..4 {
                    // SAFETY: 32 bytes of a 64-byte group.
                    let raw = unsafe {
                        _mm256_loadu_si256(tile.qs[j][p].as_ptr().add(32 * half) as *const _)
                    };
                    let low = _mm256_and_si256(raw, nibbles);
                    let high = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibbles);
                    for i in 0..M {
                        let qs = &acts[i][b].qs;
                        // SAFETY: offsets below 256 − 4.
                        unsafe {
                            pairs[i] = _mm256_add_epi16(
                                pairs[i],
                                _mm256_maddubs_epi16(low, broadcast4(qs, 32 * j + 4 * p)),
                            );
                            pairs[i] = _mm256_add_epi16(
                                pairs[i],
                                _mm256_maddubs_epi16(high, broadcast4(qs, 32 * j + 16 + 4 * p)),
                            );
                        }
                    }
                }
                for i in 0..M {
                    scaled[i] = _mm256_add_epi32(scaled[i], _mm256_madd_epi16(pairs[i], scale));
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
