//! One order's history, newest first, the way a helpdesk sidebar shows a ticket's: when
//! it was placed, each allocation and shipment, every change of an ETA with its cause,
//! each email (opening the message itself), notes, the customer's choices (by link or
//! recorded by a rep) and discount proposals with their decisions. Each kind is one
//! indexed query by the order; an ETA change finds its cause among the rows written in
//! the same transaction (they share its timestamp).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Int4, Nullable, Text, Timestamptz};
use serde_json::Value;

use crate::db::models::{AuditEntry, Message};
use crate::domain::format::human_date;
use crate::email::outbox;

/// What an entry is about, for its badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Placed,
    Allocated,
    Shipped,
    EtaChanged,
    Email,
    Note,
    Choice,
    Discount,
    Cancelled,
}

impl EntryKind {
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Placed => "Placed",
            EntryKind::Allocated => "Reserved",
            EntryKind::Shipped => "Shipped",
            EntryKind::EtaChanged => "New date",
            EntryKind::Email => "Email",
            EntryKind::Note => "Note",
            EntryKind::Choice => "Customer's choice",
            EntryKind::Discount => "Discount",
            EntryKind::Cancelled => "Cancelled",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            EntryKind::Placed => "placed",
            EntryKind::Allocated => "allocated",
            EntryKind::Shipped => "shipped",
            EntryKind::EtaChanged => "eta",
            EntryKind::Email => "email",
            EntryKind::Note => "note",
            EntryKind::Choice => "choice",
            EntryKind::Discount => "discount",
            EntryKind::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: EntryKind,
    pub title: String,
    pub detail: Option<String>,
    /// Who did it, when a person (or the customer) did.
    pub who: Option<String>,
    /// The email this entry is, to open in the message viewer.
    pub message_id: Option<i64>,
}

fn entry(at: DateTime<Utc>, kind: EntryKind, title: String) -> TimelineEntry {
    TimelineEntry {
        at,
        kind,
        title,
        detail: None,
        who: None,
        message_id: None,
    }
}

fn units(n: i64) -> String {
    if n == 1 {
        "1 unit".to_owned()
    } else {
        format!("{n} units")
    }
}

/// The whole history of order `order_id` (number `number`), newest first.
pub fn order_timeline(
    conn: &mut PgConnection,
    order_id: i64,
    number: &str,
    today: NaiveDate,
) -> QueryResult<Vec<TimelineEntry>> {
    let mut entries = Vec::new();
    entries.extend(placed(conn, order_id, number)?);
    entries.extend(allocations(conn, order_id)?);
    entries.extend(shipments(conn, order_id)?);
    entries.extend(eta_changes(conn, order_id, today)?);
    entries.extend(emails(conn, order_id)?);
    entries.extend(notes(conn, order_id)?);
    entries.extend(audited(conn, number)?);
    entries.extend(discounts(conn, order_id, today)?);
    // Newest first; within one instant, the order things happen in (placed before its
    // allocation, a change before the email it caused) read backwards.
    entries.sort_by(|a, b| b.at.cmp(&a.at).then(rank(b.kind).cmp(&rank(a.kind))));
    Ok(entries)
}

fn rank(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::Placed => 0,
        EntryKind::Choice => 1,
        EntryKind::Cancelled => 2,
        EntryKind::Allocated => 3,
        EntryKind::Shipped => 4,
        EntryKind::EtaChanged => 5,
        EntryKind::Discount => 6,
        EntryKind::Note => 7,
        EntryKind::Email => 8,
    }
}

#[derive(QueryableByName)]
struct PlacedRow {
    #[diesel(sql_type = Timestamptz)]
    placed_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    contents: String,
    #[diesel(sql_type = Nullable<Text>)]
    actor: Option<String>,
}

