//! An order line as stored: what was ordered, what is allocated, shipped and cancelled,
//! its place in the queue, its ETA and promise.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::WaitEnd;
use crate::db::schema::order_lines;

/// The order-line read model. Queries that join other tables select `l.*` and embed it.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = order_lines, check_for_backend(diesel::pg::Pg))]
pub struct OrderLine {
    pub id: i64,
    pub order_id: i64,
    pub product_id: i64,
    pub customer_id: i64,
    pub placed_at: DateTime<Utc>,
    pub qty: i32,
    pub allocated: i32,
    pub shipped: i32,
    pub cancelled: i32,
    pub unit_price_cents: i64,
    pub promised_on: Option<NaiveDate>,
    pub eta_likely: Option<NaiveDate>,
    pub eta_worst: Option<NaiveDate>,
    pub eta_is_estimate: bool,
    pub eta_reason: Option<String>,
    pub queue_position: Option<i32>,
    pub customer_choice: String,
    pub waiting_since: Option<DateTime<Utc>>,
    pub waiting_ended_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub last_notified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub waiting_ended_by: Option<WaitEnd>,
    /// Units still waiting: `qty - allocated - shipped - cancelled` (a generated column).
    pub waiting: i32,
    pub lapses_on: Option<NaiveDate>,
    pub wait_limit_on: Option<NaiveDate>,
}

/// A new order line: what was ordered, at what price, and how much the shelf gave it at
/// once. Intake writes these, and so does a swap (the line of the alternative taken).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_lines, check_for_backend(diesel::pg::Pg))]
pub struct OrderLineInsert {
    pub order_id: i64,
    pub product_id: i64,
    pub customer_id: i64,
    pub placed_at: DateTime<Utc>,
    pub qty: i32,
    pub allocated: i32,
    pub unit_price_cents: i64,
    /// When its units started waiting: set when some of them joined the queue.
    pub waiting_since: Option<DateTime<Utc>>,
}

/// The units of a line moved to an alternative (counted in its `cancelled`) and the
/// alternative's name: what a page or an email selects beside the line from `swaps`
/// (`coalesce(sw.units, 0)::int4 AS swapped, sw.swapped_to`).
#[derive(Debug, Clone, QueryableByName)]
pub struct SwappedAway {
    #[diesel(sql_type = diesel::sql_types::Int4)]
    pub swapped: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub swapped_to: Option<String>,
}
