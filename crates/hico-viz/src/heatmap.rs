//! A generic heatmap figure (rows × columns of values on the viridis scale, a colour bar
//! on the right), used by the attention, drop-pattern and NIAH plots.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::figure::{DrawResult, Figure, color_bar, err, font, scale_color, text_on};

/// Colour of cells without a value.
const MISSING: RGBColor = RGBColor(215, 215, 215);

/// A heatmap: `values[r][c]`, row 0 drawn at the bottom; `None` cells are grey.
#[derive(Debug)]
pub(crate) struct Heatmap {
    /// Caption above the plot.
    pub title: String,
    /// `values[r][c]`; every row has `n_cols` entries.
    pub values: Vec<Vec<Option<f64>>>,
    /// Number of columns.
    pub n_cols: usize,
    /// Label of each row.
    pub row_labels: Vec<String>,
    /// Label of each column.
    pub col_labels: Vec<String>,
    /// Upper bound on the number of x tick labels.
    pub max_x_labels: usize,
    /// X axis description (with unit).
    pub x_desc: String,
    /// Y axis description (with unit).
    pub y_desc: String,
    /// Colour-bar description.
    pub bar_desc: String,
    /// Colour scale `(lo, hi)`.
    pub range: (f64, f64),
    /// Write each value into its cell.
    pub annotate: bool,
    /// Picture size in pixels.
    pub size: (u32, u32),
}

impl Heatmap {
    /// Smallest and largest present value, or `(0, 1)` when there is none.
    pub(crate) fn data_range(values: &[Vec<Option<f64>>]) -> (f64, f64) {
        let it = values.iter().flatten().flatten().copied();
        let lo = it.clone().fold(f64::INFINITY, f64::min);
        let hi = it.fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) }
    }
}

/// Label of the cell centred at integer `v` (cell `i` spans `i - 0.5 .. i + 0.5`); ticks
/// that plotters puts between cell centres get no label.
fn label_at(labels: &[String], v: f64) -> String {
    let r = v.round();
    if (v - r).abs() > 1e-6 || r < 0.0 {
        return String::new();
    }
    labels.get(r as usize).cloned().unwrap_or_default()
}

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let body = root.titled(&self.title, font(24)).map_err(err)?;
        let (w, _) = body.dim_in_pixel();
        let (main, bar) = body.split_horizontally(w.saturating_sub(130));
        let mut chart = ChartBuilder::on(&main)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(
                -0.5..self.n_cols as f64 - 0.5,
                -0.5..self.values.len() as f64 - 0.5,
            )
            .map_err(err)?;
        let col_label = |v: &f64| label_at(&self.col_labels, *v);
        let row_label = |v: &f64| label_at(&self.row_labels, *v);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .label_style(font(16))
            .axis_desc_style(font(18))
            .x_labels(self.max_x_labels.min(self.n_cols).max(1))
            .y_labels(self.values.len().clamp(1, 30))
            .x_label_formatter(&col_label)
            .y_label_formatter(&row_label)
            .draw()
            .map_err(err)?;
        let (lo, hi) = self.range;
        let cell = |r: usize, c: usize, v: Option<f64>| {
            let color = v.map_or(MISSING, |v| scale_color(v, lo, hi));
            let (x, y) = (c as f64, r as f64);
            Rectangle::new([(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)], color.filled())
        };
        chart
            .draw_series(
                self.values
                    .iter()
                    .enumerate()
                    .flat_map(|(r, row)| row.iter().enumerate().map(move |(c, v)| cell(r, c, *v))),
            )
            .map_err(err)?;
        if self.annotate {
            let centered = Pos::new(HPos::Center, VPos::Center);
            chart
                .draw_series(self.values.iter().enumerate().flat_map(|(r, row)| {
                    row.iter().enumerate().filter_map(move |(c, v)| {
                        let v = (*v)?;
                        let style = font(17)
                            .color(text_on(&scale_color(v, lo, hi)))
                            .pos(centered);
                        Some(Text::new(format!("{v:.2}"), (c as f64, r as f64), style))
                    })
                }))
                .map_err(err)?;
        }
        color_bar(&bar, lo, hi, &self.bar_desc, 10, 70)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cell_centres_are_labelled() {
        let l = ["a".to_string(), "b".to_string()];
        assert_eq!(label_at(&l, 1.0), "b");
        assert_eq!(label_at(&l, 0.5), "");
        assert_eq!(label_at(&l, -0.5), "");
        assert_eq!(label_at(&l, 2.0), "");
    }
}
