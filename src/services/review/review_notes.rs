//! Words for the unusual days of the review's trend: what arrived, what was cancelled or
//! what was ordered on the days the number of open lines jumped.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text};

use crate::domain::format::human_date;
use crate::domain::trend::{self, JumpCause, TrendDay};

#[derive(QueryableByName)]
struct Receipt {
    #[diesel(sql_type = Text)]
    reference: String,
    #[diesel(sql_type = BigInt)]
    units: i64,
}

#[derive(QueryableByName)]
struct TopProduct {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = BigInt)]
    lines: i64,
}

fn lines(n: i64) -> String {
    if n == 1 {
        "1 line".to_owned()
    } else {
        format!("{n} lines")
    }
}

fn waiting_lines(n: i64) -> String {
    if n == 1 {
        "1 waiting line".to_owned()
    } else {
        format!("{n} waiting lines")
    }
}

/// The product most of a day's lines of one kind were for: `kind` is "started",
/// "filled" or "cancelled".
fn top_product(conn: &mut PgConnection, day: NaiveDate, kind: &str) -> QueryResult<TopProduct> {
    let column = if kind == "started" {
        "waiting_since"
    } else {
        "waiting_ended_at"
    };
    diesel::sql_query(format!(
        "SELECT p.name, count(*)::int8 AS lines FROM order_lines l JOIN products p ON p.id = l.product_id
          WHERE (l.{column} AT TIME ZONE current_setting('TimeZone'))::date = $1
            AND l.{column} >= ($1::date - 1)::timestamptz AND l.{column} < ($1::date + 2)::timestamptz
            AND ($2 = 'started' OR coalesce(l.waiting_ended_by, 'filled') = $2)
          GROUP BY p.id ORDER BY count(*) DESC, p.name LIMIT 1"
    ))
    .bind::<Date, _>(day)
    .bind::<Text, _>(kind)
    .get_result::<TopProduct>(conn)
    .optional()
    .map(|found| found.unwrap_or(TopProduct { name: None, lines: 0 }))
}

/// One sentence per unusual day of `days`, oldest first: "Tue 24 Nov: open lines fell
/// from 101 to 50. PO-1042 arrived (300 units) and filled 48 waiting lines."
pub fn explain(
    conn: &mut PgConnection,
    days: &[TrendDay],
    today: NaiveDate,
) -> QueryResult<Vec<String>> {
    let mut notes = Vec::new();
    for jump in trend::unusual_days(days) {
        let when = human_date(jump.day, today);
        let moved = if jump.to < jump.from { "fell" } else { "rose" };
        let head = format!(
            "{when}: open lines {moved} from {} to {}.",
            jump.from, jump.to
        );
        let why = match jump.cause {
            JumpCause::Filled => {
                let receipts: Vec<Receipt> = crate::db::prepared::sql(
                    "SELECT po.reference, sum(rl.quantity)::int8 AS units
                       FROM purchase_order_receipts r
                       JOIN purchase_orders po ON po.id = r.purchase_order_id
                       JOIN receipt_lines rl ON rl.receipt_id = r.id
                      WHERE r.received_on = $1
                      GROUP BY po.reference ORDER BY units DESC LIMIT 3",
                )
                .bind::<Date, _>(jump.day)
                .load(conn)?;
                let filled = waiting_lines(jump.lines);
                match receipts.as_slice() {
                    [] => format!("Stock came in and filled {filled}."),
                    [one] => format!(
                        "{} arrived with {} units and filled {filled}.",
                        one.reference, one.units
                    ),
                    many => {
                        let arrived: Vec<String> = many
                            .iter()
                            .map(|r| format!("{} with {} units", r.reference, r.units))
                            .collect();
                        format!(
                            "Deliveries arrived ({}) and filled {filled}.",
                            arrived.join(", ")
                        )
                    }
                }
            }
            JumpCause::Cancelled => {
                let top = top_product(conn, jump.day, "cancelled")?;
                match top.name {
                    Some(name) if top.lines * 2 >= jump.lines => format!(
                        "A wave of cancellations: {} cancelled, {} of them for {name}.",
                        lines(jump.lines),
                        top.lines
                    ),
                    _ => format!("A wave of cancellations: {} cancelled.", lines(jump.lines)),
                }
            }
            JumpCause::NewOrders => {
                let top = top_product(conn, jump.day, "started")?;
                match top.name {
                    Some(name) if top.lines * 2 >= jump.lines => format!(
                        "A rush of orders: {} started waiting, {} of them for {name}.",
                        lines(jump.lines),
                        top.lines
                    ),
                    _ => format!("A rush of orders: {} started waiting.", lines(jump.lines)),
                }
            }
        };
        notes.push(format!("{head} {why}"));
    }
    Ok(notes)
}
