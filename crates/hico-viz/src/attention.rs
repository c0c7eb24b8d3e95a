//! Attention heatmap: where the query tokens look, per captured layer and sampled frame.

use std::path::{Path, PathBuf};

use hico_core::trace::AttentionCapture;

use crate::VizError;
use crate::figure::{column_time, frame_bins, render};
use crate::heatmap::Heatmap;

/// Heatmap: captured layers (y) × sampled frames (x, labelled in seconds of video time from
/// `frame_times`), colour = attention mass. Long captures are binned into at most
/// [`crate::MAX_COLUMNS`] columns; a column shows the mean mass per frame of its bin.
pub fn attention_heatmap(
    cap: &AttentionCapture,
    title: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, VizError> {
    let fig = attention_figure(cap, title)?;
    render(&fig, out_stem)
}

/// Bin and check the capture into a heatmap (rows = captured layers in order).
fn attention_figure(cap: &AttentionCapture, title: &str) -> Result<Heatmap, VizError> {
    let data_err = |msg: String| VizError::Data {
        plot: title.into(),
        msg,
    };
    let n_frames = cap.frame_times.len();
    if cap.layers.is_empty() || n_frames == 0 {
        return Err(data_err(
            "attention capture has no layers or no frames".into(),
        ));
    }
    if cap.per_frame.len() != cap.layers.len() {
        return Err(data_err(format!(
            "per_frame has {} rows for {} layers",
            cap.per_frame.len(),
            cap.layers.len()
        )));
    }
    if let Some((i, row)) = cap
        .per_frame
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != n_frames)
    {
        return Err(data_err(format!(
            "per_frame row {i} (layer {}) has {} frames, frame_times has {n_frames}",
            cap.layers[i],
            row.len()
        )));
    }
    let bins = frame_bins(n_frames);
    let values: Vec<Vec<Option<f64>>> = cap
        .per_frame
        .iter()
        .map(|row| {
            bins.iter()
                .map(|&(s, e)| {
                    let sum: f64 = row[s..e].iter().map(|&v| v as f64).sum();
                    let mean = sum / (e - s) as f64;
                    mean.is_finite().then_some(mean)
                })
                .collect()
        })
        .collect();
    let (lo, hi) = Heatmap::data_range(&values);
    let per = if n_frames > bins.len() {
        "mean attention mass per frame"
    } else {
        "attention mass per frame"
    };
    Ok(Heatmap {
        title: title.into(),
        n_cols: bins.len(),
        col_labels: (0..bins.len())
            .map(|b| column_time(b as f64, &bins, &cap.frame_times))
            .collect(),
        values,
        row_labels: cap.layers.iter().map(|l| l.to_string()).collect(),
        max_x_labels: 12,
        x_desc: "video time (s)".into(),
        y_desc: "decoder layer".into(),
        bar_desc: per.into(),
        range: (lo.min(0.0), hi),
        annotate: false,
        size: (1200, 640),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_capture_is_binned() {
        let n = 2500;
        let cap = AttentionCapture {
            layers: vec![1, 2],
            frame_times: (0..n).map(|f| f as f64 * 0.5).collect(),
            per_frame: vec![vec![1.0; n], (0..n).map(|f| f as f32).collect()],
            text: vec![0.0, 0.0],
        };
        let h = attention_figure(&cap, "t").unwrap();
        assert_eq!(h.n_cols, crate::MAX_COLUMNS);
        assert_eq!(h.values[0][0], Some(1.0));
        // Bin 0 holds frames 0 and 1 (2500/1000 = 2.5 frames per bin).
        assert_eq!(h.values[1][0], Some(0.5));
        assert_eq!(h.col_labels[2], "2.5");
    }

    #[test]
    fn ragged_capture_is_rejected() {
        let cap = AttentionCapture {
            layers: vec![3],
            frame_times: vec![0.0, 1.0],
            per_frame: vec![vec![0.1]],
            text: vec![0.0],
        };
        let e = attention_figure(&cap, "t").unwrap_err().to_string();
        assert!(e.contains("layer 3"), "{e}");
    }
}
