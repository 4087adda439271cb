//! What the shop must act on for a waiting line (DESIGN §4.8-4.10): a date
//! promised and then missed, a discount the policy suggests for it, a card
//! authorization that lapses first, and a wait that has gone on too long.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::format::{human_date, units_phrase};

/// The date to keep as promised: the first worst-case date ever told.
/// Once a promise exists it never moves (that is what "delayed" measures).
pub fn promised_date(
    promised_on: Option<NaiveDate>,
    worst: Option<NaiveDate>,
) -> Option<NaiveDate> {
    promised_on.or(worst)
}

/// Whether a line now runs past its promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delay {
    /// The new worst date keeps the promise.
    OnTime,
    /// The new worst date is after the promise.
    Delayed {
        /// The new worst-case date (the delay email's date).
        new_date: NaiveDate,
        /// Days past the promise.
        days_late: u32,
    },
}

impl Delay {
    /// Days past the promise, zero when on time.
    pub fn days_late(&self) -> u32 {
        match self {
            Delay::OnTime => 0,
            Delay::Delayed { days_late, .. } => *days_late,
        }
    }
}

/// Compares a recomputed worst date with the promise.
pub fn check_delay(promised_on: NaiveDate, new_worst: NaiveDate) -> Delay {
    let days = (new_worst - promised_on).num_days();
    if days <= 0 {
        return Delay::OnTime;
    }
    Delay::Delayed {
        new_date: new_worst,
        days_late: u32::try_from(days).unwrap_or(u32::MAX),
    }
}

/// The shop's setting for discounts on delayed lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountPolicy {
    /// Percent off to suggest.
    pub percent: u8,
    /// Suggest only when more than this many days past the promise.
    pub more_than_days_late: u32,
}

impl Default for DiscountPolicy {
    fn default() -> Self {
        DiscountPolicy {
            percent: 10,
            more_than_days_late: 7,
        }
    }
}

/// A discount the policy suggests; a manager still decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DiscountSuggestion {
    /// Percent off.
    pub percent: u8,
    /// Days the new date falls after the promise (the promised day may still be ahead).
    pub days_late: u32,
}

/// A suggestion when the delay exceeds the policy's threshold.
pub fn suggest_discount(policy: &DiscountPolicy, delay: &Delay) -> Option<DiscountSuggestion> {
    let days_late = delay.days_late();
    (policy.percent > 0 && days_late > policy.more_than_days_late).then_some(DiscountSuggestion {
        percent: policy.percent,
        days_late,
    })
}

impl fmt::Display for DiscountSuggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}% off: expected {} after the promised date",
            self.percent,
            units_phrase(u64::from(self.days_late), "day")
        )
    }
}

/// True when the order's payment authorization will have lapsed by the end
/// of the line's worst ETA day, so the card must be authorized again before
/// the shipment can be captured. With no known ETA the authorization cannot
/// be counted on either, so that is flagged too; no authorization, no flag.
pub fn authorization_lapses(
    authorized_until: Option<DateTime<Utc>>,
    worst: Option<NaiveDate>,
) -> bool {
    let Some(authorized_until) = authorized_until else {
        return false;
    };
    let Some(worst) = worst else {
        return true;
    };
    match worst.succ_opt() {
        Some(day_after) => authorized_until < day_after.and_time(NaiveTime::MIN).and_utc(),
        None => true,
    }
}

/// How a line's wait stands against the shop's and the customer's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WaitCheck {
    /// Days since the order was placed.
    pub waited_days: u32,
    /// Waited longer than the shop's limit.
    pub past_shop_limit: bool,
    /// The worst ETA (or today) is after the customer's latest acceptable date.
    pub past_customer_limit: bool,
}

impl WaitCheck {
    /// Either limit is passed: flag the line (and, by setting, offer to cancel).
    pub fn waited_too_long(&self) -> bool {
        self.past_shop_limit || self.past_customer_limit
    }
}