fn placed(conn: &mut PgConnection, order_id: i64, number: &str) -> QueryResult<Vec<TimelineEntry>> {
    let rows: Vec<PlacedRow> = crate::db::prepared::sql(
        "SELECT o.placed_at,
                (SELECT string_agg(l.qty || ' × ' || p.name, ', ' ORDER BY l.id)
                   FROM order_lines l JOIN products p ON p.id = l.product_id
                  WHERE l.order_id = o.id) AS contents,
                (SELECT a.actor FROM audit_log a
                  WHERE a.entity = 'order' AND a.entity_id = $2 AND a.action = 'order_placed'
                  ORDER BY a.id LIMIT 1) AS actor
           FROM orders o WHERE o.id = $1",
    )
    .bind::<BigInt, _>(order_id)
    .bind::<Text, _>(number)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut e = entry(row.placed_at, EntryKind::Placed, "Order placed".to_owned());
            e.detail = Some(row.contents);
            e.who = row.actor.as_deref().map(actor_words);
            e
        })
        .collect())
}

/// "api:storefront" to "the storefront (API)", "customer:a@b" to "the customer".
pub fn actor_words(actor: &str) -> String {
    if let Some(token) = actor.strip_prefix("api:") {
        format!("{token} (through the API)")
    } else if let Some(email) = actor.strip_prefix("customer:") {
        format!("the customer ({email})")
    } else if actor == "system" {
        "Backorder Desk".to_owned()
    } else {
        actor.to_owned()
    }
}

#[derive(QueryableByName)]
struct AllocationRow {
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    product: String,
    #[diesel(sql_type = Int4)]
    units: i32,
    #[diesel(sql_type = Nullable<Text>)]
    reference: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_name: Option<String>,
    #[diesel(sql_type = Bool)]
    at_intake: bool,
}

fn allocations(conn: &mut PgConnection, order_id: i64) -> QueryResult<Vec<TimelineEntry>> {
    let rows: Vec<AllocationRow> = crate::db::prepared::sql(
        "SELECT m.created_at, p.name AS product, m.allocated_delta AS units, m.reference,
                u.name AS user_name, (m.created_at = l.created_at) AS at_intake
           FROM order_lines l
           JOIN stock_movements m ON m.order_line_id = l.id AND m.reason = 'allocation'
           JOIN products p ON p.id = l.product_id
           LEFT JOIN users u ON u.id = m.user_id
          WHERE l.order_id = $1",
    )
    .bind::<BigInt, _>(order_id)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut e = entry(
                row.created_at,
                EntryKind::Allocated,
                format!(
                    "{} of {} reserved",
                    units(i64::from(row.units)),
                    row.product
                ),
            );
            e.detail = Some(if row.at_intake {
                "from stock on the shelf when the order came in".to_owned()
            } else {
                match row.reference {
                    Some(r) if r.starts_with("PO-") || r.contains("receipt") => {
                        format!("from the delivery {r}")
                    }
                    _ => "from stock that became free".to_owned(),
                }
            });
            e.who = row.user_name;
            e
        })
        .collect())
}

#[derive(QueryableByName)]
struct ShipmentRow {
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    is_partial: bool,
    #[diesel(sql_type = Text)]
    contents: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_name: Option<String>,
}

fn shipments(conn: &mut PgConnection, order_id: i64) -> QueryResult<Vec<TimelineEntry>> {
    let rows: Vec<ShipmentRow> = crate::db::prepared::sql(
        "SELECT s.created_at, s.is_partial, u.name AS user_name,
                string_agg(sl.quantity || ' × ' || p.name, ', ' ORDER BY sl.id) AS contents
           FROM shipments s
           JOIN shipment_lines sl ON sl.shipment_id = s.id
           JOIN order_lines l ON l.id = sl.order_line_id
           JOIN products p ON p.id = l.product_id
           LEFT JOIN users u ON u.id = s.created_by
          WHERE s.order_id = $1 GROUP BY s.id, u.name",
    )
    .bind::<BigInt, _>(order_id)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let title = if row.is_partial {
                "Part of the order shipped"
            } else {
                "Shipped"
            };
            let mut e = entry(row.created_at, EntryKind::Shipped, title.to_owned());
            e.detail = Some(if row.is_partial {
                format!("{} (partial, no extra shipping charge)", row.contents)
            } else {
                row.contents
            });
            e.who = row.user_name;
            e
        })
        .collect())
}

