//! The rows the engine works on: products (locked for an event), their waiting lines in
//! queue order, incoming purchase-order lines, supplier slip history, and the ledger.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Int4, Int8, Nullable, SmallInt, Text, Timestamptz};

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

/// The start of every read of `QueueRow`s: a line `l` with the columns of its order `o`
/// and customer `c` that the queue's order needs (a macro, so that `concat!` gives
/// `db::prepared::sql` the fixed text it takes).
macro_rules! queue_rows {
    () => {
        "SELECT l.*, o.number AS order_number, c.tier AS customer_tier,
                o.payment_authorized_until AS authorized_until, o.max_wait_until
           FROM order_lines l
           JOIN orders o ON o.id = l.order_id
           JOIN customers c ON c.id = l.customer_id "
    };
}

/// The product's waiting lines, oldest first (the engine re-sorts by the shop's policy).
pub fn waiting_lines(conn: &mut PgConnection, product_id: i64) -> QueryResult<Vec<QueueRow>> {
    crate::db::prepared::sql(concat!(
        queue_rows!(),
        "WHERE l.product_id = $1 AND l.waiting > 0
          ORDER BY l.placed_at, l.id",
    ))
    .bind::<BigInt, _>(product_id)
    .load(conn)
}

/// These lines as queue rows, those still waiting only: what an offer to a few lines needs
/// without reading their products' whole queues.
pub fn waiting_rows(conn: &mut PgConnection, line_ids: &[i64]) -> QueryResult<Vec<QueueRow>> {
    crate::db::prepared::sql(concat!(
        queue_rows!(),
        "WHERE l.id = ANY($1) AND l.waiting > 0
          ORDER BY l.placed_at, l.id",
    ))
    .bind::<Array<BigInt>, _>(line_ids)
    .load(conn)
}

