//! Shared drawing machinery: the embedded font, writing one figure to PNG and SVG, the
//! colour scale and its bar, frame binning and axis-label formatting.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::VizError;

/// DejaVu Sans (Debian fonts-dejavu-core), see `assets/DejaVuSans-LICENSE.txt`.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Font family name every text style uses.
pub(crate) const FAMILY: &str = "sans-serif";

/// Register the embedded font once; plotters falls back from other styles to `Normal`.
fn ensure_font() -> Result<(), VizError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(VizError::Draw {
            path: PathBuf::from("assets/DejaVuSans.ttf"),
            msg: "embedded font failed to load".into(),
        })
    }
}

/// Result of drawing onto one backend; plotters' errors are turned into text.
pub(crate) type DrawResult = Result<(), String>;

/// Turn any displayable plotters error into the text of a [`DrawResult`].
pub(crate) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Something that can draw itself onto any plotters backend.
pub(crate) trait Figure {
    /// Picture size in pixels (width, height).
    fn size(&self) -> (u32, u32);
    /// Draw onto the whole `root` area (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// Write `fig` to `stem.png` and `stem.svg`, creating the parent directory.
pub(crate) fn render<F: Figure>(fig: &F, out_stem: &Path) -> Result<Vec<PathBuf>, VizError> {
    ensure_font()?;
    if let Some(parent) = out_stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| VizError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let png = with_ext(out_stem, "png");
    let svg = with_ext(out_stem, "svg");
    let draw_err = |path: &Path| {
        let path = path.to_path_buf();
        move |msg: String| VizError::Draw { path, msg }
    };
    {
        let root = BitMapBackend::new(&png, fig.size()).into_drawing_area();
        root.fill(&WHITE).map_err(err).map_err(draw_err(&png))?;
        fig.draw(&root).map_err(draw_err(&png))?;
        root.present().map_err(err).map_err(draw_err(&png))?;
    }
    {
        let root = SVGBackend::new(&svg, fig.size()).into_drawing_area();
        root.fill(&WHITE).map_err(err).map_err(draw_err(&svg))?;
        fig.draw(&root).map_err(draw_err(&svg))?;
        root.present().map_err(err).map_err(draw_err(&svg))?;
    }
    Ok(vec![png, svg])
}

/// `stem` with `.ext` appended (keeps any dots already in the file name).
fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_os_string();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Text style of the embedded family at `px` pixels.
pub(crate) fn font(px: u32) -> TextStyle<'static> {
    (FAMILY, px).into_font().into()
}

/// Colour of `v` on the viridis scale spanning `lo..=hi` (flat data maps to the middle).
pub(crate) fn scale_color(v: f64, lo: f64, hi: f64) -> RGBColor {
    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    ViridisRGB::get_color(t.clamp(0.0, 1.0) as f32)
}

/// A readable text colour on top of `c` (black on light, white on dark).
pub(crate) fn text_on(c: &RGBColor) -> &'static RGBColor {
    let luma = 0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64;
    if luma > 140.0 { &BLACK } else { &WHITE }
}

/// Draw a vertical colour bar for `lo..=hi` labelled `desc` into `area`.
pub(crate) fn color_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    desc: &str,
    top: u32,
    bottom: u32,
) -> DrawResult {
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let mut chart = ChartBuilder::on(area)
        .margin_top(top)
        .margin_bottom(bottom)
        .margin_right(10)
        .y_label_area_size(0)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(desc)
        .label_style(font(15))
        .axis_desc_style(font(16))
        .y_labels(6)
        .y_label_formatter(&|v| fmt_num(*v))
        .draw()
        .map_err(err)?;
    let steps = 100;
    let h = (hi - lo) / steps as f64;
    chart
        .draw_series((0..steps).map(|i| {
            let y0 = lo + i as f64 * h;
            let c = scale_color(y0 + h / 2.0, lo, hi);
            Rectangle::new([(0.0, y0), (1.0, y0 + h)], c.filled())
        }))
        .map_err(err)?;
    Ok(())
}

/// Compact number for tick labels: up to 3 significant decimals, no trailing zeros.
pub(crate) fn fmt_num(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e6) {
        return format!("{v:.1e}");
    }
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Video time for axis labels: `12.5`, `95`, `3600` seconds as a plain number.
pub(crate) fn fmt_time(t: f64) -> String {
    if t >= 100.0 {
        format!("{t:.0}")
    } else {
        fmt_num(t)
    }
}

/// Frames `0..n` split into at most [`crate::MAX_COLUMNS`] contiguous bins; returns each bin's
/// `(start, end)` frame range (end exclusive).
pub(crate) fn frame_bins(n: usize) -> Vec<(usize, usize)> {
    let cols = n.min(crate::MAX_COLUMNS);
    (0..cols)
        .map(|b| (b * n / cols, (b + 1) * n / cols))
        .collect()
}

/// Tick label for frame column position `x` (columns are `[b, b+1)`), as video time of the
/// bin's first frame.
pub(crate) fn column_time(x: f64, bins: &[(usize, usize)], times: &[f64]) -> String {
    if bins.is_empty() || x < 0.0 {
        return String::new();
    }
    let b = (x.floor() as usize).min(bins.len() - 1);
    let frame = bins[b].0;
    times.get(frame).map(|&t| fmt_time(t)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_all_frames() {
        let b = frame_bins(10_000);
        assert_eq!(b.len(), crate::MAX_COLUMNS);
        assert_eq!(b[0], (0, 10));
        assert_eq!(b.last().unwrap().1, 10_000);
        assert!(b.windows(2).all(|w| w[0].1 == w[1].0));
        assert_eq!(
            frame_bins(7),
            (0..7).map(|i| (i, i + 1)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(12.0), "12");
        assert_eq!(fmt_num(1234.0), "1234");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_time(3600.4), "3600");
    }

    #[test]
    fn stem_keeps_dots() {
        assert_eq!(
            with_ext(Path::new("a/b.c"), "png"),
            PathBuf::from("a/b.c.png")
        );
    }
}
