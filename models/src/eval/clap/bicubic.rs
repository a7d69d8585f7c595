//! Bicubic resizing as PyTorch's `F.interpolate(mode="bicubic", align_corners=True)` does it on
//! the CPU (candle has none): Keys' cubic convolution with a = −0.75, source coordinates
//! `i · (in − 1) / (out − 1)` in f32, taps clamped at the borders, the height taps outside and the
//! width taps inside, accumulated in f32 in the same order. CLAP's audio tower uses it to stretch
//! 1001 mel frames to 1024.

use candle_core::{Device, Tensor};

/// PyTorch's cubic coefficient.
const A: f32 = -0.75;

/// The four taps of one output coordinate along one axis: source indices (clamped) and weights.
#[derive(Debug, Clone, Copy)]
struct Taps {
    index: [usize; 4],
    weight: [f32; 4],
}

fn cubic_near(x: f32) -> f32 {
    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
}

fn cubic_far(x: f32) -> f32 {
    ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
}

/// The taps of every output coordinate of an axis resized from `input` to `output` points.
fn axis_taps(input: usize, output: usize) -> Vec<Taps> {
    let scale = if output > 1 {
        (input as f32 - 1.0) / (output as f32 - 1.0)
    } else {
        0.0
    };
    (0..output)
        .map(|i| {
            let real = scale * i as f32;
            let base = (real.floor() as usize).min(input - 1);
            let t = (real - base as f32).clamp(0.0, 1.0);
            // rounded as PyTorch rounds them: 1 − t first, then (1 − t) + 1
            let opposite = 1.0 - t;
            let weight = [
                cubic_far(t + 1.0),
                cubic_near(t),
                cubic_near(opposite),
                cubic_far(opposite + 1.0),
            ];
            let index = std::array::from_fn(|k| (base + k).saturating_sub(1).min(input - 1));
            Taps { index, weight }
        })
        .collect()
}

/// Resizes `planes` images of `height × width` (row-major, one after another) to
/// `out_height × out_width`.
pub fn resize(
    input: &[f32],
    planes: usize,
    (height, width): (usize, usize),
    (out_height, out_width): (usize, usize),
) -> Vec<f32> {
    assert_eq!(input.len(), planes * height * width, "input size");
    if height == 0 || width == 0 {
        return vec![0.0; planes * out_height * out_width];
    }
    let rows = axis_taps(height, out_height);
    let cols = axis_taps(width, out_width);
    let mut out = Vec::with_capacity(planes * out_height * out_width);
    for plane in input.chunks_exact(height * width) {
        for row in &rows {
            for col in &cols {
                let mut acc = 0f32;
                for (k, (&r, &wr)) in row.index.iter().zip(&row.weight).enumerate() {
                    let line = &plane[r * width..(r + 1) * width];
                    let mut inner = line[col.index[0]] * col.weight[0];
                    for j in 1..4 {
                        inner += line[col.index[j]] * col.weight[j];
                    }
                    if k == 0 {
                        acc = inner * wr;
                    } else {
                        acc += inner * wr;
                    }
                }
                out.push(acc);
            }
        }
    }
    out
}

/// Resizes the last two axes of an f32 tensor `(…, H, W)` to `(out_height, out_width)`.
pub fn resize_tensor(
    x: &Tensor,
    out_height: usize,
    out_width: usize,
) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    if dims.len() < 2 {
        candle_core::bail!("bicubic resize needs at least two axes, got {dims:?}");
    }
    let (h, w) = (dims[dims.len() - 2], dims[dims.len() - 1]);
    let planes: usize = dims[..dims.len() - 2].iter().product();
    let data = x
        .flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1::<f32>()?;
    let out = resize(&data, planes, (h, w), (out_height, out_width));
    let mut shape = dims[..dims.len() - 2].to_vec();
    shape.extend([out_height, out_width]);
    Tensor::from_vec(out, shape, &Device::Cpu)?.to_device(x.device())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_the_identity_and_weights_sum_to_one() {
        let input: Vec<f32> = (0..12).map(|i| (i * i) as f32 * 0.37).collect();
        assert_eq!(resize(&input, 1, (3, 4), (3, 4)), input);
        for taps in axis_taps(1001, 1024) {
            let sum: f32 = taps.weight.iter().sum();
            assert!((sum - 1.0).abs() < 1e-6, "{sum}");
        }
    }

    #[test]
    fn corners_are_kept_and_linear_ramps_stay_linear_inside() {
        let ramp: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let out = resize(&ramp, 1, (10, 1), (19, 1));
        assert_eq!(out[0], 0.0);
        assert_eq!(out[18], 9.0);
        // cubic convolution reproduces a line away from the clamped borders
        assert!((out[9] - 4.5).abs() < 1e-5, "{}", out[9]);
    }
}
