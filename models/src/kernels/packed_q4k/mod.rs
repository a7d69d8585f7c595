//! q4_K weights repacked sixteen output rows at a time for the product with a few activation rows
//! that a decoder step needs. The quantization is ggml's q4_K as candle makes it
//! (`w = d·scale·q − dmin·min` per 32 weights, q in 0..15); only the layout changes, so that four
//! weights of each of sixteen rows sit together and the scales stay as small as in the original
//! blocks (4.625 bits a weight, where candle's own repacking keeps f32 scales and reads 6).
//!
//! One layout, a product for each instruction set, chosen at run time ([`Kernel`]):
//! - [`avx512`]: AVX-512 VNNI, one `vpdpbusd` for four weights of all sixteen rows;
//! - [`avx_vnni`]: 256-bit `vpdpbusd`, eight rows at a time (AVX-VNNI on Intel client CPUs
//!   without AVX-512; on AVX-512 CPUs the same instruction EVEX-encoded, which tests it there);
//! - [`avx2`]: AVX2 with FMA and F16C (`vpmaddubsw`, `vpmaddwd`), on every x86-64 CPU of the last
//!   decade, AMD Zen and Intel client parts included.

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
    kernel: Kernel,
}

impl std::fmt::Debug for PackedQ4K {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PackedQ4K({}×{}, {})",
            self.rows,
            self.cols,
            self.kernel.name()
        )
    }
}

/// The instruction sets a packed product can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512 F, BW and VNNI.
    Avx512Vnni,
    /// AVX2, FMA and F16C with 256-bit `vpdpbusd`: AVX-VNNI, or AVX-512 VNNI with VL.
    AvxVnni,
    /// AVX2, FMA and F16C.
    Avx2,
}

impl Kernel {
    /// Every kernel, fastest first.
    pub const ALL: [Kernel; 3] = [Kernel::Avx512Vnni, Kernel::AvxVnni, Kernel::Avx2];

    /// Whether this CPU runs it.
    pub fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Kernel::Avx512Vnni => has!("avx512f") && has!("avx512bw") && has!("avx512vnni"),
                Kernel::AvxVnni => {
                    Kernel::Avx2.runs_here()
                        && (has!("avxvnni") || (has!("avx512vnni") && has!("avx512vl")))
                }
                Kernel::Avx2 => has!("avx2") && has!("fma") && has!("f16c"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = self;
            false
        }
    }

    /// The fastest kernel this CPU runs, if any.
    /// `EKPHRASIS_Q4K_KERNEL` (a kernel's [`Kernel::name`]) picks a slower kernel the CPU also
    /// runs, to compare them in one sitting; a kernel this CPU lacks is not taken.
    pub fn best() -> Option<Kernel> {
        static CHOSEN: std::sync::OnceLock<Option<Kernel>> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let asked = std::env::var("EKPHRASIS_Q4K_KERNEL").ok();
            let asked = asked.and_then(|name| Kernel::ALL.into_iter().find(|k| k.name() == name));
            match asked {
                Some(kernel) if kernel.runs_here() => Some(kernel),
                _ => Kernel::ALL.into_iter().find(|kernel| kernel.runs_here()),
            }
        })
    }

    /// Its name in benchmark tables.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512Vnni => "avx512-vnni",
            Kernel::AvxVnni => "avx-vnni",
            Kernel::Avx2 => "avx2",
        }
    }
}

