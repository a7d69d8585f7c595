//! Pixels for a vision model, as transformers' image processors make them from a checkpoint's
//! `preprocessor_config.json` (CLIP, ConvNeXt/ResNet, BLIP and ViT processors): RGB conversion,
//! antialiased resize, center crop, rescale and normalise.
//!
//! transformers 5 picks the torchvision backend when torchvision is installed
//! (`pip install transformers[vision]` installs it), else the PIL one. Both resample a `uint8`
//! image separably (one pass per axis, 8-bit rounding and clamping in between) with PIL's
//! antialiased filters (bicubic a = −0.5, bilinear) and integer weights. They differ in the
//! weights' fixed-point precision (torchvision: the most bits that fit `i16`; PIL: 22 bits) and in
//! the pass order (torchvision: horizontal first; Pillow 13: vertical first when the height
//! shrinks by more than twice as many pixels as the width), so their outputs differ by up to a
//! dozen 8-bit levels on sharp images. [`ResizeBackend`] selects one; the default is
//! torchvision's, the one `AutoImageProcessor` gives users who installed `transformers[vision]`.

use candle_core::{Device, Tensor};
use image::{DynamicImage, RgbImage};
use serde::Deserialize;

use crate::checkpoint::CheckpointDir;
use crate::error::Unsupported;
use crate::error::{Error, Result};

/// A `size` or `crop_size` value as written: an integer, `[h, w]`, or a dictionary.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum SizeSpec {
    /// One number: the shortest edge or a square, depending on the processor.
    Int(usize),
    /// `[height, width]` (or `[n]`).
    List(Vec<usize>),
    /// `{"shortest_edge": n}` or `{"height": h, "width": w}` (other keys are refused).
    Dict {
        shortest_edge: Option<usize>,
        longest_edge: Option<usize>,
        height: Option<usize>,
        width: Option<usize>,
        max_height: Option<usize>,
        max_width: Option<usize>,
    },
}

/// A per-channel value written as one number or one per channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PerChannel {
    /// The same value for every channel.
    One(f64),
    /// One value per channel.
    Each(Vec<f64>),
}

/// Which library's resize to reproduce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResizeBackend {
    /// torchvision's native `uint8` antialiased kernel (transformers' default backend).
    #[default]
    Torchvision,
    /// Pillow's `Image.resize` (transformers' `…ImageProcessorPil` classes).
    Pil,
}

/// An image processor config: `preprocessor_config.json`, or the `image_processor` section of
/// transformers 5's `processor_config.json`. Fields keep the file's names; `None` means the
/// processor class's default, as in transformers. Unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ImageProcessorConfig {
    /// `CLIPImageProcessor`, `ConvNextImageProcessor`, `BlipImageProcessor`, `ViTImageProcessor`.
    pub image_processor_type: Option<String>,
    /// The older name of the same thing (`ConvNextFeatureExtractor`, `CLIPFeatureExtractor`).
    pub feature_extractor_type: Option<String>,
    /// Whether to resize.
    pub do_resize: Option<bool>,
    /// The resize target.
    pub size: Option<SizeSpec>,
    /// PIL resampling code: 2 bilinear, 3 bicubic (others are refused).
    pub resample: Option<i64>,
    /// ConvNeXt: below 384, resize the shortest edge to `size / crop_pct`, then crop `size`.
    pub crop_pct: Option<f64>,
    /// Whether to center-crop to `crop_size` after resizing.
    pub do_center_crop: Option<bool>,
    /// The crop (an integer is a square).
    pub crop_size: Option<SizeSpec>,
    /// Whether to multiply by `rescale_factor`.
    pub do_rescale: Option<bool>,
    /// Usually 1/255.
    pub rescale_factor: Option<f64>,
    /// Whether to subtract `image_mean` and divide by `image_std`.
    pub do_normalize: Option<bool>,
    /// Per-channel mean (after rescaling).
    pub image_mean: Option<PerChannel>,
    /// Per-channel standard deviation (after rescaling).
    pub image_std: Option<PerChannel>,
    /// Parsed but not needed: [`pixel_values`] takes RGB images (see [`to_rgb`]).
    pub do_convert_rgb: Option<bool>,
    /// Whose resize to reproduce; not in the file.
    #[serde(skip)]
    pub backend: ResizeBackend,
}

