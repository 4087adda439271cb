//! "When will my order ship?" answered in sentences a rep can say or paste: one per
//! line of the order, the delayed and at-risk ones first. Built from what the engine
//! stored (dates, place in line, the promise) and the deliveries booked for each product;
//! the internal reasons (supplier record, purchase order references) stay on the page.

use chrono::NaiveDate;

use super::format::{human_date, ordinal};

/// A delivery booked for the product: an open purchase order's outstanding units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub units: u32,
    pub expected_on: NaiveDate,
}

/// The last date an email told the customer about a line, which email, and how it went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToldDate {
    pub told: NaiveDate,
    pub queued_on: NaiveDate,
    pub delivery: EmailDelivery,
    /// The email, as the rep calls it ("delay email", "backorder email").
    pub email: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailDelivery {
    Sent,
    OnItsWay,
    Failed,
}

/// One line of an order, as the answer needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineFacts {
    pub product: String,
    pub qty: u32,
    pub ready: u32,
    pub shipped: u32,
    pub cancelled: u32,
    pub waiting: u32,
    pub eta_worst: Option<NaiveDate>,
    pub is_estimate: bool,
    pub promised_on: Option<NaiveDate>,
    /// Place in the product's queue, 1-based.
    pub position: Option<u32>,
    /// Units waiting ahead of this line in the product's queue.
    pub units_ahead: u32,
    /// The product's booked deliveries (any order).
    pub deliveries: Vec<Delivery>,
    /// What the customer was last told about the line.
    pub told: Option<ToldDate>,
    /// When the order's coalesced date-change email is due, if one is pending.
    pub update_due: Option<NaiveDate>,
    /// The card authorization lapses before the line can ship.
    pub authorization_lapses_on: Option<NaiveDate>,
    /// The customer's latest acceptable date, when the line's date passes it.
    pub wait_limit_passed: Option<NaiveDate>,
}

/// How a line stands, in the order the summary lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    /// Past its promise, or its date moved after the promise.
    Delayed,
    /// Still on its promise, but something may break it.
    AtRisk,
    OnTrack,
    /// Nothing waits: ready, shipped or cancelled.
    Settled,
}

impl Standing {
    pub fn label(self) -> &'static str {
        match self {
            Standing::Delayed => "Delayed",
            Standing::AtRisk => "At risk",
            Standing::OnTrack => "On track",
            Standing::Settled => "Nothing waiting",
        }
    }

    /// For a CSS class.
    pub fn code(self) -> &'static str {
        match self {
            Standing::Delayed => "delayed",
            Standing::AtRisk => "at-risk",
            Standing::OnTrack => "on-track",
            Standing::Settled => "settled",
        }
    }
}

/// A line's answer: how it stands, what to tell the customer, and why it is at risk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineAnswer {
    pub standing: Standing,
    pub days_late: i64,
    pub sentence: String,
    /// For the rep: what else may break the date (the sentence says the rest).
    pub risks: Vec<String>,
}

/// Which booked delivery completes the line, walking the deliveries by date against the
/// units ahead (the same walk the ETA makes, without the slips).
enum Cover {
    Next(NaiveDate),
    Later { nth: usize, expected_on: NaiveDate },
    Beyond,
}

fn cover(line: &LineFacts) -> Cover {
    let mut deliveries: Vec<&Delivery> = line.deliveries.iter().filter(|d| d.units > 0).collect();
    deliveries.sort_by_key(|d| d.expected_on);
    let needed = u64::from(line.units_ahead) + u64::from(line.waiting);
    let mut supply = 0u64;
    for (i, delivery) in deliveries.iter().enumerate() {
        supply += u64::from(delivery.units);
        if supply >= needed {
            return if i == 0 {
                Cover::Next(delivery.expected_on)
            } else {
                Cover::Later {
                    nth: i + 1,
                    expected_on: delivery.expected_on,
                }
            };
        }
    }
    Cover::Beyond
}

fn units(n: u32) -> String {
    if n == 1 {
        "1 unit".to_owned()
    } else {
        format!("{n} units")
    }
}

/// "The USB-C dock", "The 3 USB-C docks" would need plurals we do not have: the count
/// goes in brackets instead.
fn subject(line: &LineFacts, count: u32) -> String {
    if count == line.qty && count == 1 {
        format!("The {}", line.product)
    } else {
        format!("The {} ({})", line.product, units(count))
    }
}