#[derive(QueryableByName)]
struct EtaRow {
    #[diesel(sql_type = BigInt)]
    line_id: i64,
    #[diesel(sql_type = Text)]
    product: String,
    #[diesel(sql_type = Nullable<Date>)]
    eta_worst: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    eta_likely: Option<NaiveDate>,
    #[diesel(sql_type = Bool)]
    eta_is_estimate: bool,
    #[diesel(sql_type = Timestamptz)]
    changed_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    first: bool,
    #[diesel(sql_type = Nullable<Text>)]
    moved_reference: Option<String>,
    #[diesel(sql_type = Nullable<Date>)]
    moved_from: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    moved_to: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Bool>)]
    moved_by_supplier: Option<bool>,
    #[diesel(sql_type = Nullable<Text>)]
    received_reference: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    booked_reference: Option<String>,
    #[diesel(sql_type = Nullable<Date>)]
    booked_on: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Text>)]
    cancelled_po: Option<String>,
    #[diesel(sql_type = Bool)]
    adjusted: bool,
    #[diesel(sql_type = Nullable<Text>)]
    cancelled_order: Option<String>,
}

const ETA_CHANGES_SQL: &str = include_str!("timeline_eta_changes.sql");

/// Each change of a line's dates, with what caused it: found among the rows written in
/// the same transaction (a purchase order's new date, a receipt, a new or cancelled
/// purchase order, a stock adjustment, a cancellation ahead in the queue).
fn eta_changes(
    conn: &mut PgConnection,
    order_id: i64,
    today: NaiveDate,
) -> QueryResult<Vec<TimelineEntry>> {
    let rows: Vec<EtaRow> = crate::db::prepared::sql(ETA_CHANGES_SQL)
        .bind::<BigInt, _>(order_id)
        .load(conn)?;
    let date = |d: NaiveDate| human_date(d, today);
    let maybe = |d: Option<NaiveDate>| d.map(date).unwrap_or_else(|| "no date".to_owned());
    let mut before: HashMap<i64, Option<NaiveDate>> = HashMap::new();
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let previous = before.insert(row.line_id, row.eta_worst);
        let title = match previous {
            Some(was) => format!(
                "{}: ships by {} (was {})",
                row.product,
                maybe(row.eta_worst),
                maybe(was)
            ),
            None => format!("{}: ships by {}", row.product, maybe(row.eta_worst)),
        };
        // A cause must push the date the way it moved: more supply (a receipt, a new
        // purchase order, units freed ahead) cannot make it later, nor a lost delivery
        // earlier. Otherwise the change is put down to the recomputation itself.
        let later = match (previous.flatten(), row.eta_worst) {
            (Some(was), Some(now)) => now > was,
            (Some(_), None) => true,
            _ => false,
        };
        let moved = match (&row.moved_reference, row.moved_from, row.moved_to) {
            (Some(reference), Some(from), Some(to)) if (to > from) == later => Some(format!(
                "{reference} is now expected {} instead of {}{}",
                date(to),
                date(from),
                if row.moved_by_supplier == Some(true) {
                    " (the supplier gave the new date via its link)"
                } else {
                    ""
                }
            )),
            _ => None,
        };
        let cause = if let Some(moved) = moved {
            moved
        } else if let (Some(reference), false) = (&row.received_reference, later) {
            format!("{reference} arrived and its units went down the queue")
        } else if let (Some(reference), Some(on), false) =
            (&row.booked_reference, row.booked_on, later)
        {
            format!("{reference} was booked, due {}", date(on))
        } else if let (Some(reference), true) = (&row.cancelled_po, later) {
            format!("{reference} was cancelled")
        } else if row.adjusted {
            "the stock count was adjusted".to_owned()
        } else if row.first {
            "the first estimate, when the order came in".to_owned()
        } else if let (Some(number), false) = (&row.cancelled_order, later) {
            format!("order {number} cancelled units ahead in the queue")
        } else {
            "the dates were worked out again (the supplier's record or the queue changed)"
                .to_owned()
        };
        let mut e = entry(row.changed_at, EntryKind::EtaChanged, title);
        let likely = row
            .eta_likely
            .map(|d| format!("; likely {}", date(d)))
            .unwrap_or_default();
        let estimate = if row.eta_is_estimate {
            " (an estimate from the supplier's lead time)"
        } else {
            ""
        };
        e.detail = Some(format!("Because {cause}{likely}{estimate}."));
        entries.push(e);
    }
    Ok(entries)
}

