//! One order's history, newest first, the way a helpdesk sidebar shows a ticket's: when
//! it was placed, each allocation and shipment, every change of an ETA with its cause,
//! each email (opening the message itself), notes, the customer's choices (by link or
//! recorded by a rep) and discount proposals with their decisions. Each kind is one
//! indexed query by the order, and all of them are one statement (`timeline.sql`, a JSON
//! array per kind): one round trip. An ETA change finds its cause among the rows written
//! in the same transaction (they share its timestamp).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Deserialize;
use serde_json::Value;

use crate::db::models::MessageStatus;
use crate::db::prepared::json_rows;
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

/// The timeline's rows, one JSON array of each kind (`timeline.sql`).
#[derive(QueryableByName)]
struct TimelineRows {
    #[diesel(sql_type = Nullable<Text>)]
    placed: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    allocations: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    shipments: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    eta_changes: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    emails: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    notes: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    audited: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    discounts: Option<String>,
}

const TIMELINE_SQL: &str = include_str!("timeline.sql");

/// The whole history of order `order_id` (number `number`), newest first.
pub fn order_timeline(
    conn: &mut PgConnection,
    order_id: i64,
    number: &str,
    today: NaiveDate,
) -> QueryResult<Vec<TimelineEntry>> {
    let rows: TimelineRows = crate::db::prepared::sql(TIMELINE_SQL)
        .bind::<BigInt, _>(order_id)
        .bind::<Text, _>(number)
        .get_result(conn)?;
    let mut entries = Vec::new();
    entries.extend(placed(json_rows(rows.placed.as_deref())?));
    entries.extend(allocations(json_rows(rows.allocations.as_deref())?));
    entries.extend(shipments(json_rows(rows.shipments.as_deref())?));
    entries.extend(eta_changes(json_rows(rows.eta_changes.as_deref())?, today));
    entries.extend(emails(json_rows(rows.emails.as_deref())?));
    entries.extend(notes(json_rows(rows.notes.as_deref())?));
    entries.extend(audited(json_rows(rows.audited.as_deref())?));
    entries.extend(discounts(json_rows(rows.discounts.as_deref())?));
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

#[derive(Deserialize)]
struct PlacedRow {
    placed_at: DateTime<Utc>,
    contents: String,
    actor: Option<String>,
}

fn placed(rows: Vec<PlacedRow>) -> Vec<TimelineEntry> {
    rows.into_iter()
        .map(|row| {
            let mut e = entry(row.placed_at, EntryKind::Placed, "Order placed".to_owned());
            e.detail = Some(row.contents);
            e.who = row.actor.as_deref().map(actor_words);
            e
        })
        .collect()
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

#[derive(Deserialize)]
struct AllocationRow {
    created_at: DateTime<Utc>,
    product: String,
    units: i32,
    reference: Option<String>,
    user_name: Option<String>,
    at_intake: bool,
}

fn allocations(rows: Vec<AllocationRow>) -> Vec<TimelineEntry> {
    rows.into_iter()
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
        .collect()
}

#[derive(Deserialize)]
struct ShipmentRow {
    created_at: DateTime<Utc>,
    is_partial: bool,
    contents: String,
    user_name: Option<String>,
}

fn shipments(rows: Vec<ShipmentRow>) -> Vec<TimelineEntry> {
    rows.into_iter()
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
        .collect()
}

#[derive(Deserialize)]
struct EtaRow {
    line_id: i64,
    product: String,
    eta_worst: Option<NaiveDate>,
    eta_likely: Option<NaiveDate>,
    eta_is_estimate: bool,
    changed_at: DateTime<Utc>,
    first: bool,
    moved_reference: Option<String>,
    moved_from: Option<NaiveDate>,
    moved_to: Option<NaiveDate>,
    moved_by_supplier: Option<bool>,
    received_reference: Option<String>,
    booked_reference: Option<String>,
    booked_on: Option<NaiveDate>,
    cancelled_po: Option<String>,
    adjusted: bool,
    cancelled_order: Option<String>,
}

/// Each change of a line's dates, with what caused it: found among the rows written in
/// the same transaction (a purchase order's new date, a receipt, a new or cancelled
/// purchase order, a stock adjustment, a cancellation ahead in the queue).
fn eta_changes(rows: Vec<EtaRow>, today: NaiveDate) -> Vec<TimelineEntry> {
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
    entries
}

/// An email of the order, with the rep who wrote it.
#[derive(Deserialize)]
struct EmailRow {
    id: i64,
    kind: String,
    subject: String,
    status: MessageStatus,
    created_at: DateTime<Utc>,
    user_name: Option<String>,
}

fn emails(rows: Vec<EmailRow>) -> Vec<TimelineEntry> {
    rows.into_iter()
        .map(|message| {
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
            e.who = message.user_name;
            e.message_id = Some(message.id);
            e
        })
        .collect()
}

#[derive(Deserialize)]
struct NoteRow {
    body: String,
    author: Option<String>,
    created_at: DateTime<Utc>,
}

fn notes(rows: Vec<NoteRow>) -> Vec<TimelineEntry> {
    rows.into_iter()
        .map(|row| {
            let mut e = entry(row.created_at, EntryKind::Note, "Note".to_owned());
            e.detail = Some(row.body);
            e.who = row.author;
            e
        })
        .collect()
}

/// A customer's choice, a cancellation or a swap, as the audit log has it.
#[derive(Deserialize)]
struct AuditedRow {
    actor: String,
    action: String,
    after: Option<Value>,
    created_at: DateTime<Utc>,
    user_name: Option<String>,
}

/// Customer choices and cancellations, from the audit log (which says who).
fn audited(rows: Vec<AuditedRow>) -> Vec<TimelineEntry> {
    let text = |v: &Option<Value>, key: &str| {
        v.as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    rows.into_iter()
        .map(|row| {
            let who = row
                .user_name
                .clone()
                .unwrap_or_else(|| actor_words(&row.actor));
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
        .collect()
}

#[derive(Deserialize)]
struct DiscountRow {
    kind: String,
    value: i32,
    status: String,
    reason: String,
    coupon_code: Option<String>,
    decision_note: Option<String>,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    proposed_by: Option<String>,
    decided_by: Option<String>,
    currency: String,
}

fn discounts(rows: Vec<DiscountRow>) -> Vec<TimelineEntry> {
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
    entries
}