/// The image processor classes this module reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorKind {
    /// `CLIPImageProcessor`: shortest edge, then center crop.
    Clip,
    /// `ConvNextImageProcessor` (also used by `microsoft/resnet-50`): `crop_pct` resize and crop.
    ConvNext,
    /// `BlipImageProcessor`: a square resize.
    Blip,
    /// `ViTImageProcessor`: a square bilinear resize.
    Vit,
}

/// The resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// PIL `BILINEAR` (2): the triangle filter, support 1.
    Bilinear,
    /// PIL `BICUBIC` (3): Keys' cubic with a = −0.5, support 2.
    Bicubic,
}

/// What to resize to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The shorter side becomes this; the longer one keeps the aspect ratio (truncated).
    ShortestEdge(usize),
    /// Exactly this `(height, width)`.
    Exact(usize, usize),
}

/// A config with every default filled in and every value checked.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    kind: ProcessorKind,
    resize: Option<Target>,
    filter: Filter,
    crop_pct: f64,
    crop: Option<(usize, usize)>,
    rescale: Option<f64>,
    normalize: Option<([f64; 3], [f64; 3])>,
    backend: ResizeBackend,
}

const OPENAI_CLIP_MEAN: [f64; 3] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_CLIP_STD: [f64; 3] = [0.26862954, 0.26130258, 0.27577711];
const IMAGENET_STANDARD: [f64; 3] = [0.5, 0.5, 0.5];

impl ImageProcessorConfig {
    /// Reads a checkpoint's image processor config: the `image_processor` section of
    /// `processor_config.json` when there is one (transformers 5 gives it priority), else
    /// `preprocessor_config.json`. The values are checked ([`ImageProcessorConfig::validate`]).
    pub fn load(dir: &CheckpointDir) -> Result<Self> {
        let nested = dir.root().join("processor_config.json");
        if nested.is_file() {
            let value: serde_json::Value = dir.read_json("processor_config.json")?;
            if let Some(section) = value.get("image_processor") {
                let config: Self =
                    serde_json::from_value(section.clone()).map_err(|source| Error::Config {
                        path: nested.clone(),
                        source,
                    })?;
                return config.checked(nested);
            }
        }
        let path = dir.require(
            "preprocessor_config.json",
            "image processor config (preprocessor_config.json or processor_config.json)",
        )?;
        let config: Self = dir.read_json("preprocessor_config.json")?;
        config.checked(path)
    }

    /// microsoft/resnet-50's published preprocessing (`presets/resnet-50-preprocessor.json`),
    /// for models built from a config alone.
    pub fn resnet50() -> Self {
        Self::from_json(
            include_str!("../presets/resnet-50-preprocessor.json"),
            "presets/resnet-50-preprocessor.json",
        )
        .expect("the built-in preset is valid")
    }

    /// Parses a config from JSON text; `path` names it in errors.
    pub fn from_json(text: &str, path: impl Into<std::path::PathBuf>) -> Result<Self> {
        let path = path.into();
        let config: Self = serde_json::from_str(text).map_err(|source| Error::Config {
            path: path.clone(),
            source,
        })?;
        config.checked(path)
    }

    fn checked(self, path: std::path::PathBuf) -> Result<Self> {
        self.validate().map_err(|u| u.at(path))?;
        Ok(self)
    }

    /// Refuses what this module cannot reproduce, naming the field.
    pub fn validate(&self) -> Result<(), Unsupported> {
        self.plan().map(drop)
    }

    /// The processor class, from `image_processor_type` or `feature_extractor_type`.
    pub fn kind(&self) -> Result<ProcessorKind, Unsupported> {
        let (field, name) = match (&self.image_processor_type, &self.feature_extractor_type) {
            (Some(name), _) => ("image_processor_type", name),
            (None, Some(name)) => ("feature_extractor_type", name),
            (None, None) => {
                return Err(Unsupported::new(
                    "image_processor_type",
                    "missing (neither image_processor_type nor feature_extractor_type is set)",
                ));
            }
        };
        let base = name
            .trim_end_matches("Pil")
            .trim_end_matches("Fast")
            .trim_end_matches("ImageProcessor")
            .trim_end_matches("FeatureExtractor");
        match base {
            "CLIP" => Ok(ProcessorKind::Clip),
            "ConvNext" => Ok(ProcessorKind::ConvNext),
            "Blip" => Ok(ProcessorKind::Blip),
            "ViT" => Ok(ProcessorKind::Vit),
            _ => Err(Unsupported::new(
                field,
                format!("`{name}` is not supported (CLIP, ConvNext, Blip or ViT image processors)"),
            )),
        }
    }

