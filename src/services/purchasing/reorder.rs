//! Reorder suggestions (DESIGN §5): per product, the demand that incoming purchase orders
//! do not cover (waiting units, plus "notify me" sign-ups as soft demand) against the
//! reorder point, and how many units to order to get back above it with safety stock.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Int8, Nullable, Text};

use crate::error::AppResult;
use crate::services::purchasing::sourcing::{self, ProductSupplier};

/// One supplier a suggestion could be ordered from.
#[derive(Debug, Clone)]
pub struct SupplierOption {
    pub supplier: ProductSupplier,
    /// When an order placed today would likely arrive (lead time and usual slip).
    pub arrives_on: Option<NaiveDate>,
    /// The one the suggestion names.
    pub chosen: bool,
}

/// A product worth reordering, named under the supplier that covers its waiting demand
/// soonest (the cheaper where dates tie), with every supplier's option beside it.
#[derive(Debug, Clone)]
pub struct Suggestion {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    /// The chosen supplier (the primary when none has a lead time).
    pub supplier_id: Option<i64>,
    pub supplier: Option<String>,
    pub available: i32,
    pub waiting_units: i32,
    pub incoming: i64,
    pub soft_demand: i64,
    pub uncovered: i64,
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub projected: i64,
    pub suggested: i64,
    /// Every supplier of the product, in its order (primary first).
    pub options: Vec<SupplierOption>,
}

#[derive(Debug, Clone, QueryableByName)]
struct Row {
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
///
/// `supplier_id`: only the suggestions whose chosen supplier is this one.
pub fn suggestions(
    conn: &mut PgConnection,
    supplier_id: Option<i64>,
    today: NaiveDate,
) -> AppResult<Vec<Suggestion>> {
    let rows: Vec<Row> = diesel::sql_query(
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
              WHERE ($1::int8 IS NULL OR p.supplier_id = $1
                     OR EXISTS (SELECT 1 FROM product_suppliers ps WHERE ps.product_id = p.id AND ps.supplier_id = $1))
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
    .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|row| row.product_id).collect();
    let mut lists = sourcing::of_products(conn, &ids)?;
    let mut out: Vec<Suggestion> = rows
        .into_iter()
        .map(|row| {
            let list = lists.remove(&row.product_id).unwrap_or_default();
            let chosen = sourcing::choose(today, &list);
            let (supplier_id, supplier) = match chosen {
                Some(i) => (Some(list[i].supplier_id), Some(list[i].name.clone())),
                None => (row.supplier_id, row.supplier),
            };
            Suggestion {
                product_id: row.product_id,
                sku: row.sku,
                name: row.name,
                supplier_id,
                supplier,
                available: row.available,
                waiting_units: row.waiting_units,
                incoming: row.incoming,
                soft_demand: row.soft_demand,
                uncovered: row.uncovered,
                reorder_point: row.reorder_point,
                safety_stock: row.safety_stock,
                projected: row.projected,
                suggested: row.suggested,
                options: list
                    .into_iter()
                    .enumerate()
                    .map(|(i, supplier)| SupplierOption {
                        arrives_on: supplier.arrives_on(today),
                        chosen: chosen == Some(i),
                        supplier,
                    })
                    .collect(),
            }
        })
        .filter(|s| supplier_id.is_none() || s.supplier_id == supplier_id)
        .collect();
    out.sort_by(|a, b| {
        (
            a.supplier.is_none(),
            &a.supplier,
            std::cmp::Reverse(a.uncovered),
            std::cmp::Reverse(a.soft_demand),
            &a.sku,
        )
            .cmp(&(
                b.supplier.is_none(),
                &b.supplier,
                std::cmp::Reverse(b.uncovered),
                std::cmp::Reverse(b.soft_demand),
                &b.sku,
            ))
    });
    Ok(out)
}
