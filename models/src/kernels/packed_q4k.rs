//! q4_K weights repacked sixteen output rows at a time for the product with a few activation rows
//! that a decoder step needs, on CPUs with AVX-512 VNNI. The quantization is ggml's q4_K as
//! candle makes it (`w = d·scale·q − dmin·min` per 32 weights, q in 0..15); only the layout
//! changes, so that one `vpdpbusd` multiplies four weights of sixteen rows at once and the scales
//! stay as small as in the original blocks (4.625 bits a weight, where candle's own repacking
//! keeps f32 scales and reads 6).

#![allow(unsafe_code)]

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Result, bail};
use half::f16;

/// Weights in one q4_K superblock (and one activation block).
const SUPER: usize = 256;
/// Weights sharing one 6-bit scale and min.
const SUB: usize = 32;
/// Subblocks in a superblock.
const SUBS: usize = SUPER / SUB;
/// Output rows packed together: one 512-bit register of i32 sums.
pub const ROWS: usize = 16;
/// Activation rows one pass over the weights serves.
const PASS_ROWS: usize = 4;
/// Bytes of one q4_K block: d, dmin (f16), 12 bytes of scales and mins, 128 of nibbles.
const Q4K_BLOCK_BYTES: usize = 144;

/// One superblock of sixteen rows.
#[derive(Clone)]
#[repr(C, align(64))]
struct Tile {
    /// Per subblock, per pair of four-weight groups (`p`): 64 bytes, four per row; the low
    /// nibble holds weights `32j + 4p + i`, the high nibble `32j + 16 + 4p + i`.
    qs: [[[u8; 64]; 4]; SUBS],
    /// Per subblock, the sixteen rows' 6-bit scales and mins.
    scales: [[u8; ROWS]; SUBS],
    mins: [[u8; ROWS]; SUBS],
    d: [f16; ROWS],
    dmin: [f16; ROWS],
}

/// A q4_K weight matrix (`out × in`) in sixteen-row tiles.
#[derive(Clone)]
pub struct PackedQ4K {
    tiles: Vec<Tile>,
    rows: usize,
    cols: usize,
}

impl std::fmt::Debug for PackedQ4K {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedQ4K({}×{})", self.rows, self.cols)
    }
}

/// Whether this CPU runs the packed product.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether a matrix of this shape can be packed: whole tiles and whole superblocks.
pub fn fits(rows: usize, cols: usize) -> bool {
    rows > 0 && cols > 0 && rows.is_multiple_of(ROWS) && cols.is_multiple_of(SUPER)
}

/// ggml's unpacking of the 6-bit scale and min of subblock `j`.
fn scale_min(j: usize, packed: &[u8]) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        (
            (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4),
            (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
        )
    }
}

impl PackedQ4K {
    /// Repacks a q4_K tensor of shape (out, in); the shape must satisfy [`fits`] and the CPU
    /// [`available`], so that a packed matrix can always be multiplied.
    pub fn from_qtensor(tensor: &QTensor) -> Result<Self> {
        if !available() {
            bail!("the packed q4_K product needs AVX-512 VNNI");
        }
        if tensor.dtype() != GgmlDType::Q4K {
            bail!("packed q4_K needs a q4_K tensor, not {:?}", tensor.dtype());
        }
        let (rows, cols) = tensor.shape().dims2()?;
        if !fits(rows, cols) {
            bail!("packed q4_K needs rows in sixteens and columns in 256s, not {rows}×{cols}");
        }
        let data = tensor.data()?;
        let blocks_per_row = cols / SUPER;
        if data.len() != rows * blocks_per_row * Q4K_BLOCK_BYTES {
            bail!("a q4_K tensor of {rows}×{cols} holds {} bytes", data.len());
        }
        let mut tiles = Vec::with_capacity(rows / ROWS * blocks_per_row);
        for tile_row in 0..rows / ROWS {
            for b in 0..blocks_per_row {
                let mut tile = Tile {
                    qs: [[[0; 64]; 4]; SUBS],
                    scales: [[0; ROWS]; SUBS],
                    mins: [[0; ROWS]; SUBS],
                    d: [f16::ZERO; ROWS],
                    dmin: [f16::ZERO; ROWS],
                };
                for r in 0..ROWS {
                    let start = ((tile_row * ROWS + r) * blocks_per_row + b) * Q4K_BLOCK_BYTES;
                    let block = &data[start..start + Q4K_BLOCK_BYTES];
                    tile.d[r] = f16::from_le_bytes([block[0], block[1]]);
                    tile.dmin[r] = f16::from_le_bytes([block[2], block[3]]);
                    let (packed_scales, qs) = (&block[4..16], &block[16..]);
                    let nibble = |k: usize| {
                        let byte = qs[(k / 64) * 32 + k % 32];
                        if k % 64 < 32 { byte & 0x0F } else { byte >> 4 }
                    };
                    for j in 0..SUBS {
                        let (scale, min) = scale_min(j, packed_scales);
                        tile.scales[j][r] = scale;
                        tile.mins[j][r] = min;
                        for p in 0..4 {
                            for i in 0..4 {
                                let low = nibble(SUB * j + 4 * p + i);
                                let high = nibble(SUB * j + 16 + 4 * p + i);
                                tile.qs[j][p][4 * r + i] = low | (high << 4);
                            }
                        }
                    }
                }
                tiles.push(tile);
            }
        }
        Ok(Self { tiles, rows, cols })
    }