    /// The resampling filter (`resample`, or the processor's default).
    pub fn filter(&self) -> Result<Filter, Unsupported> {
        let default = match self.kind()? {
            ProcessorKind::Vit => 2,
            _ => 3,
        };
        match self.resample.unwrap_or(default) {
            2 => Ok(Filter::Bilinear),
            3 => Ok(Filter::Bicubic),
            other => Err(Unsupported::new(
                "resample",
                format!("PIL resampling {other} is not supported (2 bilinear or 3 bicubic)"),
            )),
        }
    }

    fn plan(&self) -> Result<Plan, Unsupported> {
        let kind = self.kind()?;
        let filter = self.filter()?;
        let (default_size, default_to_square, default_mean_std) = match kind {
            ProcessorKind::Clip => (
                SizeSpec::Int(224),
                false,
                (OPENAI_CLIP_MEAN, OPENAI_CLIP_STD),
            ),
            ProcessorKind::ConvNext => (
                SizeSpec::Int(384),
                false,
                (IMAGENET_STANDARD, IMAGENET_STANDARD),
            ),
            ProcessorKind::Blip => (
                SizeSpec::Int(384),
                true,
                (OPENAI_CLIP_MEAN, OPENAI_CLIP_STD),
            ),
            ProcessorKind::Vit => (
                SizeSpec::Int(224),
                true,
                (IMAGENET_STANDARD, IMAGENET_STANDARD),
            ),
        };
        let resize = if self.do_resize.unwrap_or(true) {
            let spec = self.size.as_ref().unwrap_or(&default_size);
            let target = target_of(spec, default_to_square, "size")?;
            if kind == ProcessorKind::ConvNext && !matches!(target, Target::ShortestEdge(_)) {
                return Err(Unsupported::new(
                    "size",
                    "the ConvNext processor needs `shortest_edge` (or one integer)",
                ));
            }
            Some(target)
        } else {
            None
        };
        let crop_pct = self.crop_pct.unwrap_or(224.0 / 256.0);
        if !(crop_pct > 0.0 && crop_pct.is_finite()) {
            return Err(Unsupported::new(
                "crop_pct",
                format!("{crop_pct} is not positive"),
            ));
        }
        let default_crop = kind == ProcessorKind::Clip;
        let crop = if self.do_center_crop.unwrap_or(default_crop) {
            let spec = self.crop_size.clone().unwrap_or(SizeSpec::Int(224));
            match target_of(&spec, true, "crop_size")? {
                Target::Exact(h, w) => Some((h, w)),
                Target::ShortestEdge(_) => {
                    return Err(Unsupported::new("crop_size", "needs a height and a width"));
                }
            }
        } else {
            None
        };
        let rescale = if self.do_rescale.unwrap_or(true) {
            let factor = self.rescale_factor.unwrap_or(1.0 / 255.0);
            if !(factor > 0.0 && factor.is_finite()) {
                return Err(Unsupported::new(
                    "rescale_factor",
                    format!("{factor} is not positive"),
                ));
            }
            Some(factor)
        } else {
            None
        };
        let normalize = if self.do_normalize.unwrap_or(true) {
            let mean = per_channel(self.image_mean.as_ref(), default_mean_std.0, "image_mean")?;
            let std = per_channel(self.image_std.as_ref(), default_mean_std.1, "image_std")?;
            if std.contains(&0.0) {
                return Err(Unsupported::new(
                    "image_std",
                    "a standard deviation is zero",
                ));
            }
            Some((mean, std))
        } else {
            None
        };
        Ok(Plan {
            kind,
            resize,
            filter,
            crop_pct,
            crop,
            rescale,
            normalize,
            backend: self.backend,
        })
    }

