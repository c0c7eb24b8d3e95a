//! Which patches of the sampled frames reach each decoder layer, drawn on the frames
//! themselves ([`patch_overlay`]), and the training loss curve ([`loss_curve`]).

use std::path::{Path, PathBuf};

use hico_core::provenance::Provenance;
use hico_core::trace::RetentionTrace;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::VizError;
use crate::figure::{DrawResult, Figure, err, fmt_num, font, render};
use crate::retention::legend;

/// Sampled frames as packed RGB images, all `side × side`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frames {
    /// Side in pixels.
    pub side: usize,
    /// `side · side · 3` bytes per frame, in sampled order.
    pub rgb: Vec<Vec<u8>>,
}

/// What happened to one patch at one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Its own token, present.
    Kept,
    /// Merged into token `t` with other patches, present.
    Merged(usize),
    /// Its token was dropped before this layer.
    Dropped,
}

/// Patch overlay: one column per sampled frame; the top row shows the frames as sampled,
/// each further row the patches that reach a decoder layer (the input of layer 1, then the
/// layer after each drop of `trace`): a patch that is its own token is drawn as is, a patch
/// merged with others (by the clip compressor) is tinted with its token's colour, a dropped
/// patch is darkened. Columns in `highlight` (e.g. the frames that hold the answer) get a
/// red frame.
pub fn patch_overlay(
    frames: &Frames,
    prov: &Provenance,
    trace: &RetentionTrace,
    highlight: &[usize],
    title: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, VizError> {
    let n = prov.n_frames();
    let bad = |msg: String| VizError::Data {
        plot: title.into(),
        msg,
    };
    if frames.rgb.len() != n || n == 0 {
        return Err(bad(format!(
            "{} frame images for {n} sampled frames",
            frames.rgb.len()
        )));
    }
    if let Some(i) = frames
        .rgb
        .iter()
        .position(|f| f.len() != frames.side * frames.side * 3)
    {
        return Err(bad(format!("frame {i} is not {0}x{0} RGB", frames.side)));
    }
    if trace.n_visual != prov.tokens.len() {
        return Err(bad(format!(
            "retention trace has {} visual tokens, provenance {}",
            trace.n_visual,
            prov.tokens.len()
        )));
    }
    // Rows: layer 1's input, then the first layer after each drop.
    let mut layers = vec![1];
    layers.extend(trace.stages.iter().map(|s| s.after_layer + 1));
    let g = prov.grid;
    // fate[row][frame][patch]
    let fates: Vec<Vec<Vec<Fate>>> = layers
        .iter()
        .map(|&l| {
            let kept = trace.kept_at(l);
            let mut f = vec![vec![Fate::Dropped; g.per_frame()]; n];
            for &t in &kept {
                let tok = &prov.tokens[t as usize];
                for (clip, m) in tok
                    .parts()
                    .flat_map(|(c, ms)| ms.iter().map(move |&m| (c, m)))
                {
                    let frame = clip as usize * g.frames + g.frame_of(m);
                    let (r, c) = g.cell_of(m);
                    if let Some(slot) = f.get_mut(frame) {
                        slot[r * g.w + c] = if tok.size() == 1 {
                            Fate::Kept
                        } else {
                            Fate::Merged(t as usize)
                        };
                    }
                }
            }
            f
        })
        .collect();
    let fig = Overlay {
        title,
        frames,
        grid: (g.h, g.w),
        layers,
        fates,
        highlight,
        times: &prov.frame_times,
    };
    render(&fig, out_stem)
}

struct Overlay<'a> {
    title: &'a str,
    frames: &'a Frames,
    grid: (usize, usize),
    layers: Vec<usize>,
    fates: Vec<Vec<Vec<Fate>>>,
    highlight: &'a [usize],
    times: &'a [f64],
}

const CELL: u32 = 96;
const GAP: u32 = 6;
const LEFT: u32 = 150;
const TOP: u32 = 60;
const BOTTOM: u32 = 70;

/// A distinct tint for merged token `t`.
fn tint(t: usize) -> [f64; 3] {
    const P: [[f64; 3]; 6] = [
        [0.0, 114.0, 178.0],
        [213.0, 94.0, 0.0],
        [0.0, 158.0, 115.0],
        [204.0, 121.0, 167.0],
        [230.0, 159.0, 0.0],
        [86.0, 180.0, 233.0],
    ];
    P[t % P.len()]
}

