//! The purchase-order pages' use cases beside `purchasing` (create, receive): the list, one
//! order with its history and receipts, changing the expected date and cancelling (both
//! recompute ETAs), and the previews shown before a date change, a cancellation or a
//! receipt is confirmed. A date change or cancellation is previewed by making it for
//! real in a transaction that is rolled back (`preview_change`): the engine, its ETAs and
//! the emails it would queue, and nothing stored.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Int4, Int8, Nullable, Text, Timestamptz};

use crate::db::audit::{self, Actor};
use crate::db::models::{MessageStatus, PoStatus, PurchaseOrder, SupplierAnswer};
use crate::db::schema::{
    purchase_order_date_changes, purchase_order_lines, purchase_order_receipts, purchase_orders,
    supplier_answers,
};
use crate::db::shop_settings;
use crate::db::stock::{self, Product};
use crate::domain::{self, WaitingLine};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::engine::{self, Ctx};
use crate::services::purchasing::{self, ReceiptView, check_expected_date};

/// One purchase order in the list: the stored order (the read model) with its supplier's
/// name and what is still to come.
#[derive(Debug, Clone, QueryableByName)]
pub struct PurchaseOrderRow {
    #[diesel(embed)]
    pub order: PurchaseOrder,
    #[diesel(sql_type = Text)]
    pub supplier: String,
    #[diesel(sql_type = BigInt)]
    pub lines: i64,
    #[diesel(sql_type = BigInt)]
    pub outstanding: i64,
    #[diesel(sql_type = Bool)]
    pub late: bool,
}

/// A list row reads as its purchase order (`po.reference`, `po.status`).
impl std::ops::Deref for PurchaseOrderRow {
    type Target = PurchaseOrder;

    fn deref(&self) -> &PurchaseOrder {
        &self.order
    }
}

/// The select both the list and one order's page read, `$2` being today.
const ROWS_SQL: &str = include_str!("purchase_order_rows.sql");

/// The list's status filter: open orders by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListStatus {
    #[default]
    Open,
    Received,
    Cancelled,
    All,
}

impl ListStatus {
    pub const ALL: [ListStatus; 4] = [Self::Open, Self::Received, Self::Cancelled, Self::All];

    pub fn parse(text: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .unwrap_or_default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => PoStatus::Open.as_str(),
            Self::Received => PoStatus::Received.as_str(),
            Self::Cancelled => PoStatus::Cancelled.as_str(),
            Self::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Received => "Received",
            Self::Cancelled => "Cancelled",
            Self::All => "All",
        }
    }
}

/// The most purchase orders one list shows.
pub const LIST_LIMIT: i64 = 300;

/// Purchase orders of a status: open ones by expected date (late first), others newest first.
pub fn list(
    conn: &mut PgConnection,
    status: ListStatus,
    today: NaiveDate,
) -> QueryResult<Vec<PurchaseOrderRow>> {
    let status_filter = match status {
        ListStatus::All => None,
        other => Some(other.as_str()),
    };
    diesel::sql_query(format!(
        "{ROWS_SQL}
          WHERE ($1::text IS NULL OR po.status = $1)
          GROUP BY po.id, s.name
          ORDER BY (po.status = 'open') DESC,
                   CASE WHEN po.status = 'open' THEN po.expected_on END ASC,
                   po.id DESC
          LIMIT $3"
    ))
    .bind::<Nullable<Text>, _>(status_filter)
    .bind::<Date, _>(today)
    .bind::<BigInt, _>(LIST_LIMIT)
    .load(conn)
}

/// One line of a purchase order, with the product's queue beside it.
/// Its own columns take their types from the schema; the product's are named.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = purchase_order_lines)]
pub struct LineRow {
    pub id: i64,
    pub product_id: i64,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    pub qty_ordered: i32,
    pub qty_received: i32,
    #[diesel(sql_type = Int4)]
    pub waiting_units: i32,
    #[diesel(sql_type = Int4)]
    pub waiting_lines: i32,
}

impl LineRow {
    pub fn outstanding(&self) -> i32 {
        self.qty_ordered - self.qty_received
    }
}

