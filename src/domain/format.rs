//! Words and numbers as people read them, shared by pages, emails and the reasons the
//! engine gives, so "Tue 3 Dec", "4th in line", "$1,234.50" and "12 days" read the same
//! everywhere. Number arguments are `Borrow` so templates, which pass references, and
//! code, which passes values, call the same functions.

use std::borrow::Borrow;

use chrono::{Datelike, NaiveDate};

/// "Tue 3 Dec"; the year is added only when it is not `today`'s year.
pub fn human_date(date: NaiveDate, today: NaiveDate) -> String {
    if date.year() == today.year() {
        date.format("%a %-d %b").to_string()
    } else {
        date.format("%a %-d %b %Y").to_string()
    }
}

/// "1st", "2nd", "3rd", "4th", "11th", "21st".
pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "1 unit", "40 units" (and the same for any noun with a plain plural).
pub fn units_phrase(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

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

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn ordinals_follow_english() {
        let words: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            words,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th", "112th"
            ]
        );
    }

    #[test]
    fn human_date_adds_the_year_only_when_it_differs() {
        let today = day(2024, 11, 20);
        assert_eq!(human_date(day(2024, 12, 3), today), "Tue 3 Dec");
        assert_eq!(human_date(day(2025, 1, 7), today), "Tue 7 Jan 2025");
    }

    #[test]
    fn counts_take_a_plural() {
        assert_eq!(units_phrase(1, "unit"), "1 unit");
        assert_eq!(units_phrase(40, "unit"), "40 units");
        assert_eq!(units_phrase(0, "day"), "0 days");
    }

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
