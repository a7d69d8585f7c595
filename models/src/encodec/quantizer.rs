//! The residual vector quantizer (`EncodecResidualVectorQuantizer`). Decode: the sum over
//! codebooks of each codebook's `embed` row for its code; codes are checked before any lookup, so
//! an out-of-range code is an error, never a panic or a silent wrap. Encode: codebook by
//! codebook, the nearest `embed` row to what is left of the latent (transformers' distance
//! `-(‖x‖² − 2·x·e + ‖e‖²)`, the first of equals), then that row is taken away.

use candle_core::{D, DType, Result, Tensor, bail};
use candle_nn::VarBuilder;

/// The codebooks of the quantizer, stacked into one table so that decoding is a single lookup.
#[derive(Debug, Clone)]
pub struct ResidualVectorQuantizer {
    /// `[num_codebooks · codebook_size, codebook_dim]`: codebook k's rows start at k·codebook_size.
    table: Tensor,
    num_codebooks: usize,
    codebook_size: usize,
    codebook_dim: usize,
}

impl ResidualVectorQuantizer {
    /// Loads `{vb}.layers.{k}.codebook.embed` for k in `0..num_codebooks`. The other codebook
    /// buffers (`inited`, `cluster_size`, `embed_avg`) only serve training and are not read.
    pub fn new(
        num_codebooks: usize,
        codebook_size: usize,
        codebook_dim: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let vb = vb.pp("layers");
        let embeds = (0..num_codebooks)
            .map(|k| {
                vb.pp(k)
                    .pp("codebook")
                    .get((codebook_size, codebook_dim), "embed")
            })
            .collect::<Result<Vec<_>>>()?;
        let table = Tensor::cat(&embeds, 0)?;
        Ok(Self {
            table,
            num_codebooks,
            codebook_size,
            codebook_dim,
        })
    }

    /// Number of codebooks.
    pub fn num_codebooks(&self) -> usize {
        self.num_codebooks
    }

    /// The device the codebooks live on.
    pub fn table_device(&self) -> &candle_core::Device {
        self.table.device()
    }

    /// Entries per codebook.
    pub fn codebook_size(&self) -> usize {
        self.codebook_size
    }

    /// Checks `codes` (`[batch, codebooks, frames]`, any integer dtype) and returns the row of
    /// the stacked table for each code, as u32 in the same layout.
    pub fn table_rows(&self, codes: &Tensor) -> Result<Tensor> {
        let (b, k, t) = match codes.dims3() {
            Ok(d) => d,
            Err(_) => bail!(
                "encodec codes must be (batch, codebooks, frames), got shape {:?}",
                codes.dims()
            ),
        };
        if !codes.dtype().is_int() {
            bail!(
                "encodec codes must be integers (u32 or i64), got {:?}",
                codes.dtype()
            )
        }
        if k != self.num_codebooks {
            bail!(
                "encodec codes have {k} codebooks, the model has {}",
                self.num_codebooks
            )
        }
        if b == 0 || t == 0 {
            bail!("encodec codes are empty (batch {b}, frames {t})")
        }
        let values = codes
            .to_dtype(DType::I64)?
            .flatten_all()?
            .to_vec1::<i64>()?;
        let size = self.codebook_size as i64;
        let mut rows = Vec::with_capacity(values.len());
        for (n, &v) in values.iter().enumerate() {
            if !(0..size).contains(&v) {
                let (bi, ki, ti) = (n / (k * t), (n / t) % k, n % t);
                bail!(
                    "encodec code {v} at (batch {bi}, codebook {ki}, frame {ti}) is outside 0..{size}"
                )
            }
            rows.push((((n / t) % k) as i64 * size + v) as u32);
        }
        Tensor::from_vec(rows, (b, k, t), codes.device())
    }

    /// Decodes checked table rows (from [`Self::table_rows`]) to `[batch, codebook_dim, frames]`.
    pub fn decode_rows(&self, rows: &Tensor) -> Result<Tensor> {
        let (b, k, t) = rows.dims3()?;
        self.table
            .index_select(&rows.flatten_all()?, 0)?
            .reshape((b, k, t, self.codebook_dim))?
            .sum(1)?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Decodes `codes` (`[batch, codebooks, frames]`) to the quantized latent
    /// `[batch, codebook_dim, frames]`.
    pub fn decode(&self, codes: &Tensor) -> Result<Tensor> {
        self.decode_rows(&self.table_rows(codes)?)
    }

    /// The dtype of the codebooks.
    pub fn dtype(&self) -> DType {
        self.table.dtype()
    }

    /// Encodes the latent `[batch, codebook_dim, frames]` with the first `codebooks` codebooks
    /// into codes `[batch, codebooks, frames]` (u32).
    pub fn encode(&self, latent: &Tensor, codebooks: usize) -> Result<Tensor> {
        let (b, d, t) = latent.dims3()?;
        if d != self.codebook_dim {
            bail!(
                "encodec latent has width {d}, the codebooks have {}",
                self.codebook_dim
            )
        }
        if codebooks == 0 || codebooks > self.num_codebooks {
            bail!(
                "encodec: cannot encode with {codebooks} codebooks (the model has {})",
                self.num_codebooks
            )
        }
        let mut residual = latent
            .transpose(1, 2)?
            .reshape((b * t, d))?
            .to_dtype(self.table.dtype())?;
        let mut codes = Vec::with_capacity(codebooks);
        for k in 0..codebooks {
            let embed = self
                .table
                .narrow(0, k * self.codebook_size, self.codebook_size)?;
            let x_sq = residual.sqr()?.sum_keepdim(1)?;
            let e_sq = embed.sqr()?.sum(1)?.unsqueeze(0)?;
            let cross = residual.matmul(&embed.t()?)?;
            let dist = x_sq
                .broadcast_sub(&(cross * 2.0)?)?
                .broadcast_add(&e_sq)?
                .neg()?;
            let index = dist.argmax(D::Minus1)?;
            residual = (residual - embed.index_select(&index, 0)?)?;
            codes.push(index);
        }
        Tensor::stack(&codes, 0)?
            .reshape((codebooks, b, t))?
            .transpose(0, 1)?
            .contiguous()
    }
}