#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = purchase_order_date_changes)]
pub struct DateChangeRow {
    pub old_expected_on: NaiveDate,
    pub new_expected_on: NaiveDate,
    #[diesel(sql_type = Nullable<Text>)]
    pub changed_by: Option<String>,
    pub changed_at: DateTime<Utc>,
    /// Given by the supplier through the link in the order's email, not by a buyer.
    pub by_supplier: bool,
    pub note: Option<String>,
}

impl DateChangeRow {
    /// "the supplier via link" or the buyer's name (none for the system or the API).
    pub fn who(&self) -> Option<String> {
        match (&self.changed_by, self.by_supplier) {
            (_, true) => Some("the supplier via link".to_owned()),
            (name, false) => name.clone(),
        }
    }
}

/// One time the order was emailed to its supplier.
#[derive(Debug, Clone, QueryableByName)]
pub struct SendRow {
    #[diesel(sql_type = Text)]
    pub sent_to: String,
    #[diesel(sql_type = Timestamptz)]
    pub sent_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    pub sent_by: Option<String>,
    /// Where the email stands in the outbox.
    #[diesel(sql_type = Nullable<Text>)]
    pub email_status: Option<MessageStatus>,
}

/// What the supplier answered through its link.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = supplier_answers)]
pub struct AnswerRow {
    pub answer: SupplierAnswer,
    pub expected_on: NaiveDate,
    pub note: Option<String>,
    pub answered_at: DateTime<Utc>,
}

impl AnswerRow {
    pub fn confirmed(&self) -> bool {
        self.answer == SupplierAnswer::Confirmed
    }
}

/// The order's emails to its supplier and the supplier's answers, newest first.
pub fn supplier_contact(
    conn: &mut PgConnection,
    po_id: i64,
) -> QueryResult<(Vec<SendRow>, Vec<AnswerRow>)> {
    let sends = crate::db::prepared::sql(
        "SELECT s.sent_to, s.sent_at, u.name AS sent_by, m.status AS email_status
           FROM purchase_order_sends s
           LEFT JOIN users u ON u.id = s.sent_by
           LEFT JOIN messages m ON m.id = s.message_id
          WHERE s.purchase_order_id = $1
          ORDER BY s.id DESC",
    )
    .bind::<BigInt, _>(po_id)
    .load(conn)?;
    let answers = crate::db::prepared::sql(
        "SELECT answer, expected_on, note, answered_at FROM supplier_answers
          WHERE purchase_order_id = $1 ORDER BY id DESC",
    )
    .bind::<BigInt, _>(po_id)
    .load(conn)?;
    Ok((sends, answers))
}

/// A stored receipt with who took it in and what it released.
pub struct ReceiptEntry {
    pub id: i64,
    pub received_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub view: ReceiptView,
}

pub struct PurchaseOrderDetail {
    pub header: PurchaseOrderRow,
    pub supplier_id: i64,
    pub lines: Vec<LineRow>,
    pub date_changes: Vec<DateChangeRow>,
    pub receipts: Vec<ReceiptEntry>,
    pub sends: Vec<SendRow>,
    pub answers: Vec<AnswerRow>,
    /// The supplier's contact address, where the order would be emailed.
    pub contact_email: Option<String>,
}

fn header(
    conn: &mut PgConnection,
    reference: &str,
    today: NaiveDate,
) -> AppResult<(PurchaseOrderRow, i64)> {
    let found: Option<PurchaseOrderRow> = diesel::sql_query(format!(
        "{ROWS_SQL}
          WHERE po.reference = $1
          GROUP BY po.id, s.name"
    ))
    .bind::<Text, _>(reference)
    .bind::<Date, _>(today)
    .get_result(conn)
    .optional()?;
    let found = found.ok_or_else(|| {
        AppError::NotFound(format!(
            "purchase order {}",
            crate::types::truncate(reference)
        ))
    })?;
    let supplier_id = found.supplier_id;
    Ok((found, supplier_id))
}