    /// The `(height, width)` of the pixel values made from an image of this size.
    pub fn output_size(&self, height: usize, width: usize) -> Result<(usize, usize), Unsupported> {
        let plan = self.plan()?;
        let mut size = (height, width);
        for step in plan.geometry(height, width) {
            size = match step {
                Step::Resize(h, w) | Step::Crop(h, w) => (h, w),
            };
        }
        Ok(size)
    }
}

fn target_of(
    spec: &SizeSpec,
    default_to_square: bool,
    field: &'static str,
) -> Result<Target, Unsupported> {
    let positive = |n: usize| {
        if n == 0 {
            Err(Unsupported::new(field, "sizes must be positive"))
        } else {
            Ok(n)
        }
    };
    match spec {
        SizeSpec::Int(n) if default_to_square => Ok(Target::Exact(positive(*n)?, positive(*n)?)),
        SizeSpec::Int(n) => Ok(Target::ShortestEdge(positive(*n)?)),
        SizeSpec::List(items) => match items.as_slice() {
            [n] => target_of(&SizeSpec::Int(*n), default_to_square, field),
            [h, w] => Ok(Target::Exact(positive(*h)?, positive(*w)?)),
            _ => Err(Unsupported::new(field, "a list must hold one or two sizes")),
        },
        SizeSpec::Dict {
            shortest_edge,
            longest_edge,
            height,
            width,
            max_height,
            max_width,
        } => match (
            shortest_edge,
            longest_edge,
            height,
            width,
            max_height,
            max_width,
        ) {
            (Some(s), None, None, None, None, None) => Ok(Target::ShortestEdge(positive(*s)?)),
            (None, None, Some(h), Some(w), None, None) => {
                Ok(Target::Exact(positive(*h)?, positive(*w)?))
            }
            _ => Err(Unsupported::new(
                field,
                "only {\"shortest_edge\": n} or {\"height\": h, \"width\": w} are supported",
            )),
        },
    }
}

fn per_channel(
    value: Option<&PerChannel>,
    default: [f64; 3],
    field: &'static str,
) -> Result<[f64; 3], Unsupported> {
    let values = match value {
        None => default,
        Some(PerChannel::One(v)) => [*v; 3],
        Some(PerChannel::Each(v)) => match v.as_slice() {
            [a, b, c] => [*a, *b, *c],
            [a] => [*a; 3],
            _ => {
                return Err(Unsupported::new(
                    field,
                    format!("{} values for 3 channels", v.len()),
                ));
            }
        },
    };
    if values.iter().all(|v| v.is_finite()) {
        Ok(values)
    } else {
        Err(Unsupported::new(field, "values must be finite"))
    }
}

/// One geometric step of the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Resize(usize, usize),
    Crop(usize, usize),
}

impl Plan {
    /// The resizes and crops for an image of this size, in order.
    fn geometry(&self, height: usize, width: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        match (self.kind, self.resize) {
            (_, None) => {}
            (ProcessorKind::ConvNext, Some(Target::ShortestEdge(edge))) if edge < 384 => {
                // transformers: int(shortest_edge / crop_pct), then crop (edge, edge)
                let resize_edge = (edge as f64 / self.crop_pct) as usize;
                let (h, w) = shortest_edge_size(height, width, resize_edge.max(1));
                steps.push(Step::Resize(h, w));
                steps.push(Step::Crop(edge, edge));
            }
            (ProcessorKind::ConvNext, Some(Target::ShortestEdge(edge))) => {
                steps.push(Step::Resize(edge, edge));
            }
            (_, Some(Target::ShortestEdge(edge))) => {
                let (h, w) = shortest_edge_size(height, width, edge);
                steps.push(Step::Resize(h, w));
            }
            (_, Some(Target::Exact(h, w))) => steps.push(Step::Resize(h, w)),
        }
        if let Some((h, w)) = self.crop {
            steps.push(Step::Crop(h, w));
        }
        steps
    }
}

/// transformers' `get_resize_output_image_size(default_to_square=False)`: the short side becomes
/// `edge`, the long side `int(edge * long / short)`.
fn shortest_edge_size(height: usize, width: usize, edge: usize) -> (usize, usize) {
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    let new_long = ((edge as f64 * long as f64) / short as f64) as usize;
    if width <= height {
        (new_long.max(1), edge)
    } else {
        (edge, new_long.max(1))
    }
}