/// The answer for one line on `today`.
pub fn answer(line: &LineFacts, today: NaiveDate) -> LineAnswer {
    let date = |d: NaiveDate| {
        if d == today {
            "today".to_owned()
        } else {
            human_date(d, today)
        }
    };
    if line.waiting == 0 {
        let sentence = if line.ready > 0 {
            format!(
                "{} is reserved and ships with the next parcel.",
                subject(line, line.ready)
            )
        } else if line.shipped > 0 {
            format!("{} has shipped.", subject(line, line.shipped))
        } else {
            format!("{} was cancelled.", subject(line, line.cancelled.max(1)))
        };
        return LineAnswer {
            standing: Standing::Settled,
            days_late: 0,
            sentence,
            risks: Vec::new(),
        };
    }

    let mut parts = Vec::new();
    let ready_now = (line.ready > 0).then(|| {
        format!(
            "{} of the {} {} ready to ship now",
            units(line.ready),
            line.product,
            if line.ready == 1 { "is" } else { "are" }
        )
    });
    let place = match line.position {
        Some(1) => "It is first in line".to_owned(),
        Some(n) => format!("It is {} in line", ordinal(n)),
        None => "It is in line".to_owned(),
    };
    // What may break the promise: said in the sentence, or listed for the rep.
    let mut late_delivery = false;
    let mut risks = Vec::new();
    match line.eta_worst {
        None => parts.push(match &ready_now {
            Some(ready) => format!(
                "{ready}; we do not have a date for the other {} yet: no delivery is booked that covers them and the supplier gives no lead time.",
                units(line.waiting)
            ),
            None => format!(
                "We do not have a date for {} yet: no delivery is booked that covers it and the supplier gives no lead time.",
                subject(line, line.waiting).to_lowercase_first()
            ),
        }),
        Some(worst) => {
            parts.push(match &ready_now {
                Some(ready) => format!(
                    "{ready}; the other {} ship by {}.",
                    units(line.waiting),
                    date(worst)
                ),
                None => format!("{} ships by {}.", subject(line, line.waiting), date(worst)),
            });
            let why = match cover(line) {
                Cover::Next(expected) if expected < today => {
                    late_delivery = true;
                    format!("{place} for the next delivery, which was due {} and is running late", date(expected))
                }
                Cover::Next(expected) => {
                    format!("{place} for the next delivery, due {}", date(expected))
                }
                Cover::Later { nth, expected_on } => {
                    if expected_on < today {
                        late_delivery = true;
                        format!(
                            "{place}; the {} delivery booked covers it, which was due {} and is running late",
                            ordinal(nth as u32),
                            date(expected_on)
                        )
                    } else {
                        format!(
                            "{place}; the {} delivery booked covers it, due {}",
                            ordinal(nth as u32),
                            date(expected_on)
                        )
                    }
                }
                Cover::Beyond if line.is_estimate => {
                    late_delivery = true;
                    format!(
                        "{place}; no delivery is booked for it yet, so the date is the supplier's usual lead time"
                    )
                }
                Cover::Beyond => place.clone(),
            };
            let told = told_words(line, worst, today);
            match told {
                Some(told) => parts.push(format!("{why}; {told}.")),
                None => parts.push(format!("{why}.")),
            }
        }
    }
    if let Some(lapses) = line.authorization_lapses_on {
        risks.push(format!(
            "the card authorization lapses on {}, before it ships",
            date(lapses)
        ));
    }
    if let Some(until) = line.wait_limit_passed {
        risks.push(format!("the customer asked to have it by {}", date(until)));
    }
    let days_late = match (line.promised_on, line.eta_worst) {
        (Some(promised), Some(worst)) => (worst - promised).num_days().max(0),
        _ => 0,
    };
    let overdue = line.promised_on.is_some_and(|p| p < today);
    let standing = if days_late > 0 || overdue {
        Standing::Delayed
    } else if line.eta_worst.is_none() || late_delivery || !risks.is_empty() {
        Standing::AtRisk
    } else {
        Standing::OnTrack
    };
    LineAnswer {
        standing,
        days_late,
        sentence: parts.join(" "),
        risks,
    }
}