pub(super) fn lines(conn: &mut PgConnection, po_id: i64) -> QueryResult<Vec<LineRow>> {
    crate::db::prepared::sql(
        "SELECT pl.id, pl.product_id, p.sku, p.name, pl.qty_ordered, pl.qty_received,
                p.waiting_units, p.waiting_lines
           FROM purchase_order_lines pl
           JOIN products p ON p.id = pl.product_id
          WHERE pl.purchase_order_id = $1
          ORDER BY pl.id",
    )
    .bind::<BigInt, _>(po_id)
    .load(conn)
}

pub fn detail(
    conn: &mut PgConnection,
    reference: &str,
    today: NaiveDate,
) -> AppResult<PurchaseOrderDetail> {
    let (header, supplier_id) = header(conn, reference, today)?;
    let lines = lines(conn, header.id)?;
    let date_changes = crate::db::prepared::sql(
        "SELECT c.old_expected_on, c.new_expected_on, u.name AS changed_by, c.changed_at,
                c.by_supplier, c.note
           FROM purchase_order_date_changes c
           LEFT JOIN users u ON u.id = c.changed_by
          WHERE c.purchase_order_id = $1
          ORDER BY c.id DESC",
    )
    .bind::<BigInt, _>(header.id)
    .load(conn)?;
    use crate::db::schema::users;
    let stored: Vec<(i64, Option<String>, DateTime<Utc>)> = purchase_order_receipts::table
        .left_join(users::table)
        .filter(purchase_order_receipts::purchase_order_id.eq(header.id))
        .order(purchase_order_receipts::id.desc())
        .select((
            purchase_order_receipts::id,
            users::name.nullable(),
            purchase_order_receipts::created_at,
        ))
        .load(conn)?;
    let mut receipts = Vec::with_capacity(stored.len());
    for (id, received_by, created_at) in stored {
        receipts.push(ReceiptEntry {
            id,
            received_by,
            created_at,
            view: purchasing::receipt_view(conn, id)?,
        });
    }
    let (sends, answers) = supplier_contact(conn, header.id)?;
    use crate::db::schema::suppliers;
    let contact_email: Option<String> = suppliers::table
        .find(supplier_id)
        .select(suppliers::email)
        .first(conn)?;
    Ok(PurchaseOrderDetail {
        header,
        supplier_id,
        lines,
        date_changes,
        receipts,
        sends,
        answers,
        contact_email,
    })
}

/// Locks an open purchase order for a change; anything else is a clear refusal.
pub fn lock_open(conn: &mut PgConnection, reference: &str) -> AppResult<(i64, NaiveDate)> {
    let (id, status, expected_on): (i64, PoStatus, NaiveDate) = purchase_orders::table
        .filter(purchase_orders::reference.eq(reference))
        .for_update()
        .select((
            purchase_orders::id,
            purchase_orders::status,
            purchase_orders::expected_on,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "purchase order {}",
                crate::types::truncate(reference)
            ))
        })?;
    if status != PoStatus::Open {
        return Err(AppError::Conflict(format!(
            "purchase order {reference} is {status}; it can no longer be changed"
        )));
    }
    Ok((id, expected_on))
}

fn product_ids(conn: &mut PgConnection, po_id: i64) -> QueryResult<Vec<i64>> {
    use crate::db::schema::purchase_order_lines as pl;
    pl::table
        .filter(pl::purchase_order_id.eq(po_id))
        .select(pl::product_id)
        .load(conn)
}