/// Checks a waiting line against the shop's limit in days and the customer's
/// stated latest date. An unknown ETA is not held against the customer's
/// date (nothing says it passes it) until that date itself has passed.
pub fn check_wait(
    placed_on: NaiveDate,
    today: NaiveDate,
    shop_limit_days: Option<u32>,
    customer_wait_until: Option<NaiveDate>,
    worst: Option<NaiveDate>,
) -> WaitCheck {
    let waited = (today - placed_on).num_days().max(0);
    let waited_days = u32::try_from(waited).unwrap_or(u32::MAX);
    let past_shop_limit = shop_limit_days.is_some_and(|limit| waited_days > limit);
    let past_customer_limit = customer_wait_until.is_some_and(|until| {
        let ships_by = worst.map_or(today, |worst| worst.max(today));
        ships_by > until
    });
    WaitCheck {
        waited_days,
        past_shop_limit,
        past_customer_limit,
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delay::OnTime => f.write_str("on time"),
            Delay::Delayed { days_late, .. } => {
                write!(f, "{} late", units_phrase(u64::from(*days_late), "day"))
            }
        }
    }
}

impl Delay {
    /// "9 days late, now Thu 12 Dec" (the year only when not `today`'s).
    pub fn describe(&self, today: NaiveDate) -> String {
        match self {
            Delay::OnTime => self.to_string(),
            Delay::Delayed { new_date, .. } => {
                format!("{self}, now {}", human_date(*new_date, today))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 12, d).unwrap()
    }

    #[test]
    fn the_first_worst_date_told_stays_the_promise() {
        assert_eq!(promised_date(None, Some(day(3))), Some(day(3)));
        assert_eq!(promised_date(Some(day(3)), Some(day(9))), Some(day(3)));
        assert_eq!(promised_date(None, None), None);
    }

    #[test]
    fn delay_counts_days_past_the_promise() {
        assert_eq!(check_delay(day(3), day(3)), Delay::OnTime);
        assert_eq!(check_delay(day(3), day(1)), Delay::OnTime);
        let delay = check_delay(day(3), day(12));
        assert_eq!(delay.days_late(), 9);
        assert_eq!(delay.describe(day(1)), "9 days late, now Thu 12 Dec");
    }

    #[test]
    fn discount_only_past_the_threshold() {
        let policy = DiscountPolicy::default();
        assert_eq!(
            suggest_discount(&policy, &check_delay(day(3), day(10))),
            None
        );
        let suggestion = suggest_discount(&policy, &check_delay(day(3), day(11))).unwrap();
        assert_eq!((suggestion.percent, suggestion.days_late), (10, 8));
        assert_eq!(
            suggestion.to_string(),
            "10% off: expected 8 days after the promised date"
        );
    }

    #[test]
    fn authorization_must_last_through_the_worst_day() {
        let until = Utc.with_ymd_and_hms(2024, 12, 5, 10, 0, 0).unwrap();
        assert!(!authorization_lapses(Some(until), Some(day(4))));
        assert!(authorization_lapses(Some(until), Some(day(5))));
        assert!(authorization_lapses(Some(until), None));
        assert!(!authorization_lapses(None, Some(day(30))));
    }

    #[test]
    fn waited_too_long_by_shop_limit_or_customer_date() {
        let fine = check_wait(day(1), day(10), Some(14), Some(day(20)), Some(day(18)));
        assert!(!fine.waited_too_long());
        assert_eq!(fine.waited_days, 9);
        assert!(check_wait(day(1), day(20), Some(14), None, Some(day(21))).past_shop_limit);
        assert!(
            check_wait(day(1), day(10), None, Some(day(20)), Some(day(21))).past_customer_limit
        );
        assert!(!check_wait(day(1), day(10), None, Some(day(20)), None).waited_too_long());
        assert!(check_wait(day(1), day(21), None, Some(day(20)), None).past_customer_limit);
    }
}
