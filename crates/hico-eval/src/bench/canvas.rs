//! [`Canvas`]: an RGB frame to draw needles and haystack frames on (fills, rectangles,
//! discs, triangles, crosses, text in hico-video's built-in 5×7 font), and the named
//! colours the benchmarks use.

use hico_video::font::{draw_text, text_width};

/// An RGB colour.
pub type Rgb = [u8; 3];

/// A colour with the name the questions and clues use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named {
    /// Upper-case name drawn in clues and written in options.
    pub name: &'static str,
    /// The colour.
    pub rgb: Rgb,
}

const fn named(name: &'static str, rgb: Rgb) -> Named {
    Named { name, rgb }
}

/// The four answer colours (shapes on final needles, NIAH needles).
pub const ANSWER_COLOURS: [Named; 4] = [
    named("RED", [230, 30, 30]),
    named("GREEN", [30, 200, 40]),
    named("BLUE", [30, 60, 230]),
    named("YELLOW", [245, 225, 20]),
];

/// Background colours of multi-hop needles (never an answer colour).
pub const BACKGROUNDS: [Named; 10] = [
    named("ORANGE", [255, 140, 0]),
    named("PINK", [255, 150, 200]),
    named("CYAN", [0, 220, 230]),
    named("PURPLE", [130, 40, 170]),
    named("WHITE", [250, 250, 250]),
    named("BLACK", [10, 10, 10]),
    named("BROWN", [120, 70, 20]),
    named("TEAL", [0, 120, 120]),
    named("LIME", [170, 255, 60]),
    named("NAVY", [10, 20, 100]),
];

/// Shapes drawn on needles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A filled square.
    Square,
    /// A filled disc.
    Circle,
    /// A filled upward triangle.
    Triangle,
    /// A plus-shaped cross.
    Cross,
}

impl Shape {
    /// All shapes.
    pub const ALL: [Shape; 4] = [Shape::Square, Shape::Circle, Shape::Triangle, Shape::Cross];

    /// Upper-case name used in options.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Square => "SQUARE",
            Shape::Circle => "CIRCLE",
            Shape::Triangle => "TRIANGLE",
            Shape::Cross => "CROSS",
        }
    }
}

/// Black or white, whichever reads better on `bg`.
pub fn ink_for(bg: Rgb) -> Rgb {
    let luma = 0.299 * bg[0] as f32 + 0.587 * bg[1] as f32 + 0.114 * bg[2] as f32;
    if luma > 128.0 {
        [0, 0, 0]
    } else {
        [255, 255, 255]
    }
}

/// A packed RGB image, row-major, 3 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height · width · 3` bytes.
    pub data: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `bg`.
    pub fn new(width: usize, height: usize, bg: Rgb) -> Self {
        let data = bg
            .iter()
            .copied()
            .cycle()
            .take(width * height * 3)
            .collect();
        Self {
            width,
            height,
            data,
        }
    }

    /// Set one pixel (ignored outside the canvas).
    pub fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 3;
            self.data[i..i + 3].copy_from_slice(&c);
        }
    }

    /// The pixel at `(x, y)`.
    pub fn get(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Fill the axis-aligned rectangle `[x0, x1) × [y0, y1)`.
    pub fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        for y in y0..y1 {
            for x in x0..x1 {
                self.put(x, y, c);
            }
        }
    }

    /// Draw `shape` filled in `c`, centred at `(cx, cy)` with half-size `r`.
    pub fn shape(&mut self, shape: Shape, cx: i64, cy: i64, r: i64, c: Rgb) {
        for y in cy - r..=cy + r {
            for x in cx - r..=cx + r {
                let (dx, dy) = (x - cx, y - cy);
                let inside = match shape {
                    Shape::Square => true,
                    Shape::Circle => dx * dx + dy * dy <= r * r,
                    // Apex at the top, base at the bottom: |dx| grows with dy.
                    Shape::Triangle => 2 * dx.abs() <= dy + r,
                    Shape::Cross => dx.abs() * 3 <= r || dy.abs() * 3 <= r,
                };
                if inside {
                    self.put(x, y, c);
                }
            }
        }
    }

    /// Width in pixels of `text` at `scale`.
    pub fn text_width(text: &str, scale: usize) -> usize {
        text_width(text, scale)
    }

    /// Draw `text` with its top-left corner at `(x, y)`, each font pixel a `scale × scale`
    /// block (hico-video's font; clipped at the edges).
    pub fn text(&mut self, text: &str, x: i64, y: i64, scale: usize, c: Rgb) {
        let (w, h) = (self.width, self.height);
        draw_text(&mut self.data, w, h, x, y, text, scale, c);
    }

    /// Draw `text` centred horizontally with its top at `y`.
    pub fn text_centred(&mut self, text: &str, y: i64, scale: usize, c: Rgb) {
        let w = Self::text_width(text, scale) as i64;
        self.text(text, (self.width as i64 - w) / 2, y, scale, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_text_land_where_drawn() {
        let mut c = Canvas::new(32, 32, [0, 0, 0]);
        c.shape(Shape::Circle, 16, 16, 6, [255, 0, 0]);
        assert_eq!(c.get(16, 16), [255, 0, 0]);
        assert_eq!(
            c.get(16 + 5, 16 + 5),
            [0, 0, 0],
            "corner of the box is outside a disc"
        );
        c.text("T", 0, 0, 1, [0, 255, 0]);
        assert_eq!(c.get(0, 0), [0, 255, 0]);
        assert_eq!(c.get(2, 6), [0, 255, 0]);
        assert_eq!(c.get(0, 6), [0, 0, 0]);
        assert_eq!(Canvas::text_width("AB", 2), 22);
        assert_eq!(ink_for([250, 250, 250]), [0, 0, 0]);
    }

    #[test]
    fn palettes_are_disjoint_and_named_uniquely() {
        let mut names: Vec<&str> = ANSWER_COLOURS
            .iter()
            .chain(&BACKGROUNDS)
            .map(|n| n.name)
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ANSWER_COLOURS.len() + BACKGROUNDS.len());
    }
}