fn products(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<Product>> {
    use crate::db::schema::products;
    products::table
        .filter(products::id.eq_any(ids))
        .order(products::id)
        .select(Product::as_select())
        .load(conn)
}

/// Who gives a purchase order a new expected date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSource<'a> {
    /// A buyer on the purchase-order page, or the API.
    Buyer,
    /// The supplier through the link in the order's email, with its note.
    Supplier { note: Option<&'a str> },
}

/// Moves an open purchase order's expected date, keeps the change in its history and
/// recomputes the ETAs of everyone waiting on its products.
pub fn change_expected_date(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    new_expected_on: NaiveDate,
    today: NaiveDate,
) -> AppResult<()> {
    move_expected_date(
        conn,
        actor,
        reference,
        new_expected_on,
        today,
        DateSource::Buyer,
    )
}

/// `change_expected_date`, saying who gave the date: the one path for a buyer's and a
/// supplier's new date (the same ETAs, the same coalesced emails, the same cause).
pub fn move_expected_date(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    new_expected_on: NaiveDate,
    today: NaiveDate,
    source: DateSource<'_>,
) -> AppResult<()> {
    check_expected_date(new_expected_on, today)?;
    conn.transaction(|conn| {
        let (po_id, old) = lock_open(conn, reference)?;
        if old == new_expected_on {
            return Err(AppError::invalid(
                "expected_on",
                "that is already the expected date",
            ));
        }
        let settings = shop_settings::load(conn)?;
        let ctx = Ctx {
            actor,
            today,
            settings: &settings,
        };
        diesel::update(purchase_orders::table.find(po_id))
            .set(purchase_orders::expected_on.eq(new_expected_on))
            .execute(conn)?;
        diesel::insert_into(purchase_order_date_changes::table)
            .values((
                purchase_order_date_changes::purchase_order_id.eq(po_id),
                purchase_order_date_changes::old_expected_on.eq(old),
                purchase_order_date_changes::new_expected_on.eq(new_expected_on),
                purchase_order_date_changes::changed_by.eq(ctx.user_id()),
                purchase_order_date_changes::by_supplier
                    .eq(matches!(source, DateSource::Supplier { .. })),
                purchase_order_date_changes::note.eq(match source {
                    DateSource::Supplier { note } => note,
                    DateSource::Buyer => None,
                }),
            ))
            .execute(conn)?;
        let ids = product_ids(conn, po_id)?;
        let cause = crate::domain::EtaCause::SupplierDateMoved {
            reference: reference.to_owned(),
        };
        purchasing::refresh_products(conn, &ctx, &ids, &cause)?;
        audit::record(
            conn,
            actor,
            "purchase_order_date_changed",
            "purchase_order",
            Some(reference.to_owned()),
            Some(serde_json::json!({ "expected_on": old })),
            Some(match source {
                DateSource::Buyer => serde_json::json!({ "expected_on": new_expected_on }),
                DateSource::Supplier { note } => serde_json::json!({
                    "expected_on": new_expected_on, "by": "supplier", "note": note,
                }),
            }),
        )?;
        Ok(())
    })
}

/// Cancels an open purchase order: its outstanding units stop counting as supply.
pub fn cancel(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    today: NaiveDate,
) -> AppResult<()> {
    conn.transaction(|conn| {
        let (po_id, _) = lock_open(conn, reference)?;
        let settings = shop_settings::load(conn)?;
        let ctx = Ctx {
            actor,
            today,
            settings: &settings,
        };
        diesel::update(purchase_orders::table.find(po_id))
            .set(purchase_orders::status.eq(PoStatus::Cancelled))
            .execute(conn)?;
        let ids = product_ids(conn, po_id)?;
        let cause = crate::domain::EtaCause::PurchaseOrderCancelled {
            reference: reference.to_owned(),
        };
        purchasing::refresh_products(conn, &ctx, &ids, &cause)?;
        audit::record(
            conn,
            actor,
            "purchase_order_cancelled",
            "purchase_order",
            Some(reference.to_owned()),
            Some(serde_json::json!({ "status": PoStatus::Open })),
            Some(serde_json::json!({ "status": PoStatus::Cancelled })),
        )?;
        Ok(())
    })
}

/// Units to receive on a line of a purchase order, as entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveQuantity {
    pub line_id: i64,
    pub quantity: i32,
}

/// One waiting line a receipt would serve.
#[derive(Debug, Clone)]
pub struct Release {
    pub position: usize,
    pub order_number: String,
    pub customer_tier: i16,
    pub placed_at: DateTime<Utc>,
    pub units: i32,
    /// The line would wait for nothing more.
    pub complete: bool,
}

/// What receiving one line would do to its product's queue.
#[derive(Debug, Clone)]
pub struct ReleasePreview {
    pub line_id: i64,
    pub sku: String,
    pub quantity: i32,
    pub releases: Vec<Release>,
    /// Units that would stay on the shelf once the queue is served.
    pub left_on_shelf: u32,
    pub still_waiting_lines: i32,
}

pub struct ReceiptPreview {
    pub lines: Vec<ReleasePreview>,
    pub tier_first: bool,
}

