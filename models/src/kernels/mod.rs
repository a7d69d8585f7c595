//! CPU kernels for one decoder step and for EnCodec's decode, and the dense layer that uses them.
//!
//! - [`dense`]: the dense layer (`nn.Linear`) of BLIP, Falcon-RW and MusicGen, float or quantized
//!   (q8_0, q4k), choosing a kernel by device, dtype and shape.
//! - [`gemv`]: the product of a few activation rows with f32 weights, each weight read once.
//! - [`packed_q4k`]: q4_K weights repacked for a product with a few rows, on AVX-512 VNNI or
//!   AVX2 (chosen at run time).
//! - [`attention`]: one new position attending over the cached keys and values, read in place.
//! - [`codec`]: EnCodec's transposed-convolution overlap-add and ELU, in place of candle's copies.
//! - [`cpu_pool`]: splitting that work over candle's barrier pool, the one set of compute threads.

pub mod attention;
pub mod codec;
pub mod cpu_pool;
pub mod dense;
pub mod gemv;
pub mod packed_q4k;
