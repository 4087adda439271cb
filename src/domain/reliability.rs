//! How late a supplier really delivers (DESIGN §4.7): the slip of each
//! received purchase order, kept sorted, feeds both the reliability shown to
//! people and the draws the ETA simulation makes.

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

/// Days between the expected and the actual arrival; negative when early.
pub fn slip_days(expected_on: NaiveDate, arrived_on: NaiveDate) -> i32 {
    let days = (arrived_on - expected_on).num_days();
    i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
}

/// A supplier's slips, one per received purchase order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SlipHistory {
    // Sorted ascending, so "slips larger than k" is a suffix.
    sorted: Vec<i32>,
}

/// A supplier's record, for people: "on time 87%, usually 2 days late".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Reliability {
    /// Received purchase orders behind the figures.
    pub deliveries: u32,
    /// Share delivered on or before the expected date, in whole percent.
    pub on_time_percent: u8,
    /// The median slip in days (negative: early).
    pub median_slip_days: i32,
    /// The 90th-percentile slip in days: late deliveries are this bad or better.
    pub slip_p90_days: i32,
}

impl SlipHistory {
    /// A history from slips in any order.
    pub fn new(slips: impl IntoIterator<Item = i32>) -> SlipHistory {
        let mut sorted: Vec<i32> = slips.into_iter().collect();
        sorted.sort_unstable();
        SlipHistory { sorted }
    }

    /// Adds the slip of one more received purchase order.
    pub fn record(&mut self, slip: i32) {
        let at = self.sorted.partition_point(|&s| s <= slip);
        self.sorted.insert(at, slip);
    }

    /// All slips, smallest first.
    pub fn slips(&self) -> &[i32] {
        &self.sorted
    }

    /// Received purchase orders recorded.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// No purchase order received yet.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The slips strictly larger than `days`, smallest first: what is still
    /// possible for an order that has not arrived `days` after its date.
    pub fn later_than(&self, days: i64) -> &[i32] {
        let at = self.sorted.partition_point(|&s| i64::from(s) <= days);
        &self.sorted[at..]
    }

    /// The slip at percentile `percent` (nearest rank), if any history.
    pub fn percentile(&self, percent: u8) -> Option<i32> {
        nearest_rank(&self.sorted, percent)
    }

    /// The figures for people, if any history.
    pub fn reliability(&self) -> Option<Reliability> {
        let deliveries = self.sorted.len();
        let on_time = self.sorted.partition_point(|&s| s <= 0);
        let on_time_percent = (on_time * 100 + deliveries / 2).checked_div(deliveries)?;
        Some(Reliability {
            deliveries: u32::try_from(deliveries).unwrap_or(u32::MAX),
            on_time_percent: u8::try_from(on_time_percent).unwrap_or(100),
            median_slip_days: self.percentile(50)?,
            slip_p90_days: self.percentile(90)?,
        })
    }
}

/// The value at `percent` of a sorted slice by the nearest-rank rule: always
/// one of the values, which suits whole days.
pub(crate) fn nearest_rank<T: Copy>(sorted: &[T], percent: u8) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (usize::from(percent.min(100)) * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

impl fmt::Display for Reliability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "on time {}%, ", self.on_time_percent)?;
        match self.median_slip_days {
            0 => f.write_str("usually on time"),
            1 => f.write_str("usually 1 day late"),
            -1 => f.write_str("usually 1 day early"),
            days if days > 0 => write!(f, "usually {days} days late"),
            days => write!(f, "usually {} days early", days.unsigned_abs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_from_slips() {
        let history = SlipHistory::new([3, -1, 0, 2, 2, 0, 5, 1, -2, 0]);
        let reliability = history.reliability().unwrap();
        assert_eq!(reliability.deliveries, 10);
        assert_eq!(reliability.on_time_percent, 50);
        assert_eq!(reliability.median_slip_days, 0);
        assert_eq!(reliability.slip_p90_days, 3);
        assert_eq!(reliability.to_string(), "on time 50%, usually on time");
        assert_eq!(SlipHistory::default().reliability(), None);
    }

    #[test]
    fn usually_late_reads_in_days() {
        let reliability = SlipHistory::new([2, 2, 3, -1]).reliability().unwrap();
        assert_eq!(reliability.to_string(), "on time 25%, usually 2 days late");
    }

    #[test]
    fn later_than_keeps_only_what_is_still_possible() {
        let mut history = SlipHistory::new([4, -1, 9, 6]);
        history.record(5);
        assert_eq!(history.slips(), [-1, 4, 5, 6, 9]);
        assert_eq!(history.later_than(5), [6, 9]);
        assert_eq!(history.later_than(-3).len(), 5);
        assert!(history.later_than(9).is_empty());
    }

    #[test]
    fn slip_is_signed_days() {
        let expected = NaiveDate::from_ymd_opt(2024, 12, 3).unwrap();
        let early = NaiveDate::from_ymd_opt(2024, 12, 1).unwrap();
        assert_eq!(slip_days(expected, early), -2);
        assert_eq!(slip_days(early, expected), 2);
    }
}
