//! The order page's actions that take an order number from the page: each checks the
//! number (and the line) and calls the use case that does the work.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::audit::Actor;
use crate::db::schema::{order_lines, orders};
use crate::error::{AppError, AppResult};
use crate::services::orders::fulfilment::{self, CancellationView};

/// The id of order `number`, or "not found".
pub fn order_id(conn: &mut PgConnection, number: &str) -> AppResult<i64> {
    orders::table
        .filter(orders::number.eq(number))
        .select(orders::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("the order"))
}

/// "Not found" unless `line_id` is a line of the order.
pub fn check_line(conn: &mut PgConnection, order_id: i64, line_id: i64) -> AppResult<()> {
    let belongs: bool = diesel::select(diesel::dsl::exists(
        order_lines::table
            .filter(order_lines::id.eq(line_id))
            .filter(order_lines::order_id.eq(order_id)),
    ))
    .get_result(conn)?;
    if belongs {
        Ok(())
    } else {
        Err(AppError::not_found("that line on this order"))
    }
}

/// Cancels the open units of a line of order `number`.
pub fn cancel_order_line(
    conn: &mut PgConnection,
    actor: &Actor,
    number: &str,
    line_id: i64,
    reason: &str,
    today: NaiveDate,
) -> AppResult<CancellationView> {
    let order_id = order_id(conn, number)?;
    check_line(conn, order_id, line_id)?;
    fulfilment::cancel_line(conn, actor, line_id, None, reason, today)
}

/// Emails the customer of order `number` the current dates of what waits (once a day).
pub fn queue_eta_update(
    conn: &mut PgConnection,
    actor: &Actor,
    number: &str,
    today: NaiveDate,
) -> AppResult<()> {
    let order_id = order_id(conn, number)?;
    if crate::services::messages::triggers::queue_eta_update(conn, actor, order_id, today)? {
        Ok(())
    } else {
        Err(AppError::Conflict(
            "No update was queued: nothing on this order waits, or an update went out today already."
                .to_owned(),
        ))
    }
}