impl Figure for Overlay<'_> {
    fn size(&self) -> (u32, u32) {
        let cols = self.frames.rgb.len() as u32;
        let rows = 1 + self.layers.len() as u32;
        (
            LEFT + cols * (CELL + GAP) + 20,
            TOP + rows * (CELL + GAP) + BOTTOM,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.draw_text(self.title, &font(22), (20, 15))
            .map_err(err)?;
        let side = self.frames.side;
        // Blocks of `b` pixels keep the SVG small (at most 32 × 32 rectangles a frame).
        let b = side.div_ceil(32).max(1);
        let px = CELL as f64 / side as f64;
        let (gh, gw) = self.grid;
        for (row, label) in std::iter::once("sampled".to_string())
            .chain(self.layers.iter().map(|l| format!("layer {l} input")))
            .enumerate()
        {
            let y0 = TOP + row as u32 * (CELL + GAP);
            root.draw_text(&label, &font(16), (10, (y0 + CELL / 2 - 8) as i32))
                .map_err(err)?;
            for (f, img) in self.frames.rgb.iter().enumerate() {
                let x0 = LEFT + f as u32 * (CELL + GAP);
                for by in (0..side).step_by(b) {
                    for bx in (0..side).step_by(b) {
                        let i = (by * side + bx) * 3;
                        let mut c = [img[i] as f64, img[i + 1] as f64, img[i + 2] as f64];
                        if row > 0 {
                            let (pr, pc) = (by * gh / side, bx * gw / side);
                            match self.fates[row - 1][f][pr * gw + pc] {
                                Fate::Kept => {}
                                Fate::Merged(t) => {
                                    let k = tint(t);
                                    c = std::array::from_fn(|j| 0.45 * c[j] + 0.55 * k[j]);
                                }
                                Fate::Dropped => c = c.map(|v| 0.15 * v + 20.0),
                            }
                        }
                        let (xa, ya) = (x0 as f64 + bx as f64 * px, y0 as f64 + by as f64 * px);
                        let (xb, yb) = (xa + b as f64 * px, ya + b as f64 * px);
                        let col = RGBColor(c[0] as u8, c[1] as u8, c[2] as u8);
                        root.draw(&Rectangle::new(
                            [
                                (xa.floor() as i32, ya.floor() as i32),
                                (xb.ceil() as i32, yb.ceil() as i32),
                            ],
                            col.filled(),
                        ))
                        .map_err(err)?;
                    }
                }
                if self.highlight.contains(&f) {
                    let (x0, y0) = (x0 as i32, y0 as i32);
                    root.draw(&Rectangle::new(
                        [
                            (x0 - 3, y0 - 3),
                            (x0 + CELL as i32 + 2, y0 + CELL as i32 + 2),
                        ],
                        RED.stroke_width(3),
                    ))
                    .map_err(err)?;
                }
                if row == 0 {
                    let t = self.times.get(f).map(|t| fmt_num(*t)).unwrap_or_default();
                    root.draw_text(
                        &format!("{t} s"),
                        &font(14),
                        (x0 as i32 + 30, TOP as i32 - 20),
                    )
                    .map_err(err)?;
                }
            }
        }
        let y = (TOP + (1 + self.layers.len() as u32) * (CELL + GAP) + 20) as i32;
        let key: [(&str, RGBColor); 3] = [
            ("own token, kept", RGBColor(200, 200, 200)),
            ("merged (tint = token)", RGBColor(0, 114, 178)),
            ("dropped (darkened)", RGBColor(40, 40, 40)),
        ];
        let mut x = LEFT as i32;
        for (label, c) in key {
            root.draw(&Rectangle::new([(x, y), (x + 22, y + 22)], c.filled()))
                .map_err(err)?;
            root.draw_text(label, &font(16), (x + 30, y + 2))
                .map_err(err)?;
            x += 260;
        }
        root.draw_text(
            "red frame: the frames that hold the object",
            &font(16),
            (x, y + 2),
        )
        .map_err(err)?;
        Ok(())
    }
}

/// Training loss per optimizer step (thin) and its moving mean over `window` steps (thick).
pub fn loss_curve(
    steps: &[(usize, f64)],
    window: usize,
    title: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, VizError> {
    if steps.is_empty() {
        return Err(VizError::Data {
            plot: title.into(),
            msg: "no steps".into(),
        });
    }
    let w = window.max(1);
    let mean: Vec<(f64, f64)> = (0..steps.len())
        .map(|i| {
            let lo = (i + 1).saturating_sub(w);
            let s: f64 = steps[lo..=i].iter().map(|p| p.1).sum();
            (steps[i].0 as f64, s / (i + 1 - lo) as f64)
        })
        .collect();
    render(
        &Loss {
            raw: steps.iter().map(|&(s, l)| (s as f64, l)).collect(),
            mean,
            window: w,
            title,
        },
        out_stem,
    )
}

struct Loss<'a> {
    raw: Vec<(f64, f64)>,
    mean: Vec<(f64, f64)>,
    window: usize,
    title: &'a str,
}

impl Figure for Loss<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let x_hi = self.raw.iter().map(|p| p.0).fold(1.0, f64::max);
        let y_hi = self.raw.iter().map(|p| p.1).fold(0.0, f64::max) * 1.05;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, font(24))
            .margin(15)
            .margin_right(30)
            .x_label_area_size(55)
            .y_label_area_size(75)
            .build_cartesian_2d(0.0..x_hi, 0.0..y_hi.max(1e-3))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("optimizer step")
            .y_desc("loss (answer tokens)")
            .label_style(font(16))
            .axis_desc_style(font(18))
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                self.raw.iter().copied(),
                RGBColor(150, 150, 150).stroke_width(1),
            ))
            .map_err(err)?
            .label("per step")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(150, 150, 150)));
        let c = crate::retention::series_color(0);
        chart
            .draw_series(LineSeries::new(
                self.mean.iter().copied(),
                c.stroke_width(3),
            ))
            .map_err(err)?
            .label(format!("mean of the last {} steps", self.window))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}
