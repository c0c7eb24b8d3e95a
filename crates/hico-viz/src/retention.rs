//! Retention pictures: kept visual tokens per layer ([`retention_lines`]) and which frames'
//! tokens survive each layer ([`drop_pattern`]).

use std::path::{Path, PathBuf};

use hico_core::provenance::Provenance;
use hico_core::trace::RetentionTrace;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::VizError;
use crate::figure::{DrawResult, Figure, column_time, err, fmt_num, font, frame_bins, render};
use crate::heatmap::Heatmap;

/// Distinct series colours (colour-blind-friendly Okabe–Ito order, then tab10 greys/browns).
pub(crate) const SERIES_COLORS: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
];

/// Colour of series `i`.
pub(crate) fn series_color(i: usize) -> RGBColor {
    SERIES_COLORS[i % SERIES_COLORS.len()]
}

/// The legend of a line chart, boxed at `position` (the same look on every line chart).
pub(crate) fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .margin(12)
        .draw()
        .map_err(err)
}

/// A line through `pts` with markers (shape `i % 3`: circle, triangle, square), added to
/// the legend as `label`.
pub(crate) fn marked_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    i: usize,
    pts: &[(f64, f64)],
    label: &str,
    size: i32,
) -> DrawResult {
    let color = series_color(i);
    let line = color.stroke_width(3);
    let fill = color.filled();
    macro_rules! series {
        ($mk:expr) => {{
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), line))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new([(-6, 0), (18, 0)], line)
                        + $mk((6, 0))
                });
            chart
                .draw_series(pts.iter().map(|&p| EmptyElement::at(p) + $mk((0, 0))))
                .map_err(err)?;
        }};
    }
    match i % 3 {
        0 => series!(|p| Circle::new(p, size, fill)),
        1 => series!(|p| TriangleMarker::new(p, size + 1, fill)),
        _ => series!(|(x, y): (i32, i32)| Rectangle::new(
            [(x - size, y - size), (x + size, y + size)],
            fill
        )),
    }
    Ok(())
}

/// Kept visual tokens per layer (x: layer 1..=n_layers, y: tokens), one line per labelled
/// trace (e.g. per dropout schedule).
pub fn retention_lines(
    traces: &[(String, RetentionTrace)],
    title: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, VizError> {
    if traces.iter().all(|(_, t)| t.n_layers == 0) {
        return Err(VizError::Data {
            plot: title.into(),
            msg: "no trace with at least one layer".into(),
        });
    }
    render(&RetentionLines { traces, title }, out_stem)
}

struct RetentionLines<'a> {
    traces: &'a [(String, RetentionTrace)],
    title: &'a str,
}

