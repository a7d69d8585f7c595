//! The paper's Fig. 3 redrawn from our own figures: the CLAP score of each emotion's "{emotion}
//! song" per variant, as grouped bars, written as SVG and PNG. The font is embedded (DejaVu
//! Sans), so the figure looks the same on any machine.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use anyhow::{Context, anyhow};
use ekphrasis_shared::domain::{Emotion, Variant};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// CLAP by variant, then by emotion.
pub type ClapByEmotion = BTreeMap<Variant, BTreeMap<Emotion, f64>>;

const SIZE: (u32, u32) = (900, 520);
const COLOURS: [RGBColor; 4] = [
    RGBColor(0x4c, 0x72, 0xb0),
    RGBColor(0xdd, 0x84, 0x52),
    RGBColor(0x55, 0xa8, 0x68),
    RGBColor(0xc4, 0x4e, 0x52),
];

/// Writes `stem.svg` and `stem.png`.
pub fn write(clap: &ClapByEmotion, stem: &Path) -> anyhow::Result<()> {
    register_embedded_font();
    let svg = stem.with_extension("svg");
    draw(SVGBackend::new(&svg, SIZE), clap)
        .with_context(|| format!("drawing {}", svg.display()))?;
    let png = stem.with_extension("png");
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    draw(BitMapBackend::with_buffer(&mut pixels, SIZE), clap)
        .with_context(|| format!("drawing {}", png.display()))?;
    image::RgbImage::from_raw(SIZE.0, SIZE.1, pixels)
        .expect("the buffer is the image's size")
        .save(&png)
        .with_context(|| format!("writing {}", png.display()))
}

fn register_embedded_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped by the crate; registering cannot fail.
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

fn draw<B: DrawingBackend>(backend: B, clap: &ClapByEmotion) -> anyhow::Result<()>
where
    B::ErrorType: 'static,
{
    let fail = |e: DrawingAreaErrorKind<B::ErrorType>| anyhow!("{e}");
    let root = backend.into_drawing_area();
    root.fill(&WHITE).map_err(fail)?;
    let variants: Vec<Variant> = clap.keys().copied().collect();
    let values = clap.values().flat_map(|m| m.values().copied());
    let (low, high) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((high - low) * 0.1).max(0.01);
    let groups = Emotion::ALL.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "CLAP of each emotion's \"{emotion} song\" (the paper's Fig. 3)",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..groups, (low.min(0.0) - pad)..(high + pad))
        .map_err(fail)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(Emotion::ALL.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            match (x.fract() - 0.5).abs() < 1e-6 && i < Emotion::ALL.len() {
                true => Emotion::ALL[i].as_str().to_string(),
                false => String::new(),
            }
        })
        .y_desc("CLAP (cosine)")
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(fail)?;
    let width = 0.8 / variants.len().max(1) as f64;
    for (v, variant) in variants.iter().enumerate() {
        let colour = COLOURS[v % COLOURS.len()];
        let bars = Emotion::ALL.iter().enumerate().filter_map(|(e, emotion)| {
            let value = *clap[variant].get(emotion)?;
            let left = e as f64 + 0.1 + v as f64 * width;
            Some(Rectangle::new(
                [(left, 0.0), (left + width * 0.9, value)],
                colour.filled(),
            ))
        });
        chart
            .draw_series(bars)
            .map_err(fail)?
            .label(format!("MG-S {}", title(*variant)))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(fail)?;
    root.present().map_err(fail)?;
    Ok(())
}

/// A variant's name as the paper's Table II writes it.
pub fn title(variant: Variant) -> &'static str {
    match variant {
        Variant::Emotive => "Emotive",
        Variant::Narrative => "Narrative",
        Variant::Lyrical => "Lyrical",
        Variant::Optimized => "Optimized",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_figures_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut clap = ClapByEmotion::new();
        clap.insert(
            Variant::Emotive,
            [(Emotion::Happy, 0.1), (Emotion::Sad, -0.05)].into(),
        );
        clap.insert(Variant::Lyrical, [(Emotion::Happy, 0.2)].into());
        write(&clap, &dir.path().join("fig")).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("fig.svg")).unwrap();
        assert!(
            svg.contains("MG-S Lyrical") && svg.contains("happy"),
            "{svg}"
        );
        let png = image::open(dir.path().join("fig.png")).unwrap();
        assert_eq!((png.width(), png.height()), SIZE);
        // Not blank: the bars' colours are in it.
        let rgb = png.to_rgb8();
        let blue = Rgb([0x4c, 0x72, 0xb0]);
        assert!(rgb.pixels().any(|p| *p == blue));
    }

    use image::Rgb;
}