fn emails(conn: &mut PgConnection, order_id: i64) -> QueryResult<Vec<TimelineEntry>> {
    use crate::db::schema::{messages, users};
    let rows: Vec<(Message, Option<String>)> = messages::table
        .left_join(users::table.on(messages::created_by.eq(users::id.nullable())))
        .filter(messages::order_id.eq(order_id))
        .select((Message::as_select(), users::name.nullable()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(message, user_name)| {
            let mut e = entry(
                message.created_at,
                EntryKind::Email,
                format!(
                    "{} email: “{}”",
                    outbox::label(&message.kind),
                    message.subject
                ),
            );
            e.detail = Some(message.status.label().to_owned());
            e.who = user_name;
            e.message_id = Some(message.id);
            e
        })
        .collect())
}

#[derive(QueryableByName)]
struct NoteRow {
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Nullable<Text>)]
    author: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

fn notes(conn: &mut PgConnection, order_id: i64) -> QueryResult<Vec<TimelineEntry>> {
    let rows: Vec<NoteRow> = crate::db::prepared::sql(
        "SELECT n.body, u.name AS author, n.created_at
           FROM notes n LEFT JOIN users u ON u.id = n.user_id WHERE n.order_id = $1",
    )
    .bind::<BigInt, _>(order_id)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut e = entry(row.created_at, EntryKind::Note, "Note".to_owned());
            e.detail = Some(row.body);
            e.who = row.author;
            e
        })
        .collect())
}

