//! Benchmark pictures: the NIAH accuracy heatmap and accuracy vs visual tokens per frame.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::VizError;
use crate::figure::{DrawResult, Figure, err, fmt_num, font, render};
use crate::heatmap::Heatmap;
use crate::retention::{legend, marked_line};

/// One NIAH result: accuracy of needles at `depth` (0 = start, 1 = end) in haystacks of
/// `frames` sampled frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NiahCell {
    /// Relative needle depth in `[0, 1]`.
    pub depth: f64,
    /// Haystack length in frames.
    pub frames: usize,
    /// Accuracy in `[0, 1]`.
    pub accuracy: f64,
}

/// One point of the accuracy-vs-tokens plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenPoint {
    /// Series (legend) name, e.g. the compressor.
    pub series: String,
    /// Visual tokens per frame after compression.
    pub tokens_per_frame: f64,
    /// Accuracy in `[0, 1]`.
    pub accuracy: f64,
    /// 95 % interval of the accuracy `(low, high)`, drawn as an error bar when present.
    #[serde(default)]
    pub interval: Option<(f64, f64)>,
}

/// A point of a series: tokens per frame, accuracy, optional interval.
type Pt = (f64, f64, Option<(f64, f64)>);

/// NIAH heatmap: accuracy over needle depth (y) × haystack length in frames (x), each cell
/// annotated with its accuracy. Repeated `(depth, frames)` cells are averaged; missing
/// combinations are grey.
pub fn niah_heatmap(
    cells: &[NiahCell],
    title: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, VizError> {
    if cells.is_empty() {
        return Err(VizError::Data {
            plot: title.into(),
            msg: "no NIAH cells".into(),
        });
    }
    // Depths keyed in thousandths so equal floats group together.
    let key = |d: f64| (d * 1000.0).round() as i64;
    let mut acc: BTreeMap<(i64, usize), (f64, usize)> = BTreeMap::new();
    for c in cells {
        let e = acc.entry((key(c.depth), c.frames)).or_default();
        e.0 += c.accuracy;
        e.1 += 1;
    }
    let mut depths: Vec<i64> = acc.keys().map(|k| k.0).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut lengths: Vec<usize> = acc.keys().map(|k| k.1).collect();
    lengths.sort_unstable();
    lengths.dedup();
    // Row 0 is drawn at the bottom: put depth 0 (start of the video) at the top.
    let values = depths
        .iter()
        .rev()
        .map(|&d| {
            lengths
                .iter()
                .map(|&f| acc.get(&(d, f)).map(|&(s, n)| s / n as f64))
                .collect()
        })
        .collect();
    let fig = Heatmap {
        title: title.into(),
        values,
        n_cols: lengths.len(),
        row_labels: depths
            .iter()
            .rev()
            .map(|&d| fmt_num(d as f64 / 1000.0))
            .collect(),
        col_labels: lengths.iter().map(|f| f.to_string()).collect(),
        max_x_labels: 30,
        x_desc: "haystack length (frames)".into(),
        y_desc: "needle depth (0 = start)".into(),
        bar_desc: "accuracy".into(),
        range: (0.0, 1.0),
        annotate: true,
        size: ((300 + 90 * lengths.len() as u32).clamp(800, 1600), 620),
    };
    render(&fig, out_stem)
}

/// Accuracy (y) vs visual tokens per frame (x), one line-and-marker series per distinct
/// `series` name (in first-seen order), points sorted by tokens per frame; a point with an
/// interval gets a vertical error bar (series are nudged sideways so bars do not overlap).
pub fn accuracy_vs_tokens(
    points: &[TokenPoint],
    title: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, VizError> {
    accuracy_vs(points, title, "visual tokens per frame", out_stem)
}

/// [`accuracy_vs_tokens`] with another x axis: `points`' `tokens_per_frame` is drawn as
/// `x_desc` (e.g. kept tokens, milliseconds).
pub fn accuracy_vs(
    points: &[TokenPoint],
    title: &str,
    x_desc: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, VizError> {
    if points.is_empty() {
        return Err(VizError::Data {
            plot: title.into(),
            msg: "no points".into(),
        });
    }
    let mut series: Vec<(String, Vec<Pt>)> = Vec::new();
    for p in points {
        let pt = (p.tokens_per_frame, p.accuracy, p.interval);
        match series.iter_mut().find(|(s, _)| *s == p.series) {
            Some((_, v)) => v.push(pt),
            None => series.push((p.series.clone(), vec![pt])),
        }
    }
    for (_, v) in &mut series {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    render(
        &AccuracyVsTokens {
            series,
            title,
            x_desc,
        },
        out_stem,
    )
}

/// The drawn width of the x axis (in axis units) for nudging series apart.
fn x_range_width(log: bool, a: f64, b: f64) -> f64 {
    if log {
        (b - a) + 0.7
    } else {
        (b - a).max(1.0) * 1.16
    }
}

struct AccuracyVsTokens<'a> {
    series: Vec<(String, Vec<Pt>)>,
    title: &'a str,
    x_desc: &'a str,
}

impl Figure for AccuracyVsTokens<'_> {
    fn size(&self) -> (u32, u32) {
        // Room for the legend when many series share the plot.
        (
            1000,
            (620 + 24 * self.series.len().saturating_sub(6) as u32).min(1000),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let xs = self.series.iter().flat_map(|(_, v)| v.iter().map(|p| p.0));
        let x_lo = xs.clone().fold(f64::INFINITY, f64::min);
        let x_hi = xs.fold(f64::NEG_INFINITY, f64::max);
        // Token budgets usually grow geometrically: use a log2 axis when they span ≥ 8×.
        let log = x_lo > 0.0 && x_hi / x_lo >= 8.0;
        let tx = |x: f64| if log { x.log2() } else { x };
        let (a, b) = (tx(x_lo), tx(x_hi));
        let pad = if log {
            0.35
        } else {
            ((b - a) * 0.08).max(b.abs() * 0.1).max(0.5)
        };
        let x_range = if log {
            a - pad..b + pad
        } else {
            (a - pad).max(0.0)..b + pad
        };
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, font(24))
            .margin(15)
            .margin_right(30)
            .x_label_area_size(55)
            .y_label_area_size(75)
            .build_cartesian_2d(x_range, 0.0..1.05)
            .map_err(err)?;
        let x_label = |v: &f64| {
            if !log {
                fmt_num(*v)
            } else if (v - v.round()).abs() < 1e-6 {
                fmt_num(v.exp2())
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_desc(if log {
                format!("{} (log scale)", self.x_desc)
            } else {
                self.x_desc.to_string()
            })
            .y_desc("accuracy")
            .label_style(font(16))
            .axis_desc_style(font(18))
            .x_label_formatter(&x_label)
            .y_label_formatter(&|v| fmt_num(*v))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        let bars = self
            .series
            .iter()
            .any(|(_, v)| v.iter().any(|p| p.2.is_some()));
        let ns = self.series.len() as f64;
        let width = x_range_width(log, a, b);
        for (i, (name, pts)) in self.series.iter().enumerate() {
            // Nudge series apart (only when there are error bars to keep apart), by at most
            // 4 % of the axis in all, so that many series do not move points off their x.
            let dx = if bars {
                (i as f64 - (ns - 1.0) / 2.0) * width * (0.04 / ns).min(0.012)
            } else {
                0.0
            };
            let line: Vec<(f64, f64)> = pts.iter().map(|&(x, y, _)| (tx(x) + dx, y)).collect();
            let color = crate::retention::series_color(i);
            for &(x, _, ci) in pts {
                let Some((lo, hi)) = ci else { continue };
                let x = tx(x) + dx;
                let cap = width * 0.006;
                for seg in [
                    vec![(x, lo), (x, hi)],
                    vec![(x - cap, lo), (x + cap, lo)],
                    vec![(x - cap, hi), (x + cap, hi)],
                ] {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            seg,
                            color.stroke_width(2),
                        )))
                        .map_err(err)?;
                }
            }
            marked_line(&mut chart, i, &line, name, 6)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}
