//! The packed q4_K product on CPUs with AVX-512 F, BW and VNNI: one `vpdpbusd` multiplies four
//! weights of all sixteen rows by four activation bytes.

use std::arch::x86_64::*;

use super::{ActBlock, PASS_ROWS, ROWS, SUB, SUBS, SUPER, Tile};

/// Four activation bytes broadcast to every lane.
#[inline(always)]
unsafe fn broadcast4(qs: &[i8], at: usize) -> __m512i {
    // SAFETY: callers pass `at + 4 <= qs.len()`.
    unsafe { _mm512_set1_epi32(std::ptr::read_unaligned(qs.as_ptr().add(at) as *const i32)) }
}

/// Quantizes 256 values symmetrically: `d = max|x| / 127`, `q = round(x / d)` (ties to even).
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn quantize(chunk: &[f32], block: &mut ActBlock) {
    assert_eq!(chunk.len(), SUPER);
    let load = |at: usize| {
        // SAFETY: `at + 16 <= 256` values.
        unsafe { _mm512_loadu_ps(chunk.as_ptr().add(at)) }
    };
    let mut peak = _mm512_setzero_ps();
    for at in (0..SUPER).step_by(16) {
        peak = _mm512_max_ps(peak, _mm512_abs_ps(load(at)));
    }
    let amax = _mm512_reduce_max_ps(peak);
    block.d = amax / 127.0;
    if amax == 0.0 {
        block.qs = [0; SUPER];
        block.sums = [0; SUBS];
        return;
    }
    let inverse = _mm512_set1_ps(127.0 / amax);
    for (j, sum) in block.sums.iter_mut().enumerate() {
        let low = _mm512_cvtps_epi32(_mm512_mul_ps(load(SUB * j), inverse));
        let high = _mm512_cvtps_epi32(_mm512_mul_ps(load(SUB * j + 16), inverse));
        // SAFETY: 16 bytes at `32j` and at `32j + 16`, inside the 256.
        unsafe {
            let at = block.qs.as_mut_ptr().add(SUB * j);
            _mm_storeu_si128(at as *mut _, _mm512_cvtsepi32_epi8(low));
            _mm_storeu_si128(at.add(16) as *mut _, _mm512_cvtsepi32_epi8(high));
        }
        *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(low, high));
    }
}

/// Sums of sixteen weight rows (one tile row) with `M` activation rows, over all blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn product<const M: usize>(
    tiles: &[Tile],
    acts: &[&[ActBlock]; PASS_ROWS],
    sums: &mut [[f32; ROWS]; PASS_ROWS],
) {
    let nibbles = _mm512_set1_epi8(0x0F);
    let mut total = [_mm512_setzero_ps(); M];
    for (b, tile) in tiles.iter().enumerate() {
        let mut scaled = [_mm512_setzero_si512(); M];
        let mut mins = [_mm512_setzero_si512(); M];
        for j in 0..SUBS {
            // SAFETY: 16 bytes of each 16-byte scale and min row.
            let (scale, min) = unsafe {
                (
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(tile.scales[j].as_ptr() as *const _)),
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(tile.mins[j].as_ptr() as *const _)),
                )
            };
            let mut dot = [_mm512_setzero_si512(); M];
            for p in 0..4 {
                // SAFETY: 64 bytes of a 64-byte group.
                let raw = unsafe { _mm512_loadu_si512(tile.qs[j][p].as_ptr() as *const _) };
                let low = _mm512_and_si512(raw, nibbles);
                let high = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibbles);
                for i in 0..M {
                    let qs = &acts[i][b].qs;
                    // SAFETY: offsets below 256 − 4.
                    unsafe {
                        dot[i] = _mm512_dpbusd_epi32(dot[i], low, broadcast4(qs, 32 * j + 4 * p));
                        dot[i] =
                            _mm512_dpbusd_epi32(dot[i], high, broadcast4(qs, 32 * j + 16 + 4 * p));
                    }
                }
            }
            for i in 0..M {
                scaled[i] = _mm512_add_epi32(scaled[i], _mm512_mullo_epi32(dot[i], scale));
                let sum = _mm512_set1_epi32(acts[i][b].sums[j]);
                mins[i] = _mm512_add_epi32(mins[i], _mm512_mullo_epi32(min, sum));
            }
        }
        // SAFETY: 16 f16 values each.
        let (d, dmin) = unsafe {
            (
                _mm512_cvtph_ps(_mm256_loadu_si256(tile.d.as_ptr() as *const _)),
                _mm512_cvtph_ps(_mm256_loadu_si256(tile.dmin.as_ptr() as *const _)),
            )
        };
        for i in 0..M {
            let da = _mm512_set1_ps(acts[i][b].d);
            total[i] = _mm512_fmadd_ps(
                _mm512_cvtepi32_ps(scaled[i]),
                _mm512_mul_ps(d, da),
                total[i],
            );
            total[i] = _mm512_fnmadd_ps(
                _mm512_cvtepi32_ps(mins[i]),
                _mm512_mul_ps(dmin, da),
                total[i],
            );
        }
    }
    for i in 0..M {
        // SAFETY: 16 f32 values.
        unsafe { _mm512_storeu_ps(sums[i].as_mut_ptr(), total[i]) };
    }
}