    /// Output rows (the weight matrix's first dimension).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes read by one product.
    pub fn bytes(&self) -> usize {
        self.tiles.len() * std::mem::size_of::<Tile>()
    }

    /// `xs · Wᵀ` for `xs` holding `m` rows of [`Self::cols`] values: `m` rows of [`Self::rows`].
    /// The rows are quantized to 8 bits per 256 values first.
    pub fn matmul(&self, xs: &[f32], m: usize) -> Result<Vec<f32>> {
        if xs.len() != m * self.cols {
            bail!("{} values are not {m} rows of {}", xs.len(), self.cols);
        }
        let acts = Activations::quantize(xs, m, self.cols);
        // Computed as (tile row, activation row, 16 outputs), then laid out as rows.
        let mut by_tile = vec![0f32; self.rows * m];
        crate::kernels::cpu_pool::for_each_chunk_mut(&mut by_tile, m * ROWS, |tile_row, out| {
            let mut sums = [[0f32; ROWS]; PASS_ROWS];
            for first in (0..m).step_by(PASS_ROWS) {
                let count = (m - first).min(PASS_ROWS);
                self.tile_row_product(tile_row, &acts, first, count, &mut sums);
                for (i, row) in sums[..count].iter().enumerate() {
                    out[(first + i) * ROWS..(first + i + 1) * ROWS].copy_from_slice(row);
                }
            }
        });
        let mut out = vec![0f32; m * self.rows];
        for (tile_row, tile) in by_tile.chunks_exact(m * ROWS).enumerate() {
            for (i, row) in tile.chunks_exact(ROWS).enumerate() {
                let at = i * self.rows + tile_row * ROWS;
                out[at..at + ROWS].copy_from_slice(row);
            }
        }
        Ok(out)
    }

    fn tile_row_product(
        &self,
        tile_row: usize,
        acts: &Activations,
        first: usize,
        count: usize,
        sums: &mut [[f32; ROWS]; PASS_ROWS],
    ) {
        let blocks = self.cols / SUPER;
        let tiles = &self.tiles[tile_row * blocks..(tile_row + 1) * blocks];
        let rows: [&[ActBlock]; PASS_ROWS] =
            std::array::from_fn(|i| acts.row((first + i).min(first + count - 1)));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `PackedQ4K` exists only where the CPU has AVX-512 F, BW and VNNI.
        unsafe {
            match count {
                1 => avx512::product::<1>(tiles, &rows, sums),
                2 => avx512::product::<2>(tiles, &rows, sums),
                3 => avx512::product::<3>(tiles, &rows, sums),
                _ => avx512::product::<4>(tiles, &rows, sums),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (tiles, rows, sums);
            unreachable!("`available` is false off x86-64");
        }
    }
}

/// 256 activations as 8-bit integers with their scale and per-subblock sums.
#[derive(Clone)]
#[repr(C, align(64))]
struct ActBlock {
    qs: [i8; SUPER],
    sums: [i32; SUBS],
    d: f32,
}

/// Activation rows quantized symmetrically to 8 bits per 256 values.
struct Activations {
    blocks: Vec<ActBlock>,
    per_row: usize,
}

impl Activations {
    /// Only called by the product, so the CPU has AVX-512 (see [`PackedQ4K::from_qtensor`]).
    fn quantize(xs: &[f32], m: usize, cols: usize) -> Self {
        let per_row = cols / SUPER;
        let mut blocks = vec![
            ActBlock {
                qs: [0; SUPER],
                sums: [0; SUBS],
                d: 0.0,
            };
            m * per_row
        ];
        for (block, chunk) in blocks.iter_mut().zip(xs.chunks_exact(SUPER)) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: only reached through a `PackedQ4K`, which exists only with AVX-512 F and BW.
            unsafe {
                avx512::quantize(chunk, block)
            };
            #[cfg(not(target_arch = "x86_64"))]
            {
                let _ = (block, chunk);
                unreachable!("`available` is false off x86-64");
            }
        }
        Self { blocks, per_row }
    }