/// Any decoded image as 8-bit RGB, as transformers' `convert_to_rgb` makes it with PIL:
/// grayscale is replicated, 16-bit and float samples are scaled to 8 bits, and an alpha channel
/// is composited over white with PIL's `alpha_composite` arithmetic. (CMYK JPEGs are already RGB
/// when the `image` crate has decoded them.)
pub fn to_rgb(image: &DynamicImage) -> RgbImage {
    if let DynamicImage::ImageRgb8(rgb) = image {
        return rgb.clone();
    }
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    let (width, height) = rgba.dimensions();
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for px in rgba.pixels() {
        let [r, g, b, a] = px.0;
        out.extend_from_slice(&[over_white(r, a), over_white(g, a), over_white(b, a)]);
    }
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| RgbImage::new(width, height))
}

/// One channel of PIL's `alpha_composite(white, rgba)` (7 extra bits, rounded divisions by 255).
fn over_white(value: u8, alpha: u8) -> u8 {
    const BITS: u32 = 7;
    if alpha == 0 {
        return 255;
    }
    let (value, alpha) = (u32::from(value), u32::from(alpha));
    let blend = 255 * (255 - alpha);
    let out_alpha = alpha * 255 + blend;
    let coef1 = alpha * 255 * 255 * (1 << BITS) / out_alpha;
    let coef2 = 255 * (1 << BITS) - coef1;
    let tmp = value * coef1 + 255 * coef2 + (0x80 << BITS);
    let div255 = ((tmp >> 8) + tmp) >> 8;
    (div255 >> BITS).min(255) as u8
}

/// The model input made from an RGB image: `f32` `(3, height, width)`, as the configured
/// transformers image processor makes it (one image, no batch dimension).
pub fn pixel_values(
    image: &RgbImage,
    cfg: &ImageProcessorConfig,
    device: &Device,
) -> Result<Tensor> {
    let plan = cfg.plan().map_err(|u| u.at("image processor config"))?;
    let (width, height) = image.dimensions();
    let (width, height) = (width as usize, height as usize);
    if width == 0 || height == 0 {
        return Err(Error::Input(format!(
            "the image is empty ({width}x{height})"
        )));
    }
    let mut pixels = Pixels {
        height,
        width,
        data: image.as_raw().clone(),
    };
    for step in plan.geometry(height, width) {
        pixels = match step {
            Step::Resize(h, w) => resize(&pixels, h, w, plan.filter, plan.backend),
            Step::Crop(h, w) => center_crop(&pixels, h, w, plan.backend),
        };
    }
    let values = to_planar_f32(&pixels, &plan);
    Ok(Tensor::from_vec(
        values,
        (3, pixels.height, pixels.width),
        device,
    )?)
}

/// Interleaved 8-bit RGB rows.
#[derive(Debug, Clone)]
struct Pixels {
    height: usize,
    width: usize,
    data: Vec<u8>,
}

/// Rescale and normalise, in `f32`, in the order each backend uses.
fn to_planar_f32(pixels: &Pixels, plan: &Plan) -> Vec<f32> {
    let plane = pixels.height * pixels.width;
    let torchvision = plan.backend == ResizeBackend::Torchvision;
    let norm = plan
        .normalize
        .map(|(mean, std)| (mean.map(|m| m as f32), std.map(|s| s as f32)));
    // torchvision fuses rescaling into normalisation: (x − mean/factor) / (std/factor), in f32.
    let fused = match (torchvision, plan.rescale, norm) {
        (true, Some(factor), Some((mean, std))) => {
            let inv = (1.0 / factor) as f32;
            Some((mean.map(|m| m * inv), std.map(|s| s * inv)))
        }
        _ => None,
    };
    let mut out = vec![0f32; 3 * plane];
    for (i, px) in pixels.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            let x = f32::from(px[c]);
            out[c * plane + i] = if let Some((mean, std)) = fused {
                (x - mean[c]) / std[c]
            } else {
                // the PIL backend rescales in f64 and stores f32
                let x = match plan.rescale {
                    Some(factor) if torchvision => x * factor as f32,
                    Some(factor) => (f64::from(px[c]) * factor) as f32,
                    None => x,
                };
                match norm {
                    Some((mean, std)) => (x - mean[c]) / std[c],
                    None => x,
                }
            };
        }
    }
    out
}

