//! QR codes for share links, as a grid of dark and light modules with the quiet zone around it,
//! ready to be drawn (the `qrcode` crate encodes; the page draws the grid itself).

use qrcode::{Color, EcLevel, QrCode};

/// Light modules around the code, as the standard asks, so that phones find it.
pub const QUIET_ZONE: usize = 4;

/// A QR code's modules, the quiet zone included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrGrid {
    /// Modules per side.
    size: usize,
    /// Row by row, `true` for dark.
    dark: Vec<bool>,
}

/// Why a text could not be made into a QR code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("this text cannot be made into a QR code: {0}")]
pub struct QrError(String);

impl QrGrid {
    /// The code for `text`, with medium error correction (a screen seen at an angle, a smudge).
    pub fn encode(text: &str) -> Result<Self, QrError> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|error| QrError(error.to_string()))?;
        let width = code.width();
        let modules = code.to_colors();
        let size = width + 2 * QUIET_ZONE;
        let mut dark = vec![false; size * size];
        for y in 0..width {
            for x in 0..width {
                dark[(y + QUIET_ZONE) * size + x + QUIET_ZONE] =
                    modules[y * width + x] == Color::Dark;
            }
        }
        Ok(Self { size, dark })
    }

    /// Modules per side, the quiet zone included.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the module at column `x`, row `y` is dark (outside the grid: light).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.dark[y * self.size + x]
    }

    /// Each row's dark runs as (first column, length): what a drawing fills.
    pub fn dark_runs(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        (0..self.size).flat_map(move |y| {
            let mut runs = Vec::new();
            let mut x = 0;
            while x < self.size {
                if self.is_dark(x, y) {
                    let start = x;
                    while x < self.size && self.is_dark(x, y) {
                        x += 1;
                    }
                    runs.push((y, start, x - start));
                } else {
                    x += 1;
                }
            }
            runs
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://ekphrasis.example/t/AAAAAAAAAAAAAAAAAAAAKg";

    /// The 7×7 finder pattern: a dark ring, a light ring, a dark 3×3 centre.
    fn finder_at(grid: &QrGrid, left: usize, top: usize) -> bool {
        (0..7).all(|dy| {
            (0..7).all(|dx| {
                let ring = dx.min(dy).min(6 - dx).min(6 - dy);
                grid.is_dark(left + dx, top + dy) == (ring != 1)
            })
        })
    }

    #[test]
    fn a_share_link_has_finders_in_three_corners_inside_the_quiet_zone() {
        let grid = QrGrid::encode(LINK).expect("a code");
        let inner = grid.size() - 2 * QUIET_ZONE;
        // Versions are 21, 25, 29, … modules wide; a 50-character link at level M needs 3 or 4.
        assert_eq!((inner - 17) % 4, 0);
        assert!((29..=33).contains(&inner), "{inner} modules");
        assert!(finder_at(&grid, QUIET_ZONE, QUIET_ZONE));
        assert!(finder_at(&grid, QUIET_ZONE + inner - 7, QUIET_ZONE));
        assert!(finder_at(&grid, QUIET_ZONE, QUIET_ZONE + inner - 7));
        assert!(!finder_at(
            &grid,
            QUIET_ZONE + inner - 7,
            QUIET_ZONE + inner - 7
        ));
        for i in 0..grid.size() {
            for edge in [0, QUIET_ZONE - 1, grid.size() - 1] {
                assert!(
                    !grid.is_dark(i, edge) && !grid.is_dark(edge, i),
                    "quiet zone"
                );
            }
        }
    }

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let grid = QrGrid::encode(LINK).expect("a code");
        let mut painted = vec![false; grid.size() * grid.size()];
        for (y, x, len) in grid.dark_runs() {
            for dx in 0..len {
                assert!(!painted[y * grid.size() + x + dx]);
                painted[y * grid.size() + x + dx] = true;
            }
        }
        for y in 0..grid.size() {
            for x in 0..grid.size() {
                assert_eq!(painted[y * grid.size() + x], grid.is_dark(x, y));
            }
        }
    }

    #[test]
    fn different_links_give_different_codes_and_too_much_text_is_refused() {
        let a = QrGrid::encode(LINK).expect("a code");
        let b = QrGrid::encode(&LINK.replace("Kg", "Kw")).expect("a code");
        assert_ne!(a, b);
        assert!(QrGrid::encode(&"x".repeat(5000)).is_err());
    }
}