    fn row(&self, i: usize) -> &[ActBlock] {
        &self.blocks[i * self.per_row..(i + 1) * self.per_row]
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
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
                            dot[i] =
                                _mm512_dpbusd_epi32(dot[i], low, broadcast4(qs, 32 * j + 4 * p));
                            dot[i] = _mm512_dpbusd_epi32(
                                dot[i],
                                high,
                                broadcast4(qs, 32 * j + 16 + 4 * p),
                            );
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
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module, Tensor};

    use super::*;

    use rand::{Rng, SeedableRng};

    /// Uniform values whose spread and offset change from one 32-value subblock to the next, so
    /// every scale and min of the q4_K blocks differs.
    fn random(rows: usize, cols: usize, seed: u64) -> Tensor {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| {
                let sub = (i / SUB) % 7;
                let spread = 0.02 * (1 + sub) as f32;
                let offset = 0.01 * sub as f32 - 0.03;
                offset + spread * rng.random_range(-1f32..1f32)
            })
            .collect();
        Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap()
    }

    /// The product from the dequantized weights, in f64.
    fn reference(weights: &Tensor, xs: &[f32], m: usize) -> Vec<f32> {
        let (rows, cols) = weights.dims2().unwrap();
        let w: Vec<f32> = weights.flatten_all().unwrap().to_vec1().unwrap();
        let mut out = vec![0f32; m * rows];
        for i in 0..m {
            for r in 0..rows {
                let dot: f64 = (0..cols)
                    .map(|c| f64::from(w[r * cols + c]) * f64::from(xs[i * cols + c]))
                    .sum();
                out[i * rows + r] = dot as f32;
            }
        }
        out
    }

    /// The rows as the product sees them: 8-bit, scaled per 256 values.
    fn as_quantized(xs: &[f32]) -> Vec<f32> {
        xs.chunks(SUPER)
            .flat_map(|chunk| {
                let amax = chunk.iter().fold(0f32, |a, v| a.max(v.abs()));
                let d = amax / 127.0;
                chunk.iter().map(move |v| {
                    if amax == 0.0 {
                        0.0
                    } else {
                        (v * (127.0 / amax)).round_ties_even() * d
                    }
                })
            })
            .collect()
    }

    #[test]
    fn the_product_is_exact_for_the_quantized_rows() {
        if !available() {
            eprintln!("skipped: this CPU lacks AVX-512 VNNI");
            return;
        }
        let (rows, cols) = (32, 768);
        let quantized = QTensor::quantize(&random(rows, cols, 6), GgmlDType::Q4K).unwrap();
        let packed = PackedQ4K::from_qtensor(&quantized).unwrap();
        let dequantized = quantized.dequantize(&Device::Cpu).unwrap();
        let m = 6;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let xs: Vec<f32> = (0..m * cols)
            .map(|_| rng.random_range(-3f32..3f32))
            .collect();
        let got = packed.matmul(&xs, m).unwrap();
        let want = reference(&dequantized, &as_quantized(&xs), m);
        let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
        let worst = got
            .iter()
            .zip(&want)
            .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
        // Integer sums are exact; only the f32 scaling rounds.
        assert!(worst <= 1e-5 * scale, "{worst} against a peak of {scale}");
    }

    #[test]
    fn the_product_equals_the_dequantized_weights_times_the_rows() {
        if !available() {
            eprintln!("skipped: this CPU lacks AVX-512 VNNI");
            return;
        }
        let (rows, cols) = (48, 512);
        let quantized = QTensor::quantize(&random(rows, cols, 1), GgmlDType::Q4K).unwrap();
        let packed = PackedQ4K::from_qtensor(&quantized).unwrap();
        let dequantized = quantized.dequantize(&Device::Cpu).unwrap();
        for m in [1, 2, 3, 4, 5, 9] {
            let xs: Vec<f32> = (0..m * cols)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
                .collect();
            let got = packed.matmul(&xs, m).unwrap();
            let want = reference(&dequantized, &xs, m);
            let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
            let worst = got
                .iter()
                .zip(&want)
                .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
            // Only the activations' 8-bit rounding separates the two.
            assert!(
                worst <= 0.01 * scale,
                "m={m}: {worst} against a peak of {scale}"
            );
        }
    }

    #[test]
    fn agrees_with_candles_q4k_product() {
        if !available() {
            eprintln!("skipped: this CPU lacks AVX-512 VNNI");
            return;
        }
        let (rows, cols) = (64, 1024);
        let quantized = QTensor::quantize(&random(rows, cols, 2), GgmlDType::Q4K).unwrap();
        let packed = PackedQ4K::from_qtensor(&quantized).unwrap();
        let xs = random(2, cols, 3);
        let want: Vec<f32> = QMatMul::from_qtensor(quantized)
            .unwrap()
            .forward(&xs)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let got = packed
            .matmul(&xs.flatten_all().unwrap().to_vec1().unwrap(), 2)
            .unwrap();
        let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
        let worst = got
            .iter()
            .zip(&want)
            .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
        assert!(worst <= 0.01 * scale, "{worst} against a peak of {scale}");
    }

    #[test]
    fn refuses_shapes_and_types_it_cannot_pack() {
        let q8 = QTensor::quantize(&random(16, 256, 4), GgmlDType::Q8_0).unwrap();
        assert!(PackedQ4K::from_qtensor(&q8).is_err());
        let odd = QTensor::quantize(&random(8, 256, 5), GgmlDType::Q4K).unwrap();
        assert!(PackedQ4K::from_qtensor(&odd).is_err());
        assert!(!fits(16, 32));
    }
}

