//! The drop-depth curve of an ablation: the uncompressed model's accuracy when every visual
//! token is removed after its first `layers_seen` decoder layers (0: the LLM never sees the
//! video; the LLM's depth: nothing removed), one line per trained model (seed) and their
//! mean.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::VizError;
use crate::figure::{DrawResult, Figure, err, fmt_num, font, render};
use crate::retention::{legend, marked_line};

/// One line of the depth plot: `(layers_seen, accuracy)` points, sorted by layers seen.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthSeries {
    /// Legend text (e.g. `seed 1`, `mean over 3 seeds`).
    pub name: String,
    /// `(layers_seen, accuracy)`.
    pub points: Vec<(usize, f64)>,
}

/// Accuracy (y) vs decoder layers that saw the visual tokens (x), one marked line per
/// series; `chance` (e.g. 0.25 for four options), when given, is drawn as a dashed line.
pub fn depth_curve(
    series: &[DepthSeries],
    chance: Option<f64>,
    title: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, VizError> {
    if series.iter().all(|s| s.points.is_empty()) {
        return Err(VizError::Data {
            plot: title.into(),
            msg: "no points".into(),
        });
    }
    render(
        &DepthPlot {
            series,
            chance,
            title,
        },
        out_stem,
    )
}

struct DepthPlot<'a> {
    series: &'a [DepthSeries],
    chance: Option<f64>,
    title: &'a str,
}

impl Figure for DepthPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let n = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, font(24))
            .margin(15)
            .margin_right(30)
            .x_label_area_size(55)
            .y_label_area_size(75)
            .build_cartesian_2d(-0.3..n + 0.3, 0.0..1.05)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("decoder layers that see the visual tokens (all removed after them)")
            .y_desc("accuracy")
            .label_style(font(16))
            .axis_desc_style(font(18))
            .x_labels(n as usize + 1)
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 && *v >= 0.0 {
                    format!("{}", v.round() as usize)
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| fmt_num(*v))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        if let Some(c) = self.chance {
            chart
                .draw_series(DashedLineSeries::new(
                    [(-0.3, c), (n + 0.3, c)],
                    6,
                    4,
                    BLACK.mix(0.5).stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("chance ({})", fmt_num(c)))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
        }
        for (i, s) in self.series.iter().enumerate() {
            let pts: Vec<(f64, f64)> = s.points.iter().map(|&(l, a)| (l as f64, a)).collect();
            marked_line(&mut chart, i, &pts, &s.name, 6)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let s = DepthSeries {
            name: "seed 0".into(),
            points: vec![(0, 0.25), (1, 0.9), (2, 1.0)],
        };
        let files = depth_curve(&[s], Some(0.25), "depth", &dir.path().join("d")).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files.iter().all(|f| f.exists()));
        assert!(depth_curve(&[], None, "x", &dir.path().join("e")).is_err());
    }
}
