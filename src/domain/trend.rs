//! The daily review's trend of open backorder lines, and which days moved it unusually
//! (a big receipt, a wave of cancellations, a rush of new orders), so the page can say
//! why the line jumps instead of leaving a manager to guess.

use chrono::NaiveDate;

/// One day of the trend: lines open at its end, and what moved them during it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrendDay {
    pub day: NaiveDate,
    pub open: i64,
    /// Lines that started waiting.
    pub started: i64,
    /// Lines whose wait ended because stock reached them.
    pub filled: i64,
    /// Lines whose wait ended because they were cancelled.
    pub cancelled: i64,
}

/// What mostly moved an unusual day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JumpCause {
    /// Stock arrived and filled waiting lines.
    Filled,
    Cancelled,
    /// New orders joined the queue.
    NewOrders,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jump {
    pub day: NaiveDate,
    pub from: i64,
    pub to: i64,
    pub cause: JumpCause,
    /// How many lines the cause moved that day.
    pub lines: i64,
}

/// A change of at least this many lines...
const MIN_LINES: i64 = 5;
/// ...and at least this share (percent) of the day before is unusual.
const MIN_SHARE_PERCENT: i64 = 20;

/// The days whose change against the day before is unusual, oldest first.
pub fn unusual_days(days: &[TrendDay]) -> Vec<Jump> {
    days.windows(2)
        .filter_map(|pair| {
            let (before, day) = (&pair[0], &pair[1]);
            let change = day.open - before.open;
            let unusual = change.abs() >= MIN_LINES
                && change.abs() * 100 >= MIN_SHARE_PERCENT * before.open.max(1);
            if !unusual {
                return None;
            }
            let (cause, lines) = if change < 0 {
                if day.cancelled > day.filled {
                    (JumpCause::Cancelled, day.cancelled)
                } else {
                    (JumpCause::Filled, day.filled)
                }
            } else {
                (JumpCause::NewOrders, day.started)
            };
            Some(Jump {
                day: day.day,
                from: before.open,
                to: day.open,
                cause,
                lines,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32, open: i64, started: i64, filled: i64, cancelled: i64) -> TrendDay {
        TrendDay {
            day: NaiveDate::from_ymd_opt(2026, 11, d).unwrap(),
            open,
            started,
            filled,
            cancelled,
        }
    }

    #[test]
    fn a_halving_is_explained_by_what_ended_the_waits() {
        let days = [
            day(1, 100, 5, 3, 1),
            day(2, 101, 4, 2, 1),
            day(3, 50, 2, 48, 5),
            day(4, 52, 3, 1, 0),
            day(5, 30, 0, 2, 20),
            day(6, 45, 15, 0, 0),
        ];
        let jumps = unusual_days(&days);
        assert_eq!(jumps.len(), 3, "{jumps:?}");
        assert_eq!(
            (jumps[0].from, jumps[0].to, jumps[0].cause),
            (101, 50, JumpCause::Filled)
        );
        assert_eq!(jumps[0].lines, 48);
        assert_eq!(jumps[1].cause, JumpCause::Cancelled);
        assert_eq!(jumps[2].cause, JumpCause::NewOrders);
    }

    #[test]
    fn small_moves_are_not_news() {
        let days = [day(1, 3, 1, 0, 0), day(2, 0, 0, 3, 0), day(3, 4, 4, 0, 0)];
        assert!(unusual_days(&days).is_empty());
    }
}
