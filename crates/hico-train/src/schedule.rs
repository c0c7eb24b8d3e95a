//! Learning rate: linear warm-up then cosine decay, a pure function of the step (so a
//! resumed run needs only the step number to continue the schedule exactly).

/// Cosine schedule with linear warm-up over a fixed number of optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineSchedule {
    /// Total optimizer steps.
    pub total: usize,
    /// Warm-up steps (`ceil(total · warmup_fraction)`, as the reference's HF trainer).
    pub warmup: usize,
    /// Final learning rate as a fraction of the peak.
    pub min_fraction: f64,
}

impl CosineSchedule {
    /// A schedule of `total` steps warming up over a fraction of them.
    pub fn new(total: usize, warmup_fraction: f64, min_fraction: f64) -> Self {
        Self {
            total,
            warmup: (total as f64 * warmup_fraction).ceil() as usize,
            min_fraction,
        }
    }

    /// Multiplier of the peak learning rate at 0-based step `step`: `(step+1)/warmup`
    /// during warm-up, then `min + (1-min)·½(1+cos(π·p))` with `p` the progress after
    /// warm-up (as HF's `get_cosine_schedule_with_warmup`, shifted so no step gets lr 0).
    pub fn factor(&self, step: usize) -> f64 {
        if step < self.warmup {
            return (step + 1) as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1);
        let p = ((step - self.warmup) as f64 / span as f64).min(1.0);
        let cos = 0.5 * (1.0 + (std::f64::consts::PI * p).cos());
        self.min_fraction + (1.0 - self.min_fraction) * cos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_min() {
        let s = CosineSchedule::new(100, 0.03, 0.1);
        assert_eq!(s.warmup, 3);
        assert!((s.factor(0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.factor(2), 1.0);
        assert_eq!(s.factor(3), 1.0);
        let mid = s.factor(3 + 97 / 2);
        assert!((mid - 0.55).abs() < 0.02, "{mid}");
        assert!(s.factor(99) > 0.1 && s.factor(99) < 0.11);
        assert!((1..100).all(|i| s.factor(i) <= s.factor(i - 1) || i <= 3));
    }

    #[test]
    fn tiny_runs_have_no_zero_lr() {
        let s = CosineSchedule::new(1, 0.03, 0.0);
        assert_eq!(s.warmup, 1);
        assert_eq!(s.factor(0), 1.0);
    }
}
