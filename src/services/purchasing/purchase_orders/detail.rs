//! One purchase order's page: its lines with the queue beside them, its date changes,
//! what was sent to the supplier and answered, and its receipts.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Int4, Nullable, Text, Timestamptz};

use super::list::{PurchaseOrderRow, ROWS_SQL};
use crate::db::models::{MessageStatus, SupplierAnswer};
use crate::db::schema::{
    purchase_order_date_changes, purchase_order_lines, purchase_order_receipts, supplier_answers,
};
use crate::error::{AppError, AppResult};
use crate::services::purchasing::{self, ReceiptView};

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

pub(super) fn header(
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

pub(in crate::services::purchasing) fn lines(
    conn: &mut PgConnection,
    po_id: i64,
) -> QueryResult<Vec<LineRow>> {
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
