//! A product as stored: stock on hand and allocated, reorder settings, the waiting
//! counters kept by the engine, and a pre-order's release day.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::db::schema::products;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub supplier_id: Option<i64>,
    pub on_hand: i32,
    pub allocated: i32,
    pub reorder_point: i32,
    pub safety_stock: i32,
    pub backorderable: bool,
    pub unit_price_cents: i64,
    pub waiting_units: i32,
    pub waiting_lines: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A pre-order's release day: before it, orders queue and stock is held.
    pub preorder_release_on: Option<NaiveDate>,
}

impl Product {
    pub fn available(&self) -> i32 {
        (self.on_hand - self.allocated).max(0)
    }

    /// A pre-order before its release day: orders are queued whatever is on the shelf, and
    /// stock received is held (not allocated) until the release day.
    pub fn held_for_release(&self, today: NaiveDate) -> bool {
        self.preorder_release_on
            .is_some_and(|release| today < release)
    }
}
