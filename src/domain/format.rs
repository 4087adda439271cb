//! Words for dates, ranks and counts, shared by pages, emails and the reasons
//! the engine gives, so "Tue 3 Dec" and "4th in line" read the same everywhere.

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
}