/// What the customer was told against the date now, from the last date an email told
/// them (not from the promise: a customer told Mon 14 Dec who now gets Thu 10 Dec has
/// good news, not a delay).
fn told_words(line: &LineFacts, worst: NaiveDate, today: NaiveDate) -> Option<String> {
    let date = |d: NaiveDate| human_date(d, today);
    let Some(told) = &line.told else {
        return line
            .promised_on
            .map(|promised| format!("we told the customer {} before", date(promised)));
    };
    let email = &told.email;
    Some(if worst > told.told {
        let last = format!("we last told the customer {} ({email})", date(told.told));
        match line.update_due {
            Some(due) => format!(
                "{last}; an email with the new date and why goes out {}",
                if due <= today {
                    "today".to_owned()
                } else {
                    date(due)
                }
            ),
            None => format!("{last}; they have not been told the new date yet"),
        }
    } else if worst < told.told {
        format!(
            "that is sooner than the {} we last told the customer",
            date(told.told)
        )
    } else {
        match line.promised_on {
            // The date told is later than the promise: say how they heard of it.
            Some(promised) if promised < worst => {
                let before = format!("we told the customer {} before", date(promised));
                match told.delivery {
                    EmailDelivery::Sent => format!(
                        "{before}, so they have had a {email} with this date (sent {})",
                        date(told.queued_on)
                    ),
                    EmailDelivery::OnItsWay => {
                        format!("{before}; a {email} with the new date is on its way")
                    }
                    EmailDelivery::Failed => format!(
                        "{before}; the {email} with the new date could not be delivered, so they do not know yet"
                    ),
                }
            }
            _ => "that is the date we told the customer".to_owned(),
        }
    })
}

trait LowercaseFirst {
    fn to_lowercase_first(&self) -> String;
}

impl LowercaseFirst for String {
    /// "The dock" to "the dock", inside a sentence.
    fn to_lowercase_first(&self) -> String {
        let mut chars = self.chars();
        match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => String::new(),
        }
    }
}

