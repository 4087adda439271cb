//! The customer's choice for what still waits on an order (keep waiting, ship what is
//! ready, cancel the waiting items): one path for a self-service link and for a choice a
//! rep records from a phone call, so both go through the same engine steps and the same
//! audit entry (with who recorded it).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text};
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::services::{fulfilment, order_actions};

/// What the customer chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Wait,
    ShipReady,
    CancelWaiting,
}

impl Choice {
    /// The form value and `order_lines.customer_choice`.
    pub fn code(self) -> &'static str {
        match self {
            Choice::Wait => "wait",
            Choice::ShipReady => "ship_partial",
            Choice::CancelWaiting => "cancel",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [Choice::Wait, Choice::ShipReady, Choice::CancelWaiting]
            .into_iter()
            .find(|c| c.code() == code)
    }

    /// As a rep reads it.
    pub fn label(self) -> &'static str {
        label(self.code())
    }
}

/// "Ship what is ready" for `ship_partial` (the stored codes).
pub fn label(code: &str) -> &'static str {
    match code {
        "ship_partial" => "Ship what is ready",
        "cancel" => "Cancel the waiting items",
        _ => "Wait for everything",
    }
}

/// How the choice reached the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The customer followed a link in an email.
    Link,
    /// A rep recorded what the customer said (phone, chat).
    Rep,
}

impl Channel {
    fn code(self) -> &'static str {
        match self {
            Channel::Link => "link",
            Channel::Rep => "rep",
        }
    }
}

/// What applying the choice did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChoiceOutcome {
    KeptWaiting,
    Shipped {
        units: i32,
    },
    /// "Ship what is ready": nothing is ready yet; the choice is recorded.
    NothingReadyYet,
    Cancelled {
        units: i32,
    },
    NothingWaits,
}

impl ChoiceOutcome {
    /// In words, for the audit log and the rep's confirmation.
    pub fn words(&self) -> String {
        let units = |n: i32| {
            if n == 1 {
                "1 unit".to_owned()
            } else {
                format!("{n} units")
            }
        };
        match self {
            ChoiceOutcome::KeptWaiting => "keeps waiting for everything".to_owned(),
            ChoiceOutcome::Shipped { units: n } => {
                format!(
                    "{} shipped now; the rest follows when it arrives",
                    units(*n)
                )
            }
            ChoiceOutcome::NothingReadyYet => {
                "nothing is ready yet; each part ships as soon as it arrives".to_owned()
            }
            ChoiceOutcome::Cancelled { units: n } => format!("{} cancelled", units(*n)),
            ChoiceOutcome::NothingWaits => "nothing was waiting, so nothing changed".to_owned(),
        }
    }
}

#[derive(QueryableByName)]
pub(crate) struct ScopeLine {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub number: String,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Text)]
    pub product: String,
    #[diesel(sql_type = Int4)]
    pub waiting: i32,
    #[diesel(sql_type = Int4)]
    pub allocated: i32,
}

/// The lines a choice covers: the whole order, or one line of it.
pub(crate) fn scope_lines(
    conn: &mut PgConnection,
    order_id: i64,
    line_id: Option<i64>,
) -> QueryResult<Vec<ScopeLine>> {
    diesel::sql_query(
        "SELECT l.id, o.number, c.email, p.name AS product,
                l.waiting AS waiting, l.allocated
           FROM orders o JOIN customers c ON c.id = o.customer_id
           JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id
          WHERE o.id = $1 AND ($2::int8 IS NULL OR l.id = $2)
          ORDER BY l.id",
    )
    .bind::<BigInt, _>(order_id)
    .bind::<Nullable<BigInt>, _>(line_id)
    .load(conn)
}

/// Applies the customer's choice to the order's lines (or one line) in the caller's
/// transaction: records it on the waiting lines, ships or cancels through the engine, and
/// audits it as done by `actor` (the customer for a link, the rep who took the call).
pub fn apply(
    conn: &mut PgConnection,
    actor: &Actor,
    order_id: i64,
    line_id: Option<i64>,
    choice: Choice,
    channel: Channel,
    today: NaiveDate,
) -> AppResult<ChoiceOutcome> {
    let lines = scope_lines(conn, order_id, line_id)?;
    let Some(first) = lines.first() else {
        return Err(AppError::not_found("the order"));
    };
    let number = first.number.clone();
    let waiting: Vec<&ScopeLine> = lines.iter().filter(|l| l.waiting > 0).collect();
    let ids: Vec<i64> = waiting.iter().map(|l| l.id).collect();
    diesel::sql_query("UPDATE order_lines SET customer_choice = $2 WHERE id = ANY($1)")
        .bind::<Array<BigInt>, _>(&ids)
        .bind::<Text, _>(choice.code())
        .execute(conn)?;
    let outcome = match choice {
        Choice::Wait => ChoiceOutcome::KeptWaiting,
        Choice::ShipReady => match fulfilment::ship_allocated(conn, actor, &number, today) {
            Ok(view) => ChoiceOutcome::Shipped {
                units: view.lines.iter().map(|(_, n)| n).sum(),
            },
            Err(AppError::Conflict(_)) => ChoiceOutcome::NothingReadyYet,
            Err(other) => return Err(other),
        },
        Choice::CancelWaiting if waiting.is_empty() => ChoiceOutcome::NothingWaits,
        Choice::CancelWaiting => {
            let reason = match channel {
                Channel::Link => "the customer chose to cancel the waiting items",
                Channel::Rep => "the customer asked a rep to cancel the waiting items",
            };
            let mut units = 0;
            for line in &waiting {
                fulfilment::cancel_line(conn, actor, line.id, Some(line.waiting), reason, today)?;
                units += line.waiting;
            }
            ChoiceOutcome::Cancelled { units }
        }
    };
    let products: Vec<&str> = lines.iter().map(|l| l.product.as_str()).collect();
    audit::record(
        conn,
        actor,
        "customer_choice",
        "order",
        Some(number),
        None,
        Some(json!({
            "choice": choice.code(),
            "lines": ids,
            "products": products,
            "outcome": outcome.words(),
            "channel": channel.code(),
        })),
    )?;
    Ok(outcome)
}

/// A rep records the choice a customer phoned in, for the whole order or one line.
pub fn record_for_customer(
    conn: &mut PgConnection,
    actor: &Actor,
    number: &str,
    line_id: Option<i64>,
    choice: Choice,
    today: NaiveDate,
) -> AppResult<ChoiceOutcome> {
    conn.transaction(|conn| {
        let order_id = order_actions::order_id(conn, number)?;
        if let Some(line_id) = line_id {
            order_actions::check_line(conn, order_id, line_id)?;
        }
        apply(conn, actor, order_id, line_id, choice, Channel::Rep, today)
    })
}