#[cfg(test)]
mod speed {
    use std::time::Instant;

    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module, Tensor};

    use super::*;

    /// The matrix products of one MusicGen-small decoder step with guidance (24 layers of six
    /// 1024² products, fc1 and fc2, then four 2048-row heads; two activation rows), packed
    /// against candle's own q4_K product; run with
    /// `cargo test --release -p ekphrasis-models packed_q4k::speed -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn print_one_decoder_steps_products() {
        if !available() {
            println!("this CPU lacks AVX-512 VNNI");
            return;
        }
        let device = Device::Cpu;
        let (h, f) = (1024, 4096);
        let layer = [
            (h, h),
            (h, h),
            (h, h),
            (h, h),
            (h, h),
            (h, h),
            (f, h),
            (h, f),
        ];
        let shapes: Vec<(usize, usize)> =
            (0..24).flat_map(|_| layer).chain([(2048, h); 4]).collect();
        let mut packed = Vec::new();
        let mut candle = Vec::new();
        for &(rows, cols) in &shapes {
            let w = Tensor::randn(0f32, 0.02, (rows, cols), &device).unwrap();
            let q = QTensor::quantize(&w, GgmlDType::Q4K).unwrap();
            packed.push(PackedQ4K::from_qtensor(&q).unwrap());
            candle.push(QMatMul::from_qtensor(q).unwrap());
        }
        let xs = |cols: usize| Tensor::randn(0f32, 1., (2, cols), &device).unwrap();
        let (xh, xf) = (xs(h), xs(f));
        let (vh, vf): (Vec<f32>, Vec<f32>) = (
            xh.flatten_all().unwrap().to_vec1().unwrap(),
            xf.flatten_all().unwrap().to_vec1().unwrap(),
        );
        let time = |step: &dyn Fn()| {
            for _ in 0..3 {
                step();
            }
            let n = 30;
            let started = Instant::now();
            for _ in 0..n {
                step();
            }
            started.elapsed().as_secs_f64() / n as f64
        };
        let ours = time(&|| {
            for p in &packed {
                let x = if p.cols() == f { &vf } else { &vh };
                p.matmul(x, 2).unwrap();
            }
        });
        let theirs = time(&|| {
            for (m, &(_, cols)) in candle.iter().zip(&shapes) {
                m.forward(if cols == f { &xf } else { &xh }).unwrap();
            }
        });
        let bytes: usize = packed.iter().map(PackedQ4K::bytes).sum();
        println!(
            "packed q4_K: {:.2} ms a step ({:.0} MB, {:.1} GB/s); candle's q4_K: {:.2} ms",
            ours * 1e3,
            bytes as f64 / 1e6,
            bytes as f64 / ours / 1e9,
            theirs * 1e3
        );
    }
}