impl Figure for RetentionLines<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let n_layers = self
            .traces
            .iter()
            .map(|(_, t)| t.n_layers)
            .max()
            .unwrap_or(1);
        let y_max = self
            .traces
            .iter()
            .map(|(_, t)| t.n_visual)
            .max()
            .unwrap_or(1)
            .max(1);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, font(24))
            .margin(15)
            .margin_right(30)
            .x_label_area_size(55)
            .y_label_area_size(85)
            .build_cartesian_2d(0.5..n_layers as f64 + 0.5, 0.0..y_max as f64 * 1.08)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("decoder layer")
            .y_desc("visual tokens kept")
            .label_style(font(16))
            .axis_desc_style(font(18))
            .x_labels(n_layers.min(28) + 1)
            .x_label_formatter(&|v| {
                let r = v.round();
                if (v - r).abs() < 1e-6 && r >= 1.0 {
                    format!("{r}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| fmt_num(*v))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        for (i, (label, trace)) in self.traces.iter().enumerate() {
            let pts: Vec<(f64, f64)> = trace
                .counts()
                .into_iter()
                .enumerate()
                .map(|(l, n)| ((l + 1) as f64, n as f64))
                .collect();
            marked_line(&mut chart, i, &pts, label, 5)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft)
    }
}

/// Raster: layers (y) × sampled frames (x, video time), colour = the fraction of each
/// frame's visual tokens still present at that layer. A merged token counts toward every
/// frame it covers with weight `1 / frames covered`. Long videos are binned into at most
/// [`crate::MAX_COLUMNS`] columns (the fraction is then over the bin's tokens).
pub fn drop_pattern(
    trace: &RetentionTrace,
    prov: &Provenance,
    title: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, VizError> {
    let fig = drop_pattern_figure(trace, prov, title)?;
    render(&fig, out_stem)
}

/// Compute the drop-pattern heatmap (rows = layers 1..=n_layers).
fn drop_pattern_figure(
    trace: &RetentionTrace,
    prov: &Provenance,
    title: &str,
) -> Result<Heatmap, VizError> {
    let data_err = |msg: String| VizError::Data {
        plot: title.into(),
        msg,
    };
    if trace.n_visual != prov.tokens.len() {
        return Err(data_err(format!(
            "retention trace has {} visual tokens but provenance has {}",
            trace.n_visual,
            prov.tokens.len()
        )));
    }
    let n_frames = prov.n_frames();
    if n_frames == 0 || trace.n_layers == 0 {
        return Err(data_err("no sampled frames or no layers".into()));
    }
    let bins = frame_bins(n_frames);
    let mut bin_of = vec![0usize; n_frames];
    for (b, &(s, e)) in bins.iter().enumerate() {
        bin_of[s..e].fill(b);
    }
    // Each token's (bin, weight) contributions.
    let mut contrib: Vec<Vec<(usize, f64)>> = Vec::with_capacity(prov.tokens.len());
    for i in 0..prov.tokens.len() {
        let frames = prov.sampled_frames(i);
        let w = 1.0 / frames.len().max(1) as f64;
        let mut c = Vec::with_capacity(frames.len());
        for f in frames {
            let b = *bin_of.get(f).ok_or_else(|| {
                data_err(format!("visual token {i} covers frame {f} ≥ {n_frames}"))
            })?;
            c.push((b, w));
        }
        contrib.push(c);
    }
    let weights = |kept: &mut dyn Iterator<Item = usize>| {
        let mut w = vec![0.0; bins.len()];
        for i in kept {
            for &(b, x) in &contrib[i] {
                w[b] += x;
            }
        }
        w
    };
    let total = weights(&mut (0..prov.tokens.len()));
    let mut rows = Vec::with_capacity(trace.n_layers);
    let mut cache: Option<(usize, Vec<Option<f64>>)> = None;
    for layer in 1..=trace.n_layers {
        let stage = trace
            .stages
            .iter()
            .filter(|s| s.after_layer < layer)
            .count();
        if cache.as_ref().map(|c| c.0) != Some(stage) {
            let kept = trace.kept_at(layer);
            if let Some(&bad) = kept.iter().find(|&&k| k as usize >= prov.tokens.len()) {
                return Err(data_err(format!(
                    "kept index {bad} out of range at layer {layer}"
                )));
            }
            let w = weights(&mut kept.iter().map(|&k| k as usize));
            let frac = w
                .iter()
                .zip(&total)
                .map(|(&k, &t)| (t > 0.0).then(|| k / t))
                .collect();
            cache = Some((stage, frac));
        }
        rows.push(cache.as_ref().map(|c| c.1.clone()).unwrap_or_default());
    }
    let col_labels = (0..bins.len())
        .map(|b| column_time(b as f64, &bins, &prov.frame_times))
        .collect();
    Ok(Heatmap {
        title: title.into(),
        n_cols: bins.len(),
        values: rows,
        row_labels: (1..=trace.n_layers).map(|l| l.to_string()).collect(),
        col_labels,
        max_x_labels: 12,
        x_desc: "video time (s)".into(),
        y_desc: "decoder layer".into(),
        bar_desc: "fraction of frame's visual tokens kept".into(),
        range: (0.0, 1.0),
        annotate: false,
        size: (1200, 640),
    })
}
