//! Calibrating the worst case to the shop's own record (issue 19, target 3).
//!
//! The slip model can be as good as the truth and still keep more promises
//! than it says: whole days, purchase orders placed after the promise and the
//! queue walk itself put the share kept 3-5 points above the percentile on
//! the generated shops (ETA.md, "Why the kept share is above the
//! percentile"). So the percentile the sampler is asked for is not the
//! percentile told to customers but a level recalibrated from how the shop's
//! own recent promises fared, in the spirit of adaptive conformal inference
//! (Gibbs and Candès 2021, "Adaptive conformal inference under distribution
//! shift"): when the promises resolved lately were kept more often than the
//! percentile says, the next ones are dated at a lower level, and the other
//! way round.
//!
//! - **What counts**: every promise (the first worst case told, DESIGN §4.8)
//!   made on a line not cancelled whole, dated within the last
//!   [`WINDOW_DAYS`] days and resolved before today: kept when the line
//!   shipped whole on or before its promised day, broken when that day passed
//!   first. A line shipping today is not counted until tomorrow, so a whole
//!   day's promises are dated from the same record, in the server and in
//!   `simulate` alike ([`promise_outcome`]).
//! - **The level**: with `n` resolved and `k` kept, the excess is
//!   `(k - p n) / (n + PRIOR_LINES)` (shrunk toward none while the record is
//!   short, so a shop without resolved promises uses the percentile itself),
//!   and the level is `p - GAIN x excess`, within [`MIN_LEVEL_BP`] and halfway
//!   from `p` to certainty. It is a proportional step on the windowed error,
//!   so what remains of an excess `e` that the model cannot help is about
//!   `e / (1 + GAIN)`.
//! - **The constants** (measured in ETA.md, "Calibration"): a larger gain or
//!   a shorter window calibrates as closely but lets the level swing with the
//!   noise of a few late purchase orders (one breaks every promise waiting on
//!   it), and a swinging level costs padding. `GAIN = 0` is the engine before
//!   calibration, to the digit.

use chrono::{Days, NaiveDate};
use serde::Serialize;

/// Promises resolved in this many days before today count.
pub const WINDOW_DAYS: u64 = 365;
/// A short record is shrunk toward "kept as often as said" as if this many
/// more promises had been kept exactly at the percentile.
pub const PRIOR_LINES: f64 = 400.0;
/// How strongly the level answers the recent excess.
pub const GAIN: f64 = 3.0;
/// The level never goes below the median.
pub const MIN_LEVEL_BP: u32 = 5_000;

/// How the shop's recent promises fared: the record the worst case is
/// calibrated from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PromiseRecord {
    /// Promises resolved (kept or broken) in the window.
    pub resolved: u64,
    /// Of those, kept.
    pub kept: u64,
}

/// The first day whose promises count on `today`.
pub fn window_start(today: NaiveDate) -> NaiveDate {
    today
        .checked_sub_days(Days::new(WINDOW_DAYS))
        .unwrap_or(today)
}

/// Whether a promise counts on `today`, and if so whether it was kept:
/// `Some(true)` when the line shipped whole on or before its promised day and
/// before today, `Some(false)` when the promised day is before today and the
/// line had not shipped whole by then, `None` when it is still open (or
/// outside the window).
pub fn promise_outcome(
    today: NaiveDate,
    promised_on: NaiveDate,
    completed_on: Option<NaiveDate>,
) -> Option<bool> {
    if promised_on < window_start(today) {
        return None;
    }
    let kept = completed_on.is_some_and(|done| done < today && done <= promised_on);
    if kept {
        Some(true)
    } else if promised_on < today {
        Some(false)
    } else {
        None
    }
}

impl PromiseRecord {
    /// Adds one promise's outcome (see [`promise_outcome`]).
    pub fn count(&mut self, outcome: Option<bool>) {
        if let Some(kept) = outcome {
            self.resolved += 1;
            self.kept += u64::from(kept);
        }
    }

    /// The level, in basis points (9000 is the 90th percentile), at which the
    /// sampler dates the worst case so that promises told at `percent` are
    /// kept about that often.
    pub fn worst_level_bp(&self, percent: u8) -> u32 {
        let nominal = f64::from(percent.min(100)) / 100.0;
        if self.resolved == 0 {
            return u32::from(percent.min(100)) * 100;
        }
        let n = self.resolved as f64;
        let excess = (self.kept as f64 - nominal * n) / (n + PRIOR_LINES);
        let level = nominal - GAIN * excess;
        let highest = nominal + (1.0 - nominal) / 2.0;
        let lowest = f64::from(MIN_LEVEL_BP) / 10_000.0;
        let level = level.clamp(lowest.min(nominal), highest);
        (level * 10_000.0).round() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn without_resolved_promises_the_level_is_the_percentile() {
        let record = PromiseRecord::default();
        assert_eq!(record.worst_level_bp(90), 9_000);
        assert_eq!(record.worst_level_bp(80), 8_000);
    }

    #[test]
    fn promises_kept_too_often_lower_the_level_and_too_rarely_raise_it() {
        let over = PromiseRecord {
            resolved: 1_000,
            kept: 950,
        };
        let under = PromiseRecord {
            resolved: 1_000,
            kept: 850,
        };
        let exact = PromiseRecord {
            resolved: 1_000,
            kept: 900,
        };
        assert!(
            over.worst_level_bp(90) < 9_000,
            "{}",
            over.worst_level_bp(90)
        );
        assert!(under.worst_level_bp(90) > 9_000);
        assert_eq!(exact.worst_level_bp(90), 9_000);
        // Never below the median, never past halfway to certainty.
        let always = PromiseRecord {
            resolved: 1_000,
            kept: 1_000,
        };
        let never = PromiseRecord {
            resolved: 1_000,
            kept: 0,
        };
        assert_eq!(always.worst_level_bp(60), 5_000);
        assert_eq!(never.worst_level_bp(90), 9_500);
    }

    #[test]
    fn a_short_record_moves_the_level_less_than_a_long_one() {
        let short = PromiseRecord {
            resolved: 10,
            kept: 10,
        };
        let long = PromiseRecord {
            resolved: 500,
            kept: 500,
        };
        assert!(short.worst_level_bp(90) > long.worst_level_bp(90));
        assert!(short.worst_level_bp(90) < 9_000);
    }

    #[test]
    fn a_promise_counts_once_resolved_before_today() {
        let today = day(20);
        // Shipped on time yesterday: kept.
        assert_eq!(promise_outcome(today, day(25), Some(day(19))), Some(true));
        // Shipping today: not yet counted.
        assert_eq!(promise_outcome(today, day(25), Some(day(20))), None);
        // Promised day passed without the line shipping: broken, shipped late or not.
        assert_eq!(promise_outcome(today, day(18), None), Some(false));
        assert_eq!(promise_outcome(today, day(18), Some(day(19))), Some(false));
        // Still open.
        assert_eq!(promise_outcome(today, day(20), None), None);
        // Outside the window.
        let long_ago = today - Days::new(WINDOW_DAYS + 1);
        assert_eq!(promise_outcome(today, long_ago, Some(long_ago)), None);
    }
}