/// Whether this CPU runs a packed product.
pub fn available() -> bool {
    Kernel::best().is_some()
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
    /// Repacks a q4_K tensor of shape (out, in) for the fastest kernel this CPU runs; the shape
    /// must satisfy [`fits`] and the CPU be [`available`], so that a packed matrix can always be
    /// multiplied.
    pub fn from_qtensor(tensor: &QTensor) -> Result<Self> {
        match Kernel::best() {
            Some(kernel) => Self::for_kernel(tensor, kernel),
            None => bail!("the packed q4_K product needs AVX2 (with FMA and F16C) or AVX-512 VNNI"),
        }
    }

    /// The same for a given kernel, which this CPU must run.
    pub fn for_kernel(tensor: &QTensor, kernel: Kernel) -> Result<Self> {
        if !kernel.runs_here() {
            bail!(
                "this CPU cannot run the {} packed q4_K product",
                kernel.name()
            );
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
        Ok(Self {
            tiles,
            rows,
            cols,
            kernel,
        })
    }

    /// Output rows (the weight matrix's first dimension).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The kernel its products run on.
    pub fn kernel(&self) -> Kernel {
        self.kernel
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
        let acts = Activations::quantize(xs, m, self.cols, self.kernel);
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
        // SAFETY: a `PackedQ4K` exists only where the CPU runs its kernel.
        unsafe {
            match (self.kernel, count) {
                (Kernel::Avx512Vnni, 1) => avx512::product::<1>(tiles, &rows, sums),
                (Kernel::Avx512Vnni, 2) => avx512::product::<2>(tiles, &rows, sums),
                (Kernel::Avx512Vnni, 3) => avx512::product::<3>(tiles, &rows, sums),
                (Kernel::Avx512Vnni, _) => avx512::product::<4>(tiles, &rows, sums),
                (Kernel::AvxVnni, count) if avx_vnni::has_vex() => match count {
                    1 => avx_vnni::product_vex::<1>(tiles, &rows, sums),
                    2 => avx_vnni::product_vex::<2>(tiles, &rows, sums),
                    3 => avx_vnni::product_vex::<3>(tiles, &rows, sums),
                    _ => avx_vnni::product_vex::<4>(tiles, &rows, sums),
                },
                (Kernel::AvxVnni, count) => match count {
                    1 => avx_vnni::product_evex::<1>(tiles, &rows, sums),
                    2 => avx_vnni::product_evex::<2>(tiles, &rows, sums),
                    3 => avx_vnni::product_evex::<3>(tiles, &rows, sums),
                    _ => avx_vnni::product_evex::<4>(tiles, &rows, sums),
                },
                (Kernel::Avx2, 1) => avx2::product::<1>(tiles, &rows, sums),
                (Kernel::Avx2, 2) => avx2::product::<2>(tiles, &rows, sums),
                (Kernel::Avx2, 3) => avx2::product::<3>(tiles, &rows, sums),
                (Kernel::Avx2, _) => avx2::product::<4>(tiles, &rows, sums),
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
    /// The sums two subblocks at a time as 16-bit halves of one 32-bit value (a subblock's sum
    /// is at most 32 · 127), for products that pair them with two mins in one `vpmaddwd`.
    pair_sums: [i32; SUBS / 2],
    d: f32,
}

/// Activation rows quantized symmetrically to 8 bits per 256 values.
struct Activations {
    blocks: Vec<ActBlock>,
    per_row: usize,
}

impl Activations {
    /// Only called by the product, so the CPU runs `kernel` (see [`PackedQ4K::for_kernel`]).
    fn quantize(xs: &[f32], m: usize, cols: usize, kernel: Kernel) -> Self {
        let per_row = cols / SUPER;
        let mut blocks = vec![
            ActBlock {
                qs: [0; SUPER],
                sums: [0; SUBS],
                pair_sums: [0; SUBS / 2],
                d: 0.0,
            };
            m * per_row
        ];
        for (block, chunk) in blocks.iter_mut().zip(xs.chunks_exact(SUPER)) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: only reached through a `PackedQ4K`, which exists only where the CPU runs
            // its kernel.
            unsafe {
                match kernel {
                    Kernel::Avx512Vnni => avx512::quantize(chunk, block),
                    Kernel::AvxVnni | Kernel::Avx2 => avx2::quantize(chunk, block),
                }
            };
            #[cfg(not(target_arch = "x86_64"))]
            {
                let _ = (block, chunk, kernel);
                unreachable!("`available` is false off x86-64");
            }
            for (k, pair) in block.pair_sums.iter_mut().enumerate() {
                let (low, high) = (block.sums[2 * k] as i16, block.sums[2 * k + 1] as i16);
                *pair = i32::from(low as u16) | (i32::from(high as u16) << 16);
            }
        }
        Self { blocks, per_row }
    }

    fn row(&self, i: usize) -> &[ActBlock] {
        &self.blocks[i * self.per_row..(i + 1) * self.per_row]
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod avx_vnni;

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

    /// The kernels this CPU runs; a test that needs one is skipped, saying so, without.
    fn kernels_here() -> Vec<Kernel> {
        let here: Vec<Kernel> = Kernel::ALL.into_iter().filter(|k| k.runs_here()).collect();
        if here.is_empty() {
            eprintln!("skipped: this CPU runs no packed q4_K kernel (AVX2 with FMA and F16C)");
        }
        here
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
        let (rows, cols) = (32, 768);
        let quantized = QTensor::quantize(&random(rows, cols, 6), GgmlDType::Q4K).unwrap();
        let dequantized = quantized.dequantize(&Device::Cpu).unwrap();
        let m = 6;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let xs: Vec<f32> = (0..m * cols)
            .map(|_| rng.random_range(-3f32..3f32))
            .collect();
        let want = reference(&dequantized, &as_quantized(&xs), m);
        let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
        for kernel in kernels_here() {
            let packed = PackedQ4K::for_kernel(&quantized, kernel).unwrap();
            let got = packed.matmul(&xs, m).unwrap();
            let worst = got
                .iter()
                .zip(&want)
                .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
            // Integer sums are exact; only the f32 scaling rounds.
            assert!(
                worst <= 1e-5 * scale,
                "{kernel:?}: {worst} against a peak of {scale}"
            );
        }
    }

    #[test]
    fn the_product_equals_the_dequantized_weights_times_the_rows() {
        let (rows, cols) = (48, 512);
        let quantized = QTensor::quantize(&random(rows, cols, 1), GgmlDType::Q4K).unwrap();
        let dequantized = quantized.dequantize(&Device::Cpu).unwrap();
        for (kernel, m) in kernels_here()
            .into_iter()
            .flat_map(|kernel| [1, 2, 3, 4, 5, 9].map(|m| (kernel, m)))
        {
            let packed = PackedQ4K::for_kernel(&quantized, kernel).unwrap();
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
                "{kernel:?}, m={m}: {worst} against a peak of {scale}"
            );
        }
    }

    #[test]
    fn agrees_with_candles_q4k_product() {
        let (rows, cols) = (64, 1024);
        let quantized = QTensor::quantize(&random(rows, cols, 2), GgmlDType::Q4K).unwrap();
        let xs = random(2, cols, 3);
        let packed: Vec<PackedQ4K> = kernels_here()
            .into_iter()
            .map(|kernel| PackedQ4K::for_kernel(&quantized, kernel).unwrap())
            .collect();
        let want: Vec<f32> = QMatMul::from_qtensor(quantized)
            .unwrap()
            .forward(&xs)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
        for packed in packed {
            let got = packed
                .matmul(&xs.flatten_all().unwrap().to_vec1().unwrap(), 2)
                .unwrap();
            let worst = got
                .iter()
                .zip(&want)
                .fold(0f32, |a, (g, w)| a.max((g - w).abs()));
            assert!(
                worst <= 0.01 * scale,
                "{packed:?}: {worst} against a peak of {scale}"
            );
        }
    }

    #[test]
    fn every_kernel_gives_the_same_sums() {
        let here = kernels_here();
        if here.len() < 2 {
            eprintln!("only {here:?} runs here: nothing to compare it with");
        }
        let (rows, cols) = (32, 512);
        let quantized = QTensor::quantize(&random(rows, cols, 8), GgmlDType::Q4K).unwrap();
        let xs: Vec<f32> = (0..3 * cols)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 7.0)
            .collect();
        let results: Vec<Vec<f32>> = here
            .iter()
            .map(|&kernel| {
                PackedQ4K::for_kernel(&quantized, kernel)
                    .unwrap()
                    .matmul(&xs, 3)
                    .unwrap()
            })
            .collect();
        for (kernel, got) in here.iter().zip(&results).skip(1) {
            // The integer sums are the same; the f32 scaling may round in another order.
            let worst = got
                .iter()
                .zip(&results[0])
                .fold(0f32, |a, (g, w)| a.max((g - w).abs() / w.abs().max(1.0)));
            assert!(worst <= 1e-6, "{kernel:?} against {:?}: {worst}", here[0]);
        }
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
        let kernels: Vec<Kernel> = Kernel::ALL.into_iter().filter(|k| k.runs_here()).collect();
        if kernels.is_empty() {
            println!("this CPU runs no packed q4_K kernel");
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
        let mut packed: Vec<Vec<PackedQ4K>> = vec![Vec::new(); kernels.len()];
        let mut candle = Vec::new();
        for &(rows, cols) in &shapes {
            let w = Tensor::randn(0f32, 0.02, (rows, cols), &device).unwrap();
            let q = QTensor::quantize(&w, GgmlDType::Q4K).unwrap();
            for (kernel, packed) in kernels.iter().zip(&mut packed) {
                packed.push(PackedQ4K::for_kernel(&q, *kernel).unwrap());
            }
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
        let theirs = time(&|| {
            for (m, &(_, cols)) in candle.iter().zip(&shapes) {
                m.forward(if cols == f { &xf } else { &xh }).unwrap();
            }
        });
        println!("candle's q4_K: {:.2} ms a step", theirs * 1e3);
        for (kernel, packed) in kernels.iter().zip(&packed) {
            let ours = time(&|| {
                for p in packed {
                    let x = if p.cols() == f { &vf } else { &vh };
                    p.matmul(x, 2).unwrap();
                }
            });
            let bytes: usize = packed.iter().map(PackedQ4K::bytes).sum();
            println!(
                "packed q4_K, {}: {:.2} ms a step ({:.0} MB, {:.1} GB/s, {:.2}× candle's)",
                kernel.name(),
                ours * 1e3,
                bytes as f64 / 1e6,
                bytes as f64 / ours / 1e9,
                theirs / ours
            );
        }
        // The floor: only reading as many bytes, on the same threads.
        let bytes: usize = packed[0].iter().map(PackedQ4K::bytes).sum();
        let memory: Vec<u64> = (0..bytes / 8).map(|i| i as u64).collect();
        let chunk = 1 << 16;
        let sums = vec![0u64; memory.len().div_ceil(chunk)];
        let read = time(&|| {
            let mut sums = sums.clone();
            crate::kernels::cpu_pool::for_each_chunk_mut(&mut sums, 1, |index, sum| {
                let start = index * chunk;
                let part = &memory[start..(start + chunk).min(memory.len())];
                sum[0] = part.iter().fold(0u64, |a, &v| a.wrapping_add(v));
            });
            std::hint::black_box(&sums);
        });
        println!(
            "reading the same {:.0} MB on the same threads: {:.2} ms ({:.1} GB/s): the floor",
            bytes as f64 / 1e6,
            read * 1e3,
            bytes as f64 / read / 1e9
        );
    }
}
