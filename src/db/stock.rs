//! The rows the engine works on: products (locked for an event), their waiting lines in
//! queue order, incoming purchase-order lines, supplier slip history, and the ledger.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Int4, Int8, Nullable, SmallInt, Text};

use super::models::MovementReason;
pub use super::models::{OrderLine, Product};
use super::schema::{products, stock_movements};

/// Locks the products (in id order, so two events never deadlock) and returns them.
pub fn lock_products(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<Product>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    products::table
        .filter(products::id.eq_any(ids))
        .order(products::id.asc())
        .for_update()
        .select(Product::as_select())
        .load(conn)
}

/// Locks the products with these SKUs, in id order like `lock_products` (SKUs that name
/// no product are left out).
pub fn lock_products_by_sku(conn: &mut PgConnection, skus: &[String]) -> QueryResult<Vec<Product>> {
    products::table
        .filter(products::sku.eq_any(skus))
        .order(products::id.asc())
        .for_update()
        .select(Product::as_select())
        .load(conn)
}

pub fn find_by_sku(conn: &mut PgConnection, sku: &str) -> QueryResult<Option<Product>> {
    products::table
        .filter(products::sku.eq(sku))
        .select(Product::as_select())
        .first(conn)
        .optional()
}

pub fn ids_by_sku(conn: &mut PgConnection, skus: &[String]) -> QueryResult<Vec<(String, i64)>> {
    products::table
        .filter(products::sku.eq_any(skus))
        .select((products::sku, products::id))
        .load(conn)
}

/// A waiting line of a product's queue (the order-line read model), with what the queue
/// order and the flags need from its order and customer.
#[derive(Debug, Clone, QueryableByName)]
pub struct QueueRow {
    #[diesel(embed)]
    pub line: OrderLine,
    #[diesel(sql_type = Text)]
    pub order_number: String,
    #[diesel(sql_type = SmallInt)]
    pub customer_tier: i16,
    #[diesel(sql_type = Nullable<Date>)]
    pub authorized_until: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Date>)]
    pub max_wait_until: Option<NaiveDate>,
}

impl QueueRow {
    pub fn waiting(&self) -> i32 {
        self.line.waiting
    }

    /// The line as allocation down the queue sees it: its id and the units it waits for.
    pub fn as_waiting(&self) -> crate::domain::WaitingLine {
        crate::domain::WaitingLine {
            line_id: self.id,
            waiting_units: self.waiting().max(0) as u32,
        }
    }
}

/// A queue row reads as its line (`row.eta_worst`, `row.placed_at`); what it adds is
/// named on it.
impl std::ops::Deref for QueueRow {
    type Target = OrderLine;

    fn deref(&self) -> &OrderLine {
        &self.line
    }
}

/// The product's waiting lines, oldest first (the engine re-sorts by the shop's policy).
pub fn waiting_lines(conn: &mut PgConnection, product_id: i64) -> QueryResult<Vec<QueueRow>> {
    crate::db::prepared::sql(
        "SELECT l.*, o.number AS order_number, c.tier AS customer_tier,
                o.payment_authorized_until AS authorized_until, o.max_wait_until
           FROM order_lines l
           JOIN orders o ON o.id = l.order_id
           JOIN customers c ON c.id = l.customer_id
          WHERE l.product_id = $1 AND l.waiting > 0
          ORDER BY l.placed_at, l.id",
    )
    .bind::<BigInt, _>(product_id)
    .load(conn)
}

/// These lines as queue rows, those still waiting only: what an offer to a few lines needs
/// without reading their products' whole queues.
pub fn waiting_rows(conn: &mut PgConnection, line_ids: &[i64]) -> QueryResult<Vec<QueueRow>> {
    crate::db::prepared::sql(
        "SELECT l.*, o.number AS order_number, c.tier AS customer_tier,
                o.payment_authorized_until AS authorized_until, o.max_wait_until
           FROM order_lines l
           JOIN orders o ON o.id = l.order_id
           JOIN customers c ON c.id = l.customer_id
          WHERE l.id = ANY($1) AND l.waiting > 0
          ORDER BY l.placed_at, l.id",
    )
    .bind::<Array<BigInt>, _>(line_ids)
    .load(conn)
}

/// Where a waiting line stands in its product's queue and how many units it waits for:
/// all that filling the queue needs to decide (a receipt for 10,000 lines reads five
/// columns of each, not the whole line with its order and customer).
#[derive(Debug, Clone, QueryableByName)]
pub struct QueueSpot {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Int4)]
    pub waiting: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub placed_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = SmallInt)]
    pub customer_tier: i16,
    #[diesel(sql_type = Nullable<Date>)]
    pub authorized_until: Option<NaiveDate>,
}