/// transformers' center crop: a crop larger than the image pads it with zeros (torchvision puts
/// the odd pixel after the image, the PIL backend before it).
fn center_crop(pixels: &Pixels, height: usize, width: usize, backend: ResizeBackend) -> Pixels {
    let (rows, row_pad) = crop_axis(pixels.height, height, backend);
    let (cols, col_pad) = crop_axis(pixels.width, width, backend);
    let mut data = vec![0u8; height * width * 3];
    for (r, src_row) in rows.enumerate() {
        let dst_row = r + row_pad;
        let src = &pixels.data[(src_row * pixels.width + cols.start) * 3..][..cols.len() * 3];
        data[(dst_row * width + col_pad) * 3..][..cols.len() * 3].copy_from_slice(src);
    }
    Pixels {
        height,
        width,
        data,
    }
}

/// The source range kept along one axis, and where it lands in the output.
fn crop_axis(size: usize, crop: usize, backend: ResizeBackend) -> (std::ops::Range<usize>, usize) {
    if crop <= size {
        let start = (size - crop) / 2;
        (start..start + crop, 0)
    } else {
        let extra = crop - size;
        let before = match backend {
            ResizeBackend::Torchvision => extra / 2,
            ResizeBackend::Pil => extra.div_ceil(2),
        };
        (0..size, before)
    }
}

/// Separable antialiased resize of 8-bit RGB: one pass per axis, each only when that side
/// changes, rounding and clamping to 8 bits after each (PIL and torchvision `uint8`).
fn resize(
    pixels: &Pixels,
    height: usize,
    width: usize,
    filter: Filter,
    backend: ResizeBackend,
) -> Pixels {
    // Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many
    // pixels as the width (older Pillow and torchvision always start with the horizontal one).
    let (in_h, in_w) = (pixels.height as i64, pixels.width as i64);
    let (out_h, out_w) = (height as i64, width as i64);
    let vertical_first =
        backend == ResizeBackend::Pil && in_h - out_h > 0 && in_h - out_h > (in_w - out_w) * 2;
    let horizontal = |p: &Pixels| {
        if width != p.width {
            resample_rows(p, &Taps::new(p.width, width, filter, backend))
        } else {
            p.clone()
        }
    };
    let vertical = |p: &Pixels| {
        if height != p.height {
            resample_columns(p, &Taps::new(p.height, height, filter, backend))
        } else {
            p.clone()
        }
    };
    if vertical_first {
        horizontal(&vertical(pixels))
    } else {
        vertical(&horizontal(pixels))
    }
}

