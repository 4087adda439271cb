//! Who is served first when units arrive (DESIGN §4.2, §4.9): oldest order
//! first, with shop settings for customer tier and for authorizations that
//! are about to lapse. Every allocation and ETA walks the queue in this order.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::types::LineId;

/// The shop's queue settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePolicy {
    /// Higher customer tiers go before lower ones ("allocate by purchase
    /// history"); age still orders lines within a tier.
    pub higher_tier_first: bool,
    /// Among lines of equal standing (the same tier when tiers count, the
    /// whole queue otherwise), the payment authorization that lapses soonest
    /// goes first, so fewer cards need re-authorizing. Lines without an
    /// authorization go after those with one; age breaks ties.
    pub soonest_lapsing_first: bool,
}

/// What orders one waiting line in its product's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuePlace {
    /// The line, the last tie-breaker.
    pub line_id: LineId,
    /// When its order was placed.
    pub placed_at: DateTime<Utc>,
    /// The customer's tier: a small integer, higher is more important.
    pub customer_tier: i32,
    /// When the order's payment authorization lapses, if it has one.
    pub authorized_until: Option<DateTime<Utc>>,
}

impl QueuePolicy {
    /// `Less` when `a` is served before `b`.
    pub fn compare(&self, a: &QueuePlace, b: &QueuePlace) -> Ordering {
        let by_tier = if self.higher_tier_first {
            b.customer_tier.cmp(&a.customer_tier)
        } else {
            Ordering::Equal
        };
        let by_lapse = if self.soonest_lapsing_first {
            match (a.authorized_until, b.authorized_until) {
                (Some(a), Some(b)) => a.cmp(&b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        } else {
            Ordering::Equal
        };
        by_tier
            .then(by_lapse)
            .then(a.placed_at.cmp(&b.placed_at))
            .then(a.line_id.cmp(&b.line_id))
    }
}

/// Sorts waiting lines into queue order; `place` says where each one stands.
pub fn sort_queue<T>(policy: &QueuePolicy, lines: &mut [T], place: impl Fn(&T) -> QueuePlace) {
    lines.sort_by(|a, b| policy.compare(&place(a), &place(b)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 11, day, hour, 0, 0).unwrap()
    }

    fn place(
        line_id: LineId,
        placed_at: DateTime<Utc>,
        tier: i32,
        lapse: Option<DateTime<Utc>>,
    ) -> QueuePlace {
        QueuePlace {
            line_id,
            placed_at,
            customer_tier: tier,
            authorized_until: lapse,
        }
    }

    fn order(policy: QueuePolicy, mut lines: Vec<QueuePlace>) -> Vec<LineId> {
        sort_queue(&policy, &mut lines, |p| *p);
        lines.iter().map(|p| p.line_id).collect()
    }

    fn sample() -> Vec<QueuePlace> {
        vec![
            place(4, at(3, 9), 0, Some(at(10, 9))),
            place(2, at(1, 9), 0, Some(at(8, 9))),
            place(3, at(2, 9), 2, Some(at(9, 9))),
            place(1, at(2, 9), 0, None),
            place(5, at(4, 9), 0, Some(at(6, 9))),
        ]
    }

    #[test]
    fn oldest_first_then_line_id() {
        assert_eq!(order(QueuePolicy::default(), sample()), [2, 1, 3, 4, 5]);
    }

    #[test]
    fn higher_tier_first_keeps_age_within_a_tier() {
        let policy = QueuePolicy {
            higher_tier_first: true,
            ..QueuePolicy::default()
        };
        assert_eq!(order(policy, sample()), [3, 2, 1, 4, 5]);
    }

    #[test]
    fn soonest_lapsing_first_among_equals() {
        let policy = QueuePolicy {
            higher_tier_first: true,
            soonest_lapsing_first: true,
        };
        assert_eq!(order(policy, sample()), [3, 5, 2, 4, 1]);
    }
}
