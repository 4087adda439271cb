//! One product's page: its ledger (newest first, a page at a time), its queue, incoming
//! supply and recent sign-ups.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::list::{ProductRow, product_row};
use crate::db::audit::Actor;
use crate::db::models::MovementReason;
use crate::db::schema::stock_movements;
use crate::db::shop_settings::ShopSettings;
use crate::db::stock::{self, IncomingRow, QueueRow};
use crate::error::AppResult;
use crate::services::engine::{self, Ctx};

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
    /// Waiting lines in the shop's queue order.
    pub queue: Vec<QueueRow>,
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
    let ctx = Ctx {
        actor: &Actor::System,
        today: crate::clock::today(),
        settings,
    };
    let queue = engine::queue(conn, product.id, &ctx.queue_policy())?;
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
