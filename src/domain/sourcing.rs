//! Choosing among a product's suppliers (issue 18, part 3): the one whose delivery would
//! cover the waiting demand soonest (its lead time, adjusted by its usual slip when its
//! receipts give one), and the cheaper one where the dates tie.

use chrono::{Duration, NaiveDate};

/// One supplier's terms for a product, with its usual slip if known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupplierTerms {
    pub lead_time_days: Option<u32>,
    pub unit_cost_cents: Option<i64>,
    /// The median slip of its received purchase orders (negative: early).
    pub usual_slip_days: Option<i32>,
}

impl SupplierTerms {
    /// When an order placed `today` would likely arrive: the lead time plus the usual
    /// slip (never before today). None without a lead time.
    pub fn arrives_on(&self, today: NaiveDate) -> Option<NaiveDate> {
        let lead = i64::from(self.lead_time_days?);
        let slip = i64::from(self.usual_slip_days.unwrap_or(0));
        Some(today + Duration::days((lead + slip).max(0)))
    }
}

/// The index of the supplier to order from: the soonest arrival, then the lowest unit
/// cost (a known cost before an unknown one), then the earlier in the product's list.
/// None when no supplier has a lead time.
pub fn choose(today: NaiveDate, options: &[SupplierTerms]) -> Option<usize> {
    options
        .iter()
        .enumerate()
        .filter_map(|(i, terms)| {
            let arrives = terms.arrives_on(today)?;
            let cost = terms.unit_cost_cents.unwrap_or(i64::MAX);
            Some(((arrives, cost, i), i))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    fn terms(lead: Option<u32>, cost: Option<i64>, slip: Option<i32>) -> SupplierTerms {
        SupplierTerms {
            lead_time_days: lead,
            unit_cost_cents: cost,
            usual_slip_days: slip,
        }
    }

    #[test]
    fn the_sooner_supplier_wins_even_when_dearer() {
        let options = [
            terms(Some(30), Some(500), None),
            terms(Some(10), Some(900), None),
        ];
        assert_eq!(choose(day(), &options), Some(1));
    }

    #[test]
    fn a_tie_goes_to_the_cheaper() {
        let options = [
            terms(Some(10), Some(900), None),
            terms(Some(10), Some(700), None),
        ];
        assert_eq!(choose(day(), &options), Some(1));
        let unknown_cost = [
            terms(Some(10), None, None),
            terms(Some(10), Some(700), None),
        ];
        assert_eq!(choose(day(), &unknown_cost), Some(1));
    }

    #[test]
    fn the_usual_slip_moves_the_date() {
        // 10 days but usually 8 late, against 14 days on time.
        let options = [
            terms(Some(10), Some(500), Some(8)),
            terms(Some(14), Some(900), Some(0)),
        ];
        assert_eq!(
            options[0].arrives_on(day()),
            Some(day() + Duration::days(18))
        );
        assert_eq!(choose(day(), &options), Some(1));
    }

    #[test]
    fn without_a_lead_time_nothing_is_chosen() {
        assert_eq!(choose(day(), &[terms(None, Some(1), None)]), None);
        assert_eq!(choose(day(), &[]), None);
        let options = [terms(None, Some(1), None), terms(Some(40), None, None)];
        assert_eq!(choose(day(), &options), Some(1));
    }

    #[test]
    fn an_early_supplier_never_arrives_before_today() {
        assert_eq!(
            terms(Some(1), None, Some(-5)).arrives_on(day()),
            Some(day())
        );
    }
}
