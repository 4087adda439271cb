//! The preview shown before a date change or cancellation: the change is made for real in
//! a transaction that is rolled back, so the engine's ETAs and the emails it would queue
//! are shown and nothing is stored.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Date, Int8, Nullable, Text};

use super::cancel::cancel;
use super::dates::{DateSource, lock_open, move_expected_date};
use crate::db::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::services::purchasing::check_expected_date;

/// A change to an open purchase order that is previewed before it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoChange {
    Cancel,
    MoveTo(NaiveDate),
}

/// One waiting line whose told (worst-case) date the change moves.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct MovedLine {
    #[diesel(sql_type = Int8)]
    pub line_id: i64,
    #[diesel(sql_type = Text)]
    pub order_number: String,
    #[diesel(sql_type = Text)]
    pub customer: String,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Nullable<Date>)]
    pub before: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    pub after: Option<NaiveDate>,
}

impl MovedLine {
    /// Later, or no date at all any more.
    pub fn is_later(&self) -> bool {
        match (self.before, self.after) {
            (Some(before), Some(after)) => after > before,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// What a date change or cancellation would do: the lines whose dates move, and the
/// emails that would go out (all kinds the engine queues for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePreview {
    pub change: PoChange,
    pub lines: Vec<MovedLine>,
    /// Emails that would be queued, and to how many customers.
    pub emails: usize,
    pub emailed_customers: usize,
    /// The first names of the first customers emailed, in order.
    pub first_names: Vec<String>,
    /// Customers who would get a delay notice (pushed past the date promised).
    pub delayed_customers: usize,
}

impl ChangePreview {
    pub fn later_lines(&self) -> usize {
        self.lines.iter().filter(|l| l.is_later()).count()
    }

    pub fn later_customers(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.is_later())
            .map(|l| &l.customer)
            .collect::<BTreeSet<_>>()
            .len()
    }

    pub fn earlier_lines(&self) -> usize {
        self.lines.len() - self.later_lines()
    }
}

/// How a previewed transaction ends: always rolled back, carrying the preview or the
/// reason the change is refused.
enum DryRun {
    Preview(ChangePreview),
    Refused(AppError),
}

impl From<diesel::result::Error> for DryRun {
    fn from(error: diesel::result::Error) -> Self {
        DryRun::Refused(error.into())
    }
}

/// The waiting lines of the purchase order's products with their told dates.
fn told_dates(conn: &mut PgConnection, po_id: i64) -> QueryResult<Vec<MovedLine>> {
    crate::db::prepared::sql(
        "SELECT l.id AS line_id, o.number AS order_number, c.name AS customer, p.sku,
                l.eta_worst AS before, l.eta_worst AS after
           FROM order_lines l JOIN orders o ON o.id = l.order_id
           JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = l.product_id
          WHERE l.waiting > 0
            AND l.product_id IN (SELECT product_id FROM purchase_order_lines WHERE purchase_order_id = $1)
          ORDER BY l.id",
    )
    .bind::<Int8, _>(po_id)
    .load(conn)
}

/// Makes the change (the same function the confirmation calls) inside a transaction that
/// is always rolled back, and reports which waiting lines' dates moved and which emails
/// the engine queued. Nothing is stored, no email leaves; a refusal (a date out of range,
/// an order no longer open) is the same as the real change would give.
pub fn preview_change(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    change: PoChange,
    today: NaiveDate,
) -> AppResult<ChangePreview> {
    preview_change_by(conn, actor, reference, change, today, DateSource::Buyer)
}

/// `preview_change`, for a date given by `source` (the supplier's link previews its new
/// date this way before it is made).
pub fn preview_change_by(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    change: PoChange,
    today: NaiveDate,
    source: DateSource<'_>,
) -> AppResult<ChangePreview> {
    if let PoChange::MoveTo(date) = change {
        check_expected_date(date, today)?;
    }
    let outcome = conn.transaction::<(), DryRun, _>(|conn| {
        let (po_id, _) = lock_open(conn, reference).map_err(DryRun::Refused)?;
        let before = told_dates(conn, po_id)?;
        let last_message: i64 =
            diesel::dsl::sql::<Int8>("SELECT coalesce(max(id), 0) FROM messages")
                .get_result(conn)?;
        match change {
            PoChange::Cancel => cancel(conn, actor, reference, today),
            PoChange::MoveTo(date) => {
                move_expected_date(conn, actor, reference, date, today, source)
            }
        }
        .map_err(DryRun::Refused)?;
        let after: HashMap<i64, Option<NaiveDate>> = told_dates(conn, po_id)?
            .into_iter()
            .map(|l| (l.line_id, l.after))
            .collect();
        let lines: Vec<MovedLine> = before
            .into_iter()
            .filter_map(|mut line| {
                line.after = *after.get(&line.line_id)?;
                (line.after != line.before).then_some(line)
            })
            .collect();
        #[derive(QueryableByName)]
        struct Queued {
            #[diesel(sql_type = Text)]
            kind: String,
            #[diesel(sql_type = Nullable<Int8>)]
            customer_id: Option<i64>,
            #[diesel(sql_type = Nullable<Text>)]
            name: Option<String>,
        }
        // Rows this transaction queued: newer than the last one, stamped with its time.
        // With them, the ETA-change emails this transaction made due (coalesced per order,
        // sent when the shop's window ends): one per order whose lines it moved later.
        let queued: Vec<Queued> = crate::db::prepared::sql(
            "SELECT kind, customer_id, name FROM (
                 SELECT m.id, m.kind, m.customer_id, c.name FROM messages m
                   LEFT JOIN customers c ON c.id = m.customer_id
                  WHERE m.id > $1 AND m.created_at = now()
                 UNION ALL
                 SELECT DISTINCT ON (o.id) 4611686018427387904 + o.id, 'delay_notice', o.customer_id, c.name
                   FROM eta_update_causes u JOIN orders o ON o.id = u.order_id
                   JOIN customers c ON c.id = o.customer_id
                  WHERE u.changed_at = now()
             ) q ORDER BY id",
        )
        .bind::<Int8, _>(last_message)
        .load(conn)?;
        let mut seen = BTreeSet::new();
        let mut first_names = Vec::new();
        for q in &queued {
            if seen.insert(q.customer_id) && first_names.len() < 5 {
                if let Some(name) = &q.name {
                    first_names.push(name.split_whitespace().next().unwrap_or(name).to_owned());
                }
            }
        }
        Err(DryRun::Preview(ChangePreview {
            change,
            lines,
            emails: queued.len(),
            emailed_customers: seen.len(),
            first_names,
            delayed_customers: queued
                .iter()
                .filter(|q| q.kind == "delay_notice")
                .map(|q| q.customer_id)
                .collect::<BTreeSet<_>>()
                .len(),
        }))
    });
    match outcome {
        Err(DryRun::Preview(preview)) => Ok(preview),
        Err(DryRun::Refused(error)) => Err(error),
        Ok(()) => Err(AppError::Internal(anyhow::anyhow!(
            "a previewed change was not rolled back"
        ))),
    }
}
