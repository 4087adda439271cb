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
use crate::services::{orders::fulfilment, orders::order_actions};

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
    pub fn code(self) -> &'static str {
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
    crate::db::prepared::sql(
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

/// Where an order (or the line a link is about) stands, for what a customer may still
/// choose: the self-service page offers only what applies, in words that are true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Units in scope still waiting for stock.
    pub waiting: i32,
    /// Units of the whole order reserved and not shipped ("Ship what is ready" ships them).
    pub ready: i32,
    /// Units of the whole order shipped already.
    pub shipped: i32,
    /// Units in scope still to ship (waiting or ready).
    pub open: i32,
    /// Units in scope cancelled.
    pub cancelled: i32,
}

impl Standing {
    /// Why `choice` does not apply now, in the customer's words; `None` when it does.
    pub fn refusal(&self, choice: Choice, order: &str) -> Option<String> {
        if self.open == 0 {
            return Some(match (self.shipped > 0, self.cancelled > 0) {
                (false, _) => {
                    format!("Order {order} was cancelled, so there is nothing left to choose.")
                }
                (true, false) => format!(
                    "Everything on order {order} has been sent, so there is nothing left to choose."
                ),
                (true, true) => format!(
                    "Order {order} is finished: part of it was sent and the rest cancelled, so there is nothing left to choose."
                ),
            });
        }
        if self.waiting == 0 {
            return Some(format!(
                "Nothing on order {order} is waiting for stock any more: what is left is reserved for you and ships soon."
            ));
        }
        match choice {
            Choice::ShipReady if self.ready == 0 => Some(format!(
                "Nothing on order {order} is ready to ship yet, so there is nothing to send now. We keep your place in the queue."
            )),
            _ => None,
        }
    }
}

/// The standing of the order (or one line of it) a choice is about.
pub fn standing(
    conn: &mut PgConnection,
    order_id: i64,
    line_id: Option<i64>,
) -> QueryResult<Standing> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Int4)]
        waiting: i32,
        #[diesel(sql_type = Int4)]
        ready: i32,
        #[diesel(sql_type = Int4)]
        shipped: i32,
        #[diesel(sql_type = Int4)]
        open: i32,
        #[diesel(sql_type = Int4)]
        cancelled: i32,
    }
    let row: Row = crate::db::prepared::sql(
        "SELECT coalesce(sum(l.waiting) FILTER (WHERE $2::int8 IS NULL OR l.id = $2), 0)::int4 AS waiting,
                coalesce(sum(l.allocated), 0)::int4 AS ready,
                coalesce(sum(l.shipped), 0)::int4 AS shipped,
                coalesce(sum(l.qty - l.shipped - l.cancelled) FILTER (WHERE $2::int8 IS NULL OR l.id = $2), 0)::int4 AS open,
                coalesce(sum(l.cancelled) FILTER (WHERE $2::int8 IS NULL OR l.id = $2), 0)::int4 AS cancelled
           FROM order_lines l WHERE l.order_id = $1",
    )
    .bind::<BigInt, _>(order_id)
    .bind::<Nullable<BigInt>, _>(line_id)
    .get_result(conn)?;
    Ok(Standing {
        waiting: row.waiting,
        ready: row.ready,
        shipped: row.shipped,
        open: row.open,
        cancelled: row.cancelled,
    })
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
    crate::db::prepared::sql("UPDATE order_lines SET customer_choice = $2 WHERE id = ANY($1)")
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