/// Checks quantities against the order: each line belongs to it, at least one unit in
/// all, never more than outstanding.
pub(super) fn checked_quantities(
    lines: &[LineRow],
    quantities: &[ReceiveQuantity],
    reference: &str,
) -> AppResult<Vec<(LineRow, i32)>> {
    let by_id: HashMap<i64, &LineRow> = lines.iter().map(|l| (l.id, l)).collect();
    let mut problems = Vec::new();
    let mut chosen = Vec::new();
    for q in quantities {
        let Some(line) = by_id.get(&q.line_id) else {
            problems.push(FieldError::new(
                format!("qty_{}", q.line_id),
                format!("that line is not on purchase order {reference}"),
            ));
            continue;
        };
        if q.quantity < 0 {
            problems.push(FieldError::new(
                format!("qty_{}", q.line_id),
                format!("{}: a quantity cannot be negative", line.sku),
            ));
        } else if q.quantity > line.outstanding() {
            problems.push(FieldError::new(
                format!("qty_{}", q.line_id),
                format!(
                    "{}: only {} units are outstanding on {reference}; {} cannot be received",
                    line.sku,
                    line.outstanding(),
                    q.quantity
                ),
            ));
        } else if q.quantity > 0 {
            chosen.push(((*line).clone(), q.quantity));
        }
    }
    if problems.is_empty() && chosen.is_empty() {
        problems.push(FieldError::new(
            "quantities",
            "enter how many units arrived on at least one line",
        ));
    }
    if problems.is_empty() {
        Ok(chosen)
    } else {
        Err(AppError::invalid_fields(problems))
    }
}

/// Which waiting lines the receipt would serve, in the shop's queue order, computed with
/// the engine's allocation on the current queue. Nothing is stored.
pub fn preview_receipt(
    conn: &mut PgConnection,
    reference: &str,
    quantities: &[ReceiveQuantity],
    today: NaiveDate,
) -> AppResult<ReceiptPreview> {
    let (row, _) = header(conn, reference, today)?;
    if row.status != PoStatus::Open {
        return Err(AppError::Conflict(format!(
            "purchase order {reference} is {}; nothing more can be received",
            row.status
        )));
    }
    let chosen = checked_quantities(&lines(conn, row.id)?, quantities, reference)?;
    let settings = shop_settings::load(conn)?;
    let ctx = Ctx {
        actor: &Actor::System,
        today,
        settings: &settings,
    };
    let mut previews = Vec::new();
    for (line, quantity) in chosen {
        let product = products(conn, &[line.product_id])?
            .pop()
            .ok_or_else(|| AppError::not_found("the product"))?;
        let queue = engine::queue(conn, product.id, &ctx.queue_policy())?;
        let waiting: Vec<WaitingLine> = queue
            .iter()
            .map(crate::db::stock::QueueRow::as_waiting)
            .collect();
        let free = (product.available() + quantity).max(0) as u32;
        let plan = domain::allocate_down_queue(free, &waiting);
        let position: HashMap<i64, usize> = queue
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id, i + 1))
            .collect();
        let by_id: HashMap<i64, &stock::QueueRow> = queue.iter().map(|l| (l.id, l)).collect();
        let releases: Vec<Release> = plan
            .allocations
            .iter()
            .filter_map(|a| {
                let waiting_line = by_id.get(&a.line_id)?;
                Some(Release {
                    position: position[&a.line_id],
                    order_number: waiting_line.order_number.clone(),
                    customer_tier: waiting_line.customer_tier,
                    placed_at: waiting_line.placed_at,
                    units: a.units as i32,
                    complete: a.units as i32 == waiting_line.waiting(),
                })
            })
            .collect();
        let completed = releases.iter().filter(|r| r.complete).count() as i32;
        previews.push(ReleasePreview {
            line_id: line.id,
            sku: line.sku.clone(),
            quantity,
            still_waiting_lines: product.waiting_lines - completed,
            releases,
            left_on_shelf: plan.left_available,
        });
    }
    Ok(ReceiptPreview {
        lines: previews,
        tier_first: settings.queue_tier_first,
    })
}

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
