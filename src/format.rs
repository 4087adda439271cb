//! Numbers as people read them, shared by pages and emails: money with its currency,
//! counts with thousands separators, ages in days. Arguments are `Borrow` so templates,
//! which pass references, and code, which passes values, call the same functions.

use std::borrow::Borrow;

/// `1234567` cents in EUR -> "€12,345.67".
pub fn money(cents: impl Borrow<i64>, currency: &str) -> String {
    let cents = *cents.borrow();
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let units = group_thousands(cents / 100);
    let fraction = cents % 100;
    match currency {
        "EUR" => format!("{sign}€{units}.{fraction:02}"),
        "USD" => format!("{sign}${units}.{fraction:02}"),
        "GBP" => format!("{sign}£{units}.{fraction:02}"),
        other => format!("{sign}{units}.{fraction:02} {other}"),
    }
}

/// `12345` -> "12,345".
pub fn count(n: impl Borrow<i64>) -> String {
    let n = *n.borrow();
    let grouped = group_thousands(n.unsigned_abs());
    if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An age in days: "today", "1 day", "12 days".
pub fn age_days(days: impl Borrow<i64>) -> String {
    match *days.borrow() {
        i64::MIN..=0 => "today".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{} days", count(n)),
    }
}

/// "+3", "−2" or "±0": a change against yesterday.
pub fn delta(change: impl Borrow<i64>) -> String {
    match *change.borrow() {
        0 => "±0".to_owned(),
        n if n > 0 => format!("+{}", count(n)),
        n => format!("−{}", count(-n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_like_money() {
        assert_eq!(money(1_234_567, "EUR"), "€12,345.67");
        assert_eq!(money(5, "USD"), "$0.05");
        assert_eq!(money(-250, "GBP"), "-£2.50");
        assert_eq!(money(100_000, "CHF"), "1,000.00 CHF");
    }

    #[test]
    fn counts_ages_and_deltas() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(age_days(1), "1 day");
        assert_eq!(age_days(12), "12 days");
        assert_eq!(delta(3), "+3");
        assert_eq!(delta(-2), "−2");
    }
}