/// The order's answers, worst first: delayed (most days late first), at risk, on track,
/// then the lines with nothing waiting; `lines[i]` answers to `result[i].0`.
pub fn summarise(lines: &[LineFacts], today: NaiveDate) -> Vec<(usize, LineAnswer)> {
    let mut answers: Vec<(usize, LineAnswer)> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| (i, answer(line, today)))
        .collect();
    answers.sort_by(|(ia, a), (ib, b)| {
        a.standing
            .cmp(&b.standing)
            .then(b.days_late.cmp(&a.days_late))
            .then(ia.cmp(ib))
    });
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        day(12, 1)
    }

    fn waiting_line() -> LineFacts {
        LineFacts {
            product: "USB-C dock".to_owned(),
            qty: 1,
            ready: 0,
            shipped: 0,
            cancelled: 0,
            waiting: 1,
            eta_worst: Some(day(12, 25)),
            is_estimate: false,
            promised_on: Some(day(12, 16)),
            position: Some(1),
            units_ahead: 0,
            deliveries: vec![Delivery {
                units: 10,
                expected_on: day(12, 9),
            }],
            told: Some(ToldDate {
                told: day(12, 25),
                queued_on: day(12, 1),
                delivery: EmailDelivery::Sent,
                email: "delay email".to_owned(),
            }),
            update_due: None,
            authorization_lapses_on: None,
            wait_limit_passed: None,
        }
    }

    #[test]
    fn a_delayed_line_says_the_date_the_delivery_and_what_the_customer_was_told() {
        let answer = answer(&waiting_line(), today());
        assert_eq!(answer.standing, Standing::Delayed);
        assert_eq!(answer.days_late, 9);
        assert_eq!(
            answer.sentence,
            "The USB-C dock ships by Fri 25 Dec. It is first in line for the next delivery, \
             due Wed 9 Dec; we told the customer Wed 16 Dec before, so they have had a delay \
             email with this date (sent Tue 1 Dec)."
        );
    }

    #[test]
    fn a_date_later_than_last_told_says_when_the_customer_hears_of_it() {
        let mut line = waiting_line();
        line.told = Some(ToldDate {
            told: day(12, 20),
            queued_on: day(11, 28),
            delivery: EmailDelivery::Sent,
            email: "restock email".to_owned(),
        });
        let sentence = answer(&line, today()).sentence;
        assert!(
            sentence.ends_with(
                "we last told the customer Sun 20 Dec (restock email); they have not been told the new date yet."
            ),
            "{sentence}"
        );
        line.update_due = Some(day(12, 2));
        assert!(
            answer(&line, today())
                .sentence
                .ends_with("an email with the new date and why goes out Wed 2 Dec.")
        );
    }

    #[test]
    fn a_date_sooner_than_last_told_is_not_a_delay_to_the_customer() {
        // The case: told Mon 14 Dec, the date is now Thu 10 Dec, promised Fri 4 Dec.
        let mut line = waiting_line();
        line.promised_on = Some(day(12, 4));
        line.eta_worst = Some(day(12, 10));
        line.told = Some(ToldDate {
            told: day(12, 14),
            queued_on: day(11, 28),
            delivery: EmailDelivery::Sent,
            email: "delay email".to_owned(),
        });
        let sentence = answer(&line, today()).sentence;
        assert!(
            sentence.ends_with("that is sooner than the Mon 14 Dec we last told the customer."),
            "{sentence}"
        );
    }

    #[test]
    fn a_line_further_back_is_covered_by_a_later_delivery() {
        let mut line = waiting_line();
        line.promised_on = Some(day(12, 25));
        line.position = Some(3);
        line.units_ahead = 12;
        line.waiting = 2;
        line.qty = 2;
        line.deliveries.push(Delivery {
            units: 5,
            expected_on: day(12, 18),
        });
        let answer = answer(&line, today());
        assert_eq!(answer.standing, Standing::OnTrack);
        assert_eq!(
            answer.sentence,
            "The USB-C dock (2 units) ships by Fri 25 Dec. It is 3rd in line; the 2nd delivery \
             booked covers it, due Fri 18 Dec; that is the date we told the customer."
        );
    }

    #[test]
    fn a_late_delivery_or_a_lapsing_card_puts_a_line_at_risk() {
        let mut line = waiting_line();
        line.promised_on = Some(day(12, 25));
        line.deliveries[0].expected_on = day(11, 28);
        let late = answer(&line, today());
        assert_eq!(late.standing, Standing::AtRisk);
        assert!(
            late.sentence
                .contains("which was due Sat 28 Nov and is running late")
        );
        let mut line = waiting_line();
        line.promised_on = Some(day(12, 25));
        line.authorization_lapses_on = Some(day(12, 20));
        assert_eq!(answer(&line, today()).standing, Standing::AtRisk);
        assert_eq!(
            answer(&line, today()).risks,
            vec!["the card authorization lapses on Sun 20 Dec, before it ships"]
        );
    }

    #[test]
    fn no_date_is_said_plainly() {
        let mut line = waiting_line();
        line.eta_worst = None;
        line.promised_on = None;
        line.deliveries.clear();
        let answer = answer(&line, today());
        assert_eq!(answer.standing, Standing::AtRisk);
        assert_eq!(
            answer.sentence,
            "We do not have a date for the USB-C dock yet: no delivery is booked that covers \
             it and the supplier gives no lead time."
        );
    }

    #[test]
    fn settled_lines_and_partly_ready_lines() {
        let mut line = waiting_line();
        line.waiting = 0;
        line.shipped = 1;
        assert_eq!(
            answer(&line, today()).sentence,
            "The USB-C dock has shipped."
        );
        let mut line = waiting_line();
        line.qty = 3;
        line.ready = 1;
        line.waiting = 2;
        assert!(
            answer(&line, today()).sentence.starts_with(
                "1 unit of the USB-C dock is ready to ship now; the other 2 units ship by Fri 25 Dec."
            ),
            "{}",
            answer(&line, today()).sentence
        );
    }

    #[test]
    fn the_summary_puts_the_worst_first() {
        let mut on_time = waiting_line();
        on_time.promised_on = Some(day(12, 25));
        let mut shipped = waiting_line();
        shipped.waiting = 0;
        shipped.shipped = 1;
        let delayed = waiting_line();
        let mut later = waiting_line();
        later.eta_worst = Some(day(12, 30));
        later.told = None;
        let order = [on_time, shipped, delayed, later];
        let sorted: Vec<usize> = summarise(&order, today())
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(sorted, vec![3, 2, 0, 1]);
    }
}
