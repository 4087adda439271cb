//! A purchase order as stored: its reference, supplier, status and dates.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::PoStatus;
use crate::db::schema::purchase_orders;

/// The purchase-order read model. Queries that join other tables select `po.*` and embed
/// it.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = purchase_orders, check_for_backend(diesel::pg::Pg))]
pub struct PurchaseOrder {
    pub id: i64,
    pub reference: String,
    pub supplier_id: i64,
    pub status: PoStatus,
    pub ordered_on: NaiveDate,
    pub expected_on: NaiveDate,
    pub received_on: Option<NaiveDate>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}