/// The first `limit` waiting lines of a product in the shop's queue order
/// (`domain::QueuePolicy::compare`: tiers first, then the soonest lapsing authorization,
/// then age and line). Oldest first reads them in index order; the other policies sort
/// the product's waiting lines in the database and keep the first ones.
pub fn queue_head(
    conn: &mut PgConnection,
    product_id: i64,
    policy: &crate::domain::QueuePolicy,
    limit: i64,
) -> QueryResult<Vec<QueueRow>> {
    if !policy.higher_tier_first && !policy.soonest_lapsing_first {
        return crate::db::prepared::sql(concat!(
            queue_rows!(),
            "WHERE l.product_id = $1 AND l.waiting > 0
              ORDER BY l.placed_at, l.id
              LIMIT $2",
        ))
        .bind::<BigInt, _>(product_id)
        .bind::<BigInt, _>(limit)
        .load(conn);
    }
    crate::db::prepared::sql(concat!(
        queue_rows!(),
        "WHERE l.product_id = $1 AND l.waiting > 0
          ORDER BY CASE WHEN $2 THEN c.tier END DESC NULLS LAST,
                   CASE WHEN $3 THEN o.payment_authorized_until END NULLS LAST,
                   l.placed_at, l.id
          LIMIT $4",
    ))
    .bind::<BigInt, _>(product_id)
    .bind::<diesel::sql_types::Bool, _>(policy.higher_tier_first)
    .bind::<diesel::sql_types::Bool, _>(policy.soonest_lapsing_first)
    .bind::<BigInt, _>(limit)
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

/// A waiting line `l` (with its order `o` and customer `c`) that goes at or after the
/// start `n` in the shop's queue order (`domain::QueuePolicy::compare`); `$6`: tiers
/// first, `$7`: soonest lapsing first. Never NULL, so `NOT` it is "goes ahead of".
macro_rules! at_or_behind {
    () => {
        "CASE WHEN $6 AND c.tier <> n.tier THEN c.tier < n.tier
              WHEN $7 AND o.payment_authorized_until IS DISTINCT FROM n.authorized_until
                   THEN n.authorized_until IS NOT NULL
                        AND (o.payment_authorized_until IS NULL
                             OR o.payment_authorized_until > n.authorized_until)
              ELSE (l.placed_at, l.id) >= (n.placed_at, n.id) END"
    };
}

/// Where a product's stretch of the queue begins: its first new line, as the queue's
/// order places it (`domain::QueuePolicy::compare`).
#[derive(Debug, Clone, Copy)]
pub struct StretchStart {
    pub product_id: i64,
    pub place: crate::domain::QueuePlace,
}

/// The starts' columns as the statements bind them.
struct StartColumns {
    product_ids: Vec<i64>,
    placed_at: Vec<chrono::DateTime<chrono::Utc>>,
    line_ids: Vec<i64>,
    tiers: Vec<i32>,
    /// The day each start's authorization lapses.
    lapses: Vec<Option<NaiveDate>>,
}

impl StartColumns {
    fn of(starts: &[StretchStart]) -> Self {
        Self {
            product_ids: starts.iter().map(|s| s.product_id).collect(),
            placed_at: starts.iter().map(|s| s.place.placed_at).collect(),
            line_ids: starts.iter().map(|s| s.place.line_id).collect(),
            tiers: starts.iter().map(|s| s.place.customer_tier).collect(),
            lapses: starts
                .iter()
                .map(|s| s.place.authorized_until.map(|t| t.date_naive()))
                .collect(),
        }
    }
}

/// The waiting lines of several products, each from its `starts` line (a waiting line
/// of it) to the back of its queue, in one statement, oldest first within each product
/// (not yet in the policy's order when it puts tiers or lapsing authorizations first).
/// The start's place is bound as values known to the caller (not looked up by a
/// subquery whose value the planner cannot see), and each product's lines are read by
/// a lateral subquery the planner cannot flatten: an index range scan of the partial
/// index on waiting lines by (product, placed_at, id) from the start, with its orders
/// and customers by key, per product, whatever the queue's length. A policy that puts
/// tiers or lapsing authorizations first reads each product's waiting lines through
/// that index from its first and keeps those at or behind its start.
pub fn queues_from(
    conn: &mut PgConnection,
    starts: &[StretchStart],
    policy: &crate::domain::QueuePolicy,
) -> QueryResult<Vec<QueueRow>> {
    if starts.is_empty() {
        return Ok(Vec::new());
    }
    // Oldest first, the lines at or behind the start are a range of the index from it;
    // other orders read from the first line (`-infinity`) and keep those at or behind.
    let fifo = !policy.higher_tier_first && !policy.soonest_lapsing_first;
    let columns = StartColumns::of(starts);
    let floors: Vec<Option<chrono::DateTime<chrono::Utc>>> = columns
        .placed_at
        .iter()
        .map(|placed_at| fifo.then_some(*placed_at))
        .collect();
    crate::db::prepared::sql(concat!(
        "SELECT q.*
           FROM unnest($1::int8[], $2::timestamptz[], $3::int8[], $4::int4[], $5::date[], $8::timestamptz[])
                AS n(product_id, placed_at, id, tier, authorized_until, floor_at)
          CROSS JOIN LATERAL (",
        queue_rows!(),
        "WHERE l.product_id = n.product_id AND l.waiting > 0
                   AND (l.placed_at, l.id) >= (coalesce(n.floor_at, '-infinity'), n.id)
                   AND ",
        at_or_behind!(),
        "
                 ORDER BY l.placed_at, l.id) q",
    ))
    .bind::<Array<BigInt>, _>(columns.product_ids)
    .bind::<Array<Timestamptz>, _>(columns.placed_at)
    .bind::<Array<BigInt>, _>(columns.line_ids)
    .bind::<Array<Int4>, _>(columns.tiers)
    .bind::<Array<Nullable<Date>>, _>(columns.lapses)
    .bind::<diesel::sql_types::Bool, _>(policy.higher_tier_first)
    .bind::<diesel::sql_types::Bool, _>(policy.soonest_lapsing_first)
    .bind::<Array<Nullable<Timestamptz>>, _>(floors)
    .load(conn)
}

/// What waits ahead of each start in its product's queue, in the shop's order: (lines,
/// units) for each of `starts`, in their order, in one statement.
pub fn waiting_ahead(
    conn: &mut PgConnection,
    starts: &[StretchStart],
    policy: &crate::domain::QueuePolicy,
) -> QueryResult<Vec<(u32, u32)>> {
    #[derive(QueryableByName)]
    struct Ahead {
        #[diesel(sql_type = BigInt)]
        lines: i64,
        #[diesel(sql_type = BigInt)]
        units: i64,
    }
    let columns = StartColumns::of(starts);
    let rows: Vec<Ahead> = crate::db::prepared::sql(concat!(
        "SELECT a.lines, a.units
           FROM unnest($1::int8[], $2::timestamptz[], $3::int8[], $4::int4[], $5::date[])
                WITH ORDINALITY AS n(product_id, placed_at, id, tier, authorized_until, i)
          CROSS JOIN LATERAL (
                SELECT count(*) AS lines, coalesce(sum(l.waiting), 0)::int8 AS units
                  FROM order_lines l
                  JOIN orders o ON o.id = l.order_id
                  JOIN customers c ON c.id = l.customer_id
                 WHERE l.product_id = n.product_id AND l.waiting > 0
                   AND NOT ",
        at_or_behind!(),
        ") a
          ORDER BY n.i",
    ))
    .bind::<Array<BigInt>, _>(columns.product_ids)
    .bind::<Array<Timestamptz>, _>(columns.placed_at)
    .bind::<Array<BigInt>, _>(columns.line_ids)
    .bind::<Array<Int4>, _>(columns.tiers)
    .bind::<Array<Nullable<Date>>, _>(columns.lapses)
    .bind::<diesel::sql_types::Bool, _>(policy.higher_tier_first)
    .bind::<diesel::sql_types::Bool, _>(policy.soonest_lapsing_first)
    .load(conn)?;
    let fit = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    Ok(rows
        .into_iter()
        .map(|row| (fit(row.lines), fit(row.units)))
        .collect())
}

/// An open purchase-order line still bringing units of a product.
#[derive(Debug, Clone, QueryableByName)]
pub struct IncomingRow {
    #[diesel(sql_type = Int8)]
    pub product_id: i64,
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

/// The open purchase-order lines still bringing units of these products, by product and
/// then soonest expected first.
pub fn incoming(conn: &mut PgConnection, product_ids: &[i64]) -> QueryResult<Vec<IncomingRow>> {
    crate::db::prepared::sql(
        "SELECT pl.product_id, pl.id AS purchase_order_line_id, po.id AS purchase_order_id, po.reference,
                po.supplier_id, po.expected_on, (pl.qty_ordered - pl.qty_received) AS outstanding
           FROM purchase_order_lines pl
           JOIN purchase_orders po ON po.id = pl.purchase_order_id
          WHERE pl.product_id = ANY($1) AND pl.qty_received < pl.qty_ordered AND po.status = 'open'
          ORDER BY pl.product_id, po.expected_on, po.id",
    )
    .bind::<Array<BigInt>, _>(product_ids)
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