/// The product's waiting lines as queue spots, oldest first (the engine sorts them by the
/// shop's policy). Oldest first reads the partial index on waiting lines by (product,
/// placed_at, id) alone; only a policy that puts tiers or lapsing authorizations first
/// joins the orders and customers.
pub fn queue_spots(
    conn: &mut PgConnection,
    product_id: i64,
    policy: &crate::domain::QueuePolicy,
) -> QueryResult<Vec<QueueSpot>> {
    let fifo = !policy.higher_tier_first && !policy.soonest_lapsing_first;
    let sql = if fifo {
        "SELECT l.id, l.waiting, l.placed_at, 0::int2 AS customer_tier, NULL::date AS authorized_until
           FROM order_lines l
          WHERE l.product_id = $1 AND l.waiting > 0
          ORDER BY l.placed_at, l.id"
    } else {
        "SELECT l.id, l.waiting, l.placed_at, c.tier AS customer_tier,
                o.payment_authorized_until AS authorized_until
           FROM order_lines l
           JOIN orders o ON o.id = l.order_id
           JOIN customers c ON c.id = l.customer_id
          WHERE l.product_id = $1 AND l.waiting > 0
          ORDER BY l.placed_at, l.id"
    };
    crate::db::prepared::sql(sql)
        .bind::<BigInt, _>(product_id)
        .load(conn)
}

const QUEUE_COLUMNS: &str = "l.*, o.number AS order_number, c.tier AS customer_tier,
    o.payment_authorized_until AS authorized_until, o.max_wait_until";

/// A waiting line `l` (with its order `o` and customer `c`) that goes at or after the line
/// `n` in the shop's queue order (`domain::QueuePolicy::compare`); `$3`: tiers first,
/// `$4`: soonest lapsing first.
const AT_OR_BEHIND: &str = "CASE WHEN $3 AND c.tier <> n.tier THEN c.tier < n.tier
         WHEN $4 AND o.payment_authorized_until IS DISTINCT FROM n.authorized_until
              THEN n.authorized_until IS NOT NULL
                   AND (o.payment_authorized_until IS NULL OR o.payment_authorized_until > n.authorized_until)
         ELSE (l.placed_at, l.id) >= (n.placed_at, n.id) END";

/// The waiting lines of a product from `line_id` (a waiting line of it) to the back of
/// its queue, oldest first (not yet in the policy's order when it puts tiers or lapsing
/// authorizations first). Oldest-first queues read only those lines, through the partial
/// index on waiting lines by (product, placed_at, id); a policy that puts tiers or lapsing
/// authorizations first reads the product's waiting lines in the database.
pub fn queue_from(
    conn: &mut PgConnection,
    product_id: i64,
    line_id: i64,
    policy: &crate::domain::QueuePolicy,
) -> QueryResult<Vec<QueueRow>> {
    let fifo = !policy.higher_tier_first && !policy.soonest_lapsing_first;
    // Oldest first binds `$3` and `$4` without using them (their types are sent along).
    let sql = if fifo {
        format!(
            "SELECT {QUEUE_COLUMNS}
               FROM order_lines l
               JOIN orders o ON o.id = l.order_id
               JOIN customers c ON c.id = l.customer_id
              WHERE l.product_id = $1 AND l.waiting > 0
                AND (l.placed_at, l.id) >= ((SELECT placed_at FROM order_lines WHERE id = $2), $2)
              ORDER BY l.placed_at, l.id"
        )
    } else {
        format!(
            "WITH n AS (SELECT l.placed_at, l.id, c.tier, o.payment_authorized_until AS authorized_until
                          FROM order_lines l
                          JOIN orders o ON o.id = l.order_id
                          JOIN customers c ON c.id = l.customer_id
                         WHERE l.id = $2)
             SELECT {QUEUE_COLUMNS}
               FROM n, order_lines l
               JOIN orders o ON o.id = l.order_id
               JOIN customers c ON c.id = l.customer_id
              WHERE l.product_id = $1 AND l.waiting > 0 AND {AT_OR_BEHIND}
              ORDER BY l.placed_at, l.id"
        )
    };
    diesel::sql_query(sql)
        .bind::<BigInt, _>(product_id)
        .bind::<BigInt, _>(line_id)
        .bind::<diesel::sql_types::Bool, _>(policy.higher_tier_first)
        .bind::<diesel::sql_types::Bool, _>(policy.soonest_lapsing_first)
        .load(conn)
}

