//! EnCodec's weight-normalised convolutions as transformers runs them when not causal:
//! `EncodecConv1d` (reflect padding split `right = total // 2`, `left = total − right`, plus
//! the extra right padding of strided convolutions) and `EncodecConvTranspose1d` (a full
//! transposed convolution trimmed by `k − stride`, `right = total // 2`). Weight norm
//! (`weight = g · v / ‖v‖`, the norm over every dim but the first) is folded at load time.

use candle_core::{DType, Module, Result, Tensor, bail};
use candle_nn::VarBuilder;

use crate::kernels::codec;

/// Loads `{prefix}.weight_g` / `{prefix}.weight_v` (the published layout) or transformers 5's
/// `{prefix}.parametrizations.weight.original0/1`, and returns the folded weight of shape
/// `shape`. The fold is computed in f32 and cast back to the builder's dtype.
pub fn load_weight_norm(vb: &VarBuilder, shape: (usize, usize, usize)) -> Result<Tensor> {
    let (g, v) = if vb.contains_tensor("weight_g")
        || !vb.contains_tensor("parametrizations.weight.original0")
    {
        (
            vb.get((shape.0, 1, 1), "weight_g")?,
            vb.get(shape, "weight_v")?,
        )
    } else {
        let vp = vb.pp("parametrizations.weight");
        (
            vp.get((shape.0, 1, 1), "original0")?,
            vp.get(shape, "original1")?,
        )
    };
    let dtype = v.dtype();
    let v = v.to_dtype(DType::F32)?;
    let g = g.to_dtype(DType::F32)?;
    let norm = v.sqr()?.sum_keepdim((1, 2))?.sqrt()?;
    v.broadcast_div(&norm)?.broadcast_mul(&g)?.to_dtype(dtype)
}

/// Pads the last dim of `xs` in reflect mode exactly as transformers' `EncodecConv1d._pad1d`:
/// when the input is not longer than the larger pad, zeros are first appended on the right so that
/// torch's reflection is possible, and as many samples are then dropped from the right end.
pub fn pad1d_reflect(xs: &Tensor, left: usize, right: usize) -> Result<Tensor> {
    if left == 0 && right == 0 {
        return Ok(xs.clone());
    }
    let len = xs.dim(candle_core::D::Minus1)?;
    if len == 0 {
        bail!("reflect padding of an empty sequence")
    }
    let max_pad = left.max(right);
    let extra = if len <= max_pad { max_pad - len + 1 } else { 0 };
    let xs = if extra > 0 {
        xs.pad_with_zeros(candle_core::D::Minus1, 0, extra)?
    } else {
        xs.clone()
    };
    let n = (len + extra) as i64;
    let total = left + n as usize + right - extra;
    let idx: Vec<u32> = (0..total)
        .map(|j| {
            let p = j as i64 - left as i64;
            let r = if p < 0 {
                -p
            } else if p >= n {
                2 * (n - 1) - p
            } else {
                p
            };
            r as u32
        })
        .collect();
    let idx = Tensor::from_vec(idx, total, xs.device())?;
    xs.index_select(&idx, xs.rank() - 1)
}

/// A non-causal, weight-normalised `EncodecConv1d` (reflect padding).
#[derive(Debug, Clone)]
pub struct NormConv1d {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    dilation: usize,
    kernel_size: usize,
}

impl NormConv1d {
    /// Loads the convolution at `vb` (the module's prefix, e.g. `decoder.layers.0`; the weights are
    /// under its `conv.` child as in the checkpoint).
    pub fn new(
        in_c: usize,
        out_c: usize,
        kernel_size: usize,
        stride: usize,
        dilation: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let vb = vb.pp("conv");
        let weight = load_weight_norm(&vb, (out_c, in_c, kernel_size))?;
        let bias = vb.get(out_c, "bias")?.reshape((1, out_c, 1))?;
        Ok(Self {
            weight,
            bias,
            stride,
            dilation,
            kernel_size,
        })
    }

    /// `(left, right)` reflect padding for an input of `len` samples, extra padding included.
    pub fn padding(&self, len: usize) -> (usize, usize) {
        let k_eff = (self.kernel_size - 1) * self.dilation + 1;
        let total = k_eff - self.stride.min(k_eff);
        let right = total / 2;
        let left = total - right;
        // transformers' `_get_extra_padding_for_conv1d`, simplified: the ideal length is
        // ceil(len / stride) · stride.
        let extra = len.div_ceil(self.stride) * self.stride - len;
        (left, right + extra)
    }

