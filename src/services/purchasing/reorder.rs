//! Reorder suggestions (DESIGN §5): per product, the demand that incoming purchase orders
//! do not cover (waiting units, plus "notify me" sign-ups as soft demand) against the
//! reorder point, and how many units to order to get back above it with safety stock.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text};

use crate::db::schema::products;

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
/// soonest (the cheaper where dates tie), with every supplier's option beside it. It reads
/// as its projection (`s.sku`, `s.suggested`).
#[derive(Debug, Clone)]
pub struct Suggestion {
    pub projection: Projection,
    /// Every supplier of the product, in its order (primary first).
    pub options: Vec<SupplierOption>,
}

impl std::ops::Deref for Suggestion {
    type Target = Projection;

    fn deref(&self) -> &Projection {
        &self.projection
    }
}

/// A product's stock against its demand, and the units that bring it back above its
/// reorder point. The product's own columns take their types from the schema.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = products)]
pub struct Projection {
    #[diesel(column_name = id)]
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    /// The chosen supplier (the primary when none has a lead time).
    pub supplier_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub supplier: Option<String>,
    #[diesel(sql_type = Int4)]
    pub available: i32,
    pub waiting_units: i32,
    #[diesel(sql_type = BigInt)]
    pub incoming: i64,
    /// Open "notify me" sign-ups: one unit each, not promised.
    #[diesel(sql_type = BigInt)]
    pub soft_demand: i64,
    /// Waiting units that neither the shelf nor incoming purchase orders cover.
    #[diesel(sql_type = BigInt)]
    pub uncovered: i64,
    pub reorder_point: i32,
    pub safety_stock: i32,
    /// Available + incoming - waiting - soft demand.
    #[diesel(sql_type = BigInt)]
    pub projected: i64,
    #[diesel(sql_type = BigInt)]
    pub suggested: i64,
}

/// The most suggestions one page lists.
pub const LIMIT: i64 = 1000;

const SUGGESTIONS_SQL: &str = include_str!("reorder_suggestions.sql");

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
    let rows: Vec<Projection> = crate::db::prepared::sql(SUGGESTIONS_SQL)
        .bind::<Nullable<BigInt>, _>(supplier_id)
        .bind::<BigInt, _>(LIMIT)
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|row| row.product_id).collect();
    let mut lists = sourcing::of_products(conn, &ids)?;
    let mut out: Vec<Suggestion> = rows
        .into_iter()
        .map(|mut projection| {
            let list = lists.remove(&projection.product_id).unwrap_or_default();
            let chosen = sourcing::choose(today, &list);
            if let Some(i) = chosen {
                projection.supplier_id = Some(list[i].supplier_id);
                projection.supplier = Some(list[i].name.clone());
            }
            Suggestion {
                projection,
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