/// Customer choices and cancellations, from the audit log (which says who).
fn audited(conn: &mut PgConnection, number: &str) -> QueryResult<Vec<TimelineEntry>> {
    use crate::db::schema::{audit_log, users};
    let rows: Vec<(AuditEntry, Option<String>)> = audit_log::table
        .left_join(users::table.on(audit_log::user_id.eq(users::id.nullable())))
        .filter(audit_log::entity.eq("order"))
        .filter(audit_log::entity_id.eq(number))
        .filter(audit_log::action.eq_any([
            "customer_choice",
            "order_line_cancelled",
            "alternative_taken",
        ]))
        .select((AuditEntry::as_select(), users::name.nullable()))
        .load(conn)?;
    let text = |v: &Option<Value>, key: &str| {
        v.as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(rows
        .into_iter()
        .map(|(row, user_name)| {
            let who = user_name.unwrap_or_else(|| actor_words(&row.actor));
            if row.action == "alternative_taken" {
                let by_rep = text(&row.after, "channel").as_deref() == Some("rep");
                let mut e = entry(
                    row.created_at,
                    EntryKind::Choice,
                    format!(
                        "Took {} instead of {}",
                        text(&row.after, "to_sku").unwrap_or_default(),
                        text(&row.after, "from_sku").unwrap_or_default()
                    ),
                );
                let outcome = text(&row.after, "outcome").unwrap_or_default();
                e.detail = Some(if by_rep {
                    format!("Taken by {who} for the customer: {outcome}.")
                } else {
                    format!("By the link in their email: {outcome}.")
                });
                e.who = Some(if by_rep {
                    who
                } else {
                    "the customer".to_owned()
                });
                e
            } else if row.action == "customer_choice" {
                let choice = text(&row.after, "choice").unwrap_or_default();
                let by_rep = text(&row.after, "channel").as_deref() == Some("rep");
                let mut e = entry(
                    row.created_at,
                    EntryKind::Choice,
                    format!(
                        "The customer chose: {}",
                        crate::services::orders::choices::label(&choice)
                    ),
                );
                let outcome = text(&row.after, "outcome");
                e.detail = Some(match (by_rep, outcome) {
                    (true, Some(o)) => format!("Recorded by {who} for the customer; {o}."),
                    (true, None) => format!("Recorded by {who} for the customer."),
                    (false, Some(o)) => format!("By the link in their email; {o}."),
                    (false, None) => "By the link in their email.".to_owned(),
                });
                e.who = Some(if by_rep {
                    who
                } else {
                    "the customer".to_owned()
                });
                e
            } else {
                let units_cancelled = row
                    .after
                    .as_ref()
                    .and_then(|v| v.get("units"))
                    .and_then(Value::as_i64);
                let title = match units_cancelled {
                    Some(n) => format!("{} cancelled", units(n)),
                    None => "A line was cancelled".to_owned(),
                };
                let mut e = entry(row.created_at, EntryKind::Cancelled, title);
                e.detail = text(&row.after, "reason").map(|r| format!("Reason: {r}"));
                e.who = Some(who);
                e
            }
        })
        .collect())
}

#[derive(QueryableByName)]
struct DiscountRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Int4)]
    value: i32,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = Nullable<Text>)]
    coupon_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    decision_note: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    decided_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    proposed_by: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    decided_by: Option<String>,
    #[diesel(sql_type = Text)]
    currency: String,
}

fn discounts(
    conn: &mut PgConnection,
    order_id: i64,
    _today: NaiveDate,
) -> QueryResult<Vec<TimelineEntry>> {
    let rows: Vec<DiscountRow> = crate::db::prepared::sql(
        "SELECT d.kind, d.value, d.status, d.reason, d.coupon_code, d.decision_note, d.created_at,
                d.decided_at, pu.name AS proposed_by, du.name AS decided_by,
                (SELECT currency FROM shop_settings LIMIT 1) AS currency
           FROM discount_proposals d
           LEFT JOIN users pu ON pu.id = d.proposed_by
           LEFT JOIN users du ON du.id = d.decided_by
          WHERE d.order_id = $1",
    )
    .bind::<BigInt, _>(order_id)
    .load(conn)?;
    let mut entries = Vec::new();
    for row in rows {
        let what = match row.kind.as_str() {
            "percent" => format!("{}% off", row.value),
            "amount" => format!(
                "{} off",
                crate::format::money(i64::from(row.value), &row.currency)
            ),
            _ => "Free shipping".to_owned(),
        };
        let mut proposed = entry(
            row.created_at,
            EntryKind::Discount,
            format!("Discount proposed: {what}"),
        );
        proposed.detail = Some(row.reason.clone());
        proposed.who = Some(
            row.proposed_by
                .clone()
                .unwrap_or_else(|| "the delay policy".to_owned()),
        );
        entries.push(proposed);
        if let Some(at) = row.decided_at {
            let title = match (row.status.as_str(), &row.coupon_code) {
                ("approved", Some(code)) => format!("Discount approved: {what}, coupon {code}"),
                ("approved", None) => format!("Discount approved: {what}"),
                ("withdrawn", _) => format!("Discount withdrawn: {what}"),
                _ => format!("Discount rejected: {what}"),
            };
            let mut decided = entry(at, EntryKind::Discount, title);
            decided.detail = row.decision_note.clone();
            decided.who = row.decided_by.clone();
            entries.push(decided);
        }
    }
    Ok(entries)
}