    /// Samples this convolution reads to the left and to the right of an output sample
    /// (stride 1).
    pub fn halo(&self) -> (usize, usize) {
        let total = (self.kernel_size - 1) * self.dilation;
        let right = total / 2;
        (total - right, right)
    }
}

impl Module for NormConv1d {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (left, right) = self.padding(xs.dim(candle_core::D::Minus1)?);
        let xs = pad1d_reflect(xs, left, right)?;
        xs.conv1d(&self.weight, 0, self.stride, self.dilation, 1)?
            .broadcast_add(&self.bias)
    }
}

/// A non-causal, weight-normalised `EncodecConvTranspose1d`: output length = input · stride.
///
/// Computed as one matrix product (every input sample times the whole kernel) followed by an
/// overlap-add of `ceil(k / stride)` shifted copies, rather than with candle's
/// `conv_transpose1d`, whose CPU path in candle 0.11.1 gives wrong results for batch > 1.
#[derive(Debug, Clone)]
pub struct NormConvTranspose1d {
    /// The kernel, zero-padded to `taps · stride` and laid out `[in, out · taps · stride]`.
    weight: Tensor,
    bias: Tensor,
    out_c: usize,
    stride: usize,
    kernel_size: usize,
    /// `ceil(kernel_size / stride)`: how many input samples overlap at an output sample.
    taps: usize,
}

impl NormConvTranspose1d {
    /// Loads the transposed convolution at `vb` (weights under its `conv.` child). Its `weight_v`
    /// is `[in, out, k]` and `weight_g` is `[in, 1, 1]`, as torch stores `ConvTranspose1d`.
    pub fn new(
        in_c: usize,
        out_c: usize,
        kernel_size: usize,
        stride: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        if kernel_size < stride || stride == 0 {
            bail!("transposed convolution with kernel {kernel_size} < stride {stride}")
        }
        let vb = vb.pp("conv");
        let weight = load_weight_norm(&vb, (in_c, out_c, kernel_size))?;
        let taps = kernel_size.div_ceil(stride);
        let weight = weight
            .pad_with_zeros(2, 0, taps * stride - kernel_size)?
            .reshape((in_c, out_c * taps * stride))?;
        let bias = vb.get(out_c, "bias")?.reshape((1, out_c, 1))?;
        Ok(Self {
            weight,
            bias,
            out_c,
            stride,
            kernel_size,
            taps,
        })
    }

    /// `(left, right)` samples trimmed from the full transposed-convolution output.
    pub fn trim(&self) -> (usize, usize) {
        let total = self.kernel_size - self.stride;
        let right = total / 2;
        (total - right, right)
    }

    /// The stride (upsampling factor).
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Input samples needed left and right of a run of input samples for the outputs of that run,
    /// widened by `halo = (left, right)` output samples, to be exact: the output run starts at
    /// `stride · P` and ends at `stride · Q`.
    pub fn input_halo(&self, halo: (usize, usize)) -> (usize, usize) {
        let (tl, _) = self.trim();
        let (s, k) = (self.stride as i64, self.kernel_size as i64);
        let (hl, hr, tl) = (halo.0 as i64, halo.1 as i64, tl as i64);
        // Output sample n reads the full-output index m = n + tl, which receives the inputs i
        // with i·s ≤ m ≤ i·s + k − 1.
        let left = (hl + k - 1 - tl).div_euclid(s).max(0);
        let right = ((hr + tl - 1).div_euclid(s) + 1).max(0);
        (left as usize, right as usize)
    }
}

impl Module for NormConvTranspose1d {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, c_in, len) = xs.dims3()?;
        let (s, taps, out_c) = (self.stride, self.taps, self.out_c);
        // [b·len, in] × [in, out·taps·s]: the contribution of each input sample.
        let cols = xs
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * len, c_in))?
            .matmul(&self.weight)?
            .reshape((b, len, out_c, taps, s))?;
        let (left, _) = self.trim();
        if let Some(out) = codec::overlap_add(&cols, (b, len, out_c, taps, s), left, &self.bias)? {
            return Ok(out);
        }
        // Tap j of input sample i lands on full-output samples (i + j)·s .. (i + j + 1)·s.
        let mut full: Option<Tensor> = None;
        for j in 0..taps {
            let part = cols
                .narrow(3, j, 1)?
                .squeeze(3)?
                .permute((0, 2, 1, 3))?
                .reshape((b, out_c, len * s))?
                .pad_with_zeros(2, j * s, (taps - 1 - j) * s)?;
            full = Some(match full {
                Some(acc) => (acc + part)?,
                None => part,
            });
        }
        let Some(full) = full else {
            bail!("transposed convolution with no taps")
        };
        full.narrow(2, left, len * s)?.broadcast_add(&self.bias)
    }
}