/// An open purchase-order line still bringing units of a product.
#[derive(Debug, Clone, QueryableByName)]
pub struct IncomingRow {
    #[diesel(sql_type = Int8)]
    pub purchase_order_line_id: i64,
    #[diesel(sql_type = Int8)]
    pub purchase_order_id: i64,
    #[diesel(sql_type = Text)]
    pub reference: String,
    #[diesel(sql_type = Int8)]
    pub supplier_id: i64,
    #[diesel(sql_type = Date)]
    pub expected_on: NaiveDate,
    #[diesel(sql_type = Int4)]
    pub outstanding: i32,
}

pub fn incoming(conn: &mut PgConnection, product_id: i64) -> QueryResult<Vec<IncomingRow>> {
    crate::db::prepared::sql(
        "SELECT pl.id AS purchase_order_line_id, po.id AS purchase_order_id, po.reference, po.supplier_id,
                po.expected_on, (pl.qty_ordered - pl.qty_received) AS outstanding
           FROM purchase_order_lines pl
           JOIN purchase_orders po ON po.id = pl.purchase_order_id
          WHERE pl.product_id = $1 AND pl.qty_received < pl.qty_ordered AND po.status = 'open'
          ORDER BY po.expected_on, po.id",
    )
    .bind::<BigInt, _>(product_id)
    .load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct SlipRow {
    #[diesel(sql_type = Int8)]
    pub supplier_id: i64,
    #[diesel(sql_type = Int4)]
    pub slip_days: i32,
}

/// Days late (negative: early) of every receipt from these suppliers, oldest first.
pub fn supplier_slips(conn: &mut PgConnection, supplier_ids: &[i64]) -> QueryResult<Vec<SlipRow>> {
    crate::db::prepared::sql(
        "SELECT po.supplier_id, (r.received_on - r.expected_on)::int4 AS slip_days
           FROM purchase_order_receipts r
           JOIN purchase_orders po ON po.id = r.purchase_order_id
          WHERE po.supplier_id = ANY($1)
          ORDER BY r.id",
    )
    .bind::<Array<BigInt>, _>(supplier_ids)
    .load(conn)
}

/// One row of the inventory ledger.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = stock_movements)]
pub struct NewMovement {
    pub product_id: i64,
    pub reason: MovementReason,
    pub on_hand_delta: i32,
    pub allocated_delta: i32,
    pub reference: Option<String>,
    pub note: Option<String>,
    pub order_line_id: Option<i64>,
    pub user_id: Option<i64>,
}

/// Writes ledger rows: one row inserted as such, many as arrays unnested in one statement
/// (a 10,000-line receipt: one statement of eight arrays instead of 80,000 parameters).
pub fn record_movements(conn: &mut PgConnection, movements: &[NewMovement]) -> QueryResult<()> {
    if movements.is_empty() {
        // Diesel would still send a statement (`SELECT 1 ... WHERE 1=0`): a round trip
        // for nothing, on every order that only waits.
        return Ok(());
    }
    if movements.len() == 1 {
        return diesel::insert_into(stock_movements::table)
            .values(movements)
            .execute(conn)
            .map(drop);
    }
    let texts = |f: fn(&NewMovement) -> Option<String>| movements.iter().map(f).collect::<Vec<_>>();
    crate::db::prepared::sql(
        "INSERT INTO stock_movements (product_id, reason, on_hand_delta, allocated_delta, reference,
                                      note, order_line_id, user_id)
         SELECT * FROM unnest($1::int8[], $2::text[], $3::int4[], $4::int4[], $5::text[], $6::text[],
                              $7::int8[], $8::int8[])",
    )
    .bind::<Array<BigInt>, _>(movements.iter().map(|m| m.product_id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(movements.iter().map(|m| m.reason.as_str()).collect::<Vec<_>>())
    .bind::<Array<Int4>, _>(movements.iter().map(|m| m.on_hand_delta).collect::<Vec<_>>())
    .bind::<Array<Int4>, _>(movements.iter().map(|m| m.allocated_delta).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(texts(|m| m.reference.clone()))
    .bind::<Array<Nullable<Text>>, _>(texts(|m| m.note.clone()))
    .bind::<Array<Nullable<BigInt>>, _>(movements.iter().map(|m| m.order_line_id).collect::<Vec<_>>())
    .bind::<Array<Nullable<BigInt>>, _>(movements.iter().map(|m| m.user_id).collect::<Vec<_>>())
    .execute(conn)
    .map(drop)
}
