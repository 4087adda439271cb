//! Reorder suggestions (DESIGN §5): per product, the demand that incoming purchase orders
//! do not cover (waiting units, plus "notify me" sign-ups as soft demand) against the
//! reorder point, and how many units to order to get back above it with safety stock.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Int8, Nullable, Text};

/// A product worth reordering.
#[derive(Debug, Clone, QueryableByName)]
pub struct Suggestion {
    #[diesel(sql_type = Int8)]
    pub product_id: i64,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Nullable<Int8>)]
    pub supplier_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub supplier: Option<String>,
    #[diesel(sql_type = Int4)]
    pub available: i32,
    #[diesel(sql_type = Int4)]
    pub waiting_units: i32,
    #[diesel(sql_type = BigInt)]
    pub incoming: i64,
    /// Open "notify me" sign-ups: one unit each, not promised.
    #[diesel(sql_type = BigInt)]
    pub soft_demand: i64,
    /// Waiting units that neither the shelf nor incoming purchase orders cover.
    #[diesel(sql_type = BigInt)]
    pub uncovered: i64,
    #[diesel(sql_type = Int4)]
    pub reorder_point: i32,
    #[diesel(sql_type = Int4)]
    pub safety_stock: i32,
    /// Available + incoming - waiting - soft demand.
    #[diesel(sql_type = BigInt)]
    pub projected: i64,
    #[diesel(sql_type = BigInt)]
    pub suggested: i64,
}

/// The most suggestions one page lists.
pub const LIMIT: i64 = 1000;

/// Products whose projected stock (free units and incoming, less waiting and soft demand)
/// is at or below the reorder point; the suggestion brings it to reorder point + safety
/// stock. Only products with demand or at their reorder point are looked at closely.
pub fn suggestions(
    conn: &mut PgConnection,
    supplier_id: Option<i64>,
) -> QueryResult<Vec<Suggestion>> {
    diesel::sql_query(
        "WITH soft AS (
             SELECT product_id, count(*)::int8 AS n
               FROM restock_subscriptions
              WHERE notified_at IS NULL AND unsubscribed_at IS NULL
              GROUP BY product_id
         ), candidates AS (
             SELECT p.id AS product_id, p.sku, p.name, p.supplier_id, s.name AS supplier,
                    greatest(p.on_hand - p.allocated, 0) AS available, p.waiting_units,
                    coalesce(inc.units, 0)::int8 AS incoming, coalesce(soft.n, 0) AS soft_demand,
                    p.reorder_point, p.safety_stock
               FROM products p
               LEFT JOIN suppliers s ON s.id = p.supplier_id
               LEFT JOIN soft ON soft.product_id = p.id
               LEFT JOIN LATERAL (
                    SELECT sum(pl.qty_ordered - pl.qty_received) AS units
                      FROM purchase_order_lines pl
                      JOIN purchase_orders po ON po.id = pl.purchase_order_id
                     WHERE pl.product_id = p.id AND pl.qty_received < pl.qty_ordered AND po.status = 'open'
               ) inc ON true
              WHERE ($1::int8 IS NULL OR p.supplier_id = $1)
                AND (p.waiting_units > 0 OR soft.n > 0 OR p.on_hand - p.allocated <= p.reorder_point)
         ), projected AS (
             SELECT c.*, greatest(c.waiting_units - c.available - c.incoming, 0)::int8 AS uncovered,
                    (c.available + c.incoming - c.waiting_units - c.soft_demand)::int8 AS projected
               FROM candidates c
         )
         SELECT *, (reorder_point + safety_stock - projected)::int8 AS suggested
           FROM projected
          WHERE projected <= reorder_point AND reorder_point + safety_stock - projected > 0
          ORDER BY supplier NULLS LAST, uncovered DESC, soft_demand DESC, sku
          LIMIT $2",
    )
    .bind::<Nullable<BigInt>, _>(supplier_id)
    .bind::<BigInt, _>(LIMIT)
    .load(conn)
}
