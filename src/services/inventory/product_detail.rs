//! One product's page: its ledger (newest first, a page at a time), its queue, incoming
//! supply and recent sign-ups.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text};

use super::list::{ProductRow, product_row};
use crate::db::models::MovementReason;
use crate::db::schema::stock_movements;
use crate::db::shop_settings::ShopSettings;
use crate::db::stock::{self, IncomingRow, QueueRow};
use crate::domain::QueuePolicy;
use crate::error::AppResult;

/// Rows per page of a product's ledger.
pub const LEDGER_PAGE: i64 = 25;

/// One row of a product's ledger, with who made it and for which order.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = stock_movements)]
pub struct LedgerRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub reason: MovementReason,
    pub on_hand_delta: i32,
    pub allocated_delta: i32,
    pub reference: Option<String>,
    pub note: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub user_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub order_number: Option<String>,
}

/// Everything the product page shows.
pub struct ProductDetail {
    pub product: ProductRow,
    pub ledger: Vec<LedgerRow>,
    /// The cursor of the next (older) ledger page.
    pub ledger_older: Option<i64>,
    /// The head of its queue and the whole queue's totals.
    pub queue: QueueHead,
    pub incoming: Vec<IncomingRow>,
    /// The sign-ups still waiting for stock.
    pub recent_subscriptions: i64,
    /// The "notify me" list (see `subscriptions::sign_ups`) and how many there are in all.
    pub sign_ups: Vec<crate::services::inventory::subscriptions::SignUp>,
    pub sign_ups_total: i64,
    /// Its suppliers, the primary first, with their terms and reliability.
    pub suppliers: Vec<crate::services::purchasing::sourcing::ProductSupplier>,
    /// Its alternatives' SKUs, in order of preference.
    pub alternatives: Vec<String>,
}

impl ProductDetail {
    /// The alternatives as the form shows them ("SKU-B, SKU-C").
    pub fn product_alternatives_text(&self) -> String {
        self.alternatives.join(", ")
    }
}

/// Waiting lines the product page reads from the front of its queue: the table shows the
/// first `web::inventory::QUEUE_SHOWN`, the timeline draws a dot for each of these.
pub const QUEUE_HEAD: i64 = 300;

/// A product's queue as its page shows it: the first lines in the shop's queue order and
/// the whole queue's totals, read without loading every waiting line (a launch's SKU has
/// tens of thousands: reading them all held about 9 MB a request).
pub struct QueueHead {
    /// The first `QUEUE_HEAD` waiting lines, in the shop's queue order.
    pub lines: Vec<QueueRow>,
    /// Waiting lines in all.
    pub count: i64,
    /// Units they wait for in all.
    pub units: i64,
    /// The latest date a waiting line expects (its likely date, else its worst).
    pub last_eta: Option<NaiveDate>,
}

#[derive(QueryableByName)]
struct QueueTotals {
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = BigInt)]
    units: i64,
    #[diesel(sql_type = Nullable<Date>)]
    last_eta: Option<NaiveDate>,
}

/// The head of a product's queue in the shop's order (`stock::queue_head`) and the whole
/// queue's totals.
pub fn queue_head(
    conn: &mut PgConnection,
    product_id: i64,
    policy: &QueuePolicy,
) -> QueryResult<QueueHead> {
    let head = stock::queue_head(conn, product_id, policy, QUEUE_HEAD)?;
    let totals: QueueTotals = crate::db::prepared::sql(
        "SELECT count(*) AS count, coalesce(sum(waiting), 0)::int8 AS units,
                max(coalesce(eta_likely, eta_worst)) AS last_eta
           FROM order_lines
          WHERE product_id = $1 AND waiting > 0",
    )
    .bind::<BigInt, _>(product_id)
    .get_result(conn)?;
    Ok(QueueHead {
        lines: head,
        count: totals.count,
        units: totals.units,
        last_eta: totals.last_eta,
    })
}

/// The product's ledger, newest first, `LEDGER_PAGE` rows before `before` (a movement id).
pub fn ledger_page(
    conn: &mut PgConnection,
    product_id: i64,
    before: Option<i64>,
) -> QueryResult<(Vec<LedgerRow>, Option<i64>)> {
    let mut rows: Vec<LedgerRow> = crate::db::prepared::sql(
        "SELECT m.id, m.created_at, m.reason, m.on_hand_delta, m.allocated_delta, m.reference,
                m.note, u.name AS user_name, o.number AS order_number
           FROM stock_movements m
           LEFT JOIN users u ON u.id = m.user_id
           LEFT JOIN order_lines l ON l.id = m.order_line_id
           LEFT JOIN orders o ON o.id = l.order_id
          WHERE m.product_id = $1 AND ($2::int8 IS NULL OR m.id < $2)
          ORDER BY m.id DESC
          LIMIT $3",
    )
    .bind::<BigInt, _>(product_id)
    .bind::<Nullable<BigInt>, _>(before)
    .bind::<BigInt, _>(LEDGER_PAGE + 1)
    .load(conn)?;
    let more = rows.len() as i64 > LEDGER_PAGE;
    rows.truncate(LEDGER_PAGE as usize);
    let older = rows.last().map(|r| r.id).filter(|_| more);
    Ok((rows, older))
}

/// The product page's data; `settings` are the shop's (read once per request by the
/// page, which shows its currency too).
pub fn product_detail(
    conn: &mut PgConnection,
    sku: &str,
    ledger_before: Option<i64>,
    settings: &ShopSettings,
) -> AppResult<ProductDetail> {
    let product = product_row(conn, sku)?;
    let (ledger, ledger_older) = ledger_page(conn, product.id, ledger_before)?;
    let queue = queue_head(conn, product.id, &settings.queue_policy())?;
    let incoming = stock::incoming(conn, &[product.id])?;
    let sign_ups = crate::services::inventory::subscriptions::sign_ups(conn, product.id)?;
    let suppliers = crate::services::purchasing::sourcing::of_product(conn, product.id)?;
    let alternatives = crate::services::inventory::alternatives::of_product(conn, product.id)?;
    Ok(ProductDetail {
        alternatives,
        suppliers,
        sign_ups: sign_ups.shown,
        sign_ups_total: sign_ups.total,
        product,
        ledger,
        ledger_older,
        queue,
        incoming,
        recent_subscriptions: sign_ups.waiting,
    })
}