/// Integer weights of a 1-D antialiased resampling, one window of input pixels per output pixel.
#[derive(Debug, Clone)]
struct Taps {
    /// `(first input index, count)` per output pixel.
    bounds: Vec<(usize, usize)>,
    /// `kernel` weights per output pixel (the first `count` are used).
    weights: Vec<i32>,
    kernel: usize,
    precision: u32,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bilinear => {
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

impl Taps {
    /// PIL's `precompute_coeffs` (the same double arithmetic as torch's
    /// `_compute_indices_min_size_weights_aa`), then the backend's fixed-point weights.
    fn new(in_size: usize, out_size: usize, filter: Filter, backend: ResizeBackend) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let filter_scale = scale.max(1.0);
        let support = filter.support() * filter_scale;
        let kernel = support.ceil() as usize * 2 + 1;
        let inv = 1.0 / filter_scale;
        let mut bounds = Vec::with_capacity(out_size);
        let mut float_weights = vec![0f64; out_size * kernel];
        let mut max_weight = 0f64;
        for i in 0..out_size {
            let center = (i as f64 + 0.5) * scale;
            let first = ((center - support + 0.5) as i64).max(0);
            let end = ((center + support + 0.5) as i64).min(in_size as i64);
            let count = (end - first).clamp(0, kernel as i64) as usize;
            let first = first as usize;
            let row = &mut float_weights[i * kernel..(i + 1) * kernel];
            let mut total = 0.0;
            for (j, w) in row.iter_mut().enumerate().take(count) {
                *w = filter.weight(((j + first) as f64 - center + 0.5) * inv);
                total += *w;
            }
            if total != 0.0 {
                for w in row.iter_mut().take(count) {
                    *w /= total;
                    max_weight = max_weight.max(*w);
                }
            }
            bounds.push((first, count));
        }
        let precision = match backend {
            ResizeBackend::Pil => 22,
            ResizeBackend::Torchvision => {
                // the most bits for which the largest weight still fits an i16
                let mut bits = 0u32;
                while bits < 22 {
                    let next = (0.5 + max_weight * f64::from(1u32 << (bits + 1))) as i64;
                    if next >= 1 << 15 {
                        break;
                    }
                    bits += 1;
                }
                bits
            }
        };
        let unit = f64::from(1u32 << precision);
        let weights = float_weights
            .iter()
            .map(|&w| {
                let v = w * unit;
                if v < 0.0 {
                    (-0.5 + v) as i32
                } else {
                    (0.5 + v) as i32
                }
            })
            .collect();
        Self {
            bounds,
            weights,
            kernel,
            precision: precision.max(1),
        }
    }

    /// `(bias + Σ pixel·weight) >> precision`, clamped to 0..=255.
    #[inline]
    fn finish(&self, acc: i32) -> u8 {
        (acc >> self.precision).clamp(0, 255) as u8
    }

    #[inline]
    fn bias(&self) -> i32 {
        1 << (self.precision - 1)
    }
}

fn resample_rows(pixels: &Pixels, taps: &Taps) -> Pixels {
    let out_width = taps.bounds.len();
    let mut data = vec![0u8; pixels.height * out_width * 3];
    let in_stride = pixels.width * 3;
    for (src, dst) in pixels
        .data
        .chunks_exact(in_stride)
        .zip(data.chunks_exact_mut(out_width * 3))
    {
        for (x, &(first, count)) in taps.bounds.iter().enumerate() {
            let weights = &taps.weights[x * taps.kernel..][..count];
            let window = &src[first * 3..(first + count) * 3];
            let mut acc = [taps.bias(); 3];
            for (w, px) in weights.iter().zip(window.chunks_exact(3)) {
                acc[0] += i32::from(px[0]) * w;
                acc[1] += i32::from(px[1]) * w;
                acc[2] += i32::from(px[2]) * w;
            }
            dst[x * 3] = taps.finish(acc[0]);
            dst[x * 3 + 1] = taps.finish(acc[1]);
            dst[x * 3 + 2] = taps.finish(acc[2]);
        }
    }
    Pixels {
        height: pixels.height,
        width: out_width,
        data,
    }
}

fn resample_columns(pixels: &Pixels, taps: &Taps) -> Pixels {
    let out_height = taps.bounds.len();
    let stride = pixels.width * 3;
    let mut data = vec![0u8; out_height * stride];
    let mut acc = vec![0i32; stride];
    for (y, &(first, count)) in taps.bounds.iter().enumerate() {
        acc.fill(taps.bias());
        let weights = &taps.weights[y * taps.kernel..][..count];
        for (k, w) in weights.iter().enumerate() {
            let row = &pixels.data[(first + k) * stride..][..stride];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += i32::from(p) * w;
            }
        }
        for (out, &a) in data[y * stride..][..stride].iter_mut().zip(&acc) {
            *out = taps.finish(a);
        }
    }
    Pixels {
        height: out_height,
        width: pixels.width,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ImageProcessorConfig {
        ImageProcessorConfig::from_json(json, "test.json").unwrap()
    }

    #[test]
    fn size_shapes_follow_the_processor_class() {
        let clip = config(r#"{"image_processor_type": "CLIPImageProcessor", "size": 224}"#);
        assert_eq!(clip.output_size(200, 300).unwrap(), (224, 224));
        let no_crop = config(
            r#"{"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 10}, "do_center_crop": false}"#,
        );
        assert_eq!(no_crop.output_size(200, 300).unwrap(), (10, 15));
        assert_eq!(no_crop.output_size(457, 123).unwrap(), (37, 10));
        let blip = config(r#"{"image_processor_type": "BlipImageProcessor", "size": 384}"#);
        assert_eq!(blip.output_size(200, 300).unwrap(), (384, 384));
        let blip_hw = config(
            r#"{"image_processor_type": "BlipImageProcessor", "size": {"height": 20, "width": 30}}"#,
        );
        assert_eq!(blip_hw.output_size(200, 300).unwrap(), (20, 30));
        let convnext = config(
            r#"{"feature_extractor_type": "ConvNextFeatureExtractor", "size": 224, "crop_pct": 0.875}"#,
        );
        assert_eq!(convnext.output_size(200, 300).unwrap(), (224, 224));
        let big = config(r#"{"image_processor_type": "ConvNextImageProcessor", "size": 384}"#);
        assert_eq!(big.output_size(200, 300).unwrap(), (384, 384));
    }

    #[test]
    fn unsupported_values_name_their_field() {
        for (json, field) in [
            (
                r#"{"image_processor_type": "Qwen2VLImageProcessor"}"#,
                "image_processor_type",
            ),
            (r#"{"do_resize": true}"#, "image_processor_type"),
            (
                r#"{"image_processor_type": "CLIPImageProcessor", "resample": 1}"#,
                "resample",
            ),
            (
                r#"{"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 5, "longest_edge": 9}}"#,
                "size",
            ),
            (
                r#"{"image_processor_type": "ConvNextImageProcessor", "size": {"height": 5, "width": 9}}"#,
                "size",
            ),
            (
                r#"{"image_processor_type": "ViTImageProcessor", "image_std": [1, 0, 1]}"#,
                "image_std",
            ),
            (
                r#"{"image_processor_type": "ViTImageProcessor", "image_mean": [1, 2]}"#,
                "image_mean",
            ),
            (
                r#"{"image_processor_type": "CLIPImageProcessor", "size": 0}"#,
                "size",
            ),
        ] {
            let err = ImageProcessorConfig::from_json(json, "x.json").unwrap_err();
            match err {
                Error::Unsupported { field: f, .. } => assert_eq!(f, field, "{json}"),
                other => panic!("{json}: {other}"),
            }
        }
        let err = ImageProcessorConfig::from_json("{\"size\": \"big\"}", "x.json").unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
    }

    #[test]
    fn identity_resize_and_crop_keep_pixels() {
        let data: Vec<u8> = (0..5 * 4 * 3).map(|i| (i * 7 % 256) as u8).collect();
        let pixels = Pixels {
            height: 5,
            width: 4,
            data: data.clone(),
        };
        for backend in [ResizeBackend::Torchvision, ResizeBackend::Pil] {
            let same = resize(&pixels, 5, 4, Filter::Bicubic, backend);
            assert_eq!(same.data, data);
            let crop = center_crop(&pixels, 5, 4, backend);
            assert_eq!(crop.data, data);
        }
        // a larger crop pads with zeros: torchvision puts the odd column after, PIL before
        let tv = center_crop(&pixels, 5, 7, ResizeBackend::Torchvision);
        assert_eq!(&tv.data[..3], &[0, 0, 0]);
        assert_eq!(&tv.data[3..6], &data[..3]);
        let pil = center_crop(&pixels, 5, 7, ResizeBackend::Pil);
        assert_eq!(&pil.data[3..6], &[0, 0, 0]);
        assert_eq!(&pil.data[6..9], &data[..3]);
    }

    #[test]
    fn constant_images_stay_constant() {
        let pixels = Pixels {
            height: 31,
            width: 17,
            data: vec![200; 31 * 17 * 3],
        };
        for filter in [Filter::Bilinear, Filter::Bicubic] {
            for backend in [ResizeBackend::Torchvision, ResizeBackend::Pil] {
                for (h, w) in [(7, 5), (64, 40), (31, 3)] {
                    let out = resize(&pixels, h, w, filter, backend);
                    assert!(out.data.iter().all(|&v| v == 200), "{filter:?} {backend:?}");
                }
            }
        }
    }

    #[test]
    fn alpha_is_composited_over_white() {
        assert_eq!(over_white(10, 0), 255);
        assert_eq!(over_white(10, 255), 10);
        assert_eq!(over_white(0, 128), 127);
        let gray16 = DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(
            2,
            1,
            image::Luma([65535u16]),
        ));
        assert_eq!(to_rgb(&gray16).as_raw(), &vec![255u8; 6]);
    }
}
