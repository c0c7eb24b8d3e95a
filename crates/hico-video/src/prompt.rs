//! The timestamp sentence that follows the video placeholder (docs/design.md "Timestamp
//! prompt"), built from the sampler's actual frames.

use hico_core::FramePlan;
use hico_core::config::TimestampStyle;

/// Python's `str(round(x, 1))` for the timestamps we print (e.g. `0.0`, `12.3`).
fn one_decimal(x: f64) -> String {
    format!("{:?}", (x * 10.0).round() / 10.0)
}

/// The sentence for `plan` in `style`, with its trailing space; empty for
/// [`TimestampStyle::None`].
///
/// - `Duration`: `The video lasts for {D:.2f} seconds, and {T} frames are uniformly sampled from it. `
/// - `PerFrame`: `The video lasts for {D:.2f} seconds, and {T} frames are uniformly sampled at {s1, s2, …} seconds. `
///   with each `s = round(index / fps, 1)` (the plan's timestamps).
pub fn timestamp_prompt(plan: &FramePlan, style: TimestampStyle) -> String {
    let head = format!(
        "The video lasts for {:.2} seconds, and {} frames are uniformly sampled",
        plan.duration,
        plan.len()
    );
    match style {
        TimestampStyle::None => String::new(),
        TimestampStyle::Duration => format!("{head} from it. "),
        TimestampStyle::PerFrame => {
            let times: Vec<String> = plan.timestamps.iter().map(|&s| one_decimal(s)).collect();
            format!("{head} at {} seconds. ", times.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> FramePlan {
        FramePlan {
            indices: vec![0, 15, 30, 44],
            timestamps: vec![0.0, 0.5, 1.0, 44.0 / 30.0],
            duration: 1.5,
        }
    }

    #[test]
    fn duration_sentence() {
        assert_eq!(
            timestamp_prompt(&plan(), TimestampStyle::Duration),
            "The video lasts for 1.50 seconds, and 4 frames are uniformly sampled from it. "
        );
    }

    #[test]
    fn per_frame_sentence() {
        assert_eq!(
            timestamp_prompt(&plan(), TimestampStyle::PerFrame),
            "The video lasts for 1.50 seconds, and 4 frames are uniformly sampled at \
             0.0, 0.5, 1.0, 1.5 seconds. "
        );
        assert_eq!(timestamp_prompt(&plan(), TimestampStyle::None), "");
    }
}
