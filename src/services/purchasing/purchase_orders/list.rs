//! The purchase-order list: each order with its supplier and what is still to come,
//! filtered by status.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Nullable, Text};

use crate::db::models::{PoStatus, PurchaseOrder};

/// One purchase order in the list: the stored order (the read model) with its supplier's
/// name and what is still to come.
#[derive(Debug, Clone, QueryableByName)]
pub struct PurchaseOrderRow {
    #[diesel(embed)]
    pub order: PurchaseOrder,
    #[diesel(sql_type = Text)]
    pub supplier: String,
    #[diesel(sql_type = BigInt)]
    pub lines: i64,
    #[diesel(sql_type = BigInt)]
    pub outstanding: i64,
    #[diesel(sql_type = Bool)]
    pub late: bool,
}

/// A list row reads as its purchase order (`po.reference`, `po.status`).
impl std::ops::Deref for PurchaseOrderRow {
    type Target = PurchaseOrder;

    fn deref(&self) -> &PurchaseOrder {
        &self.order
    }
}

/// The select both the list and one order's page read, `$2` being today.
pub(super) const ROWS_SQL: &str = include_str!("purchase_order_rows.sql");

/// The list's status filter: open orders by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListStatus {
    #[default]
    Open,
    Received,
    Cancelled,
    All,
}

impl ListStatus {
    pub const ALL: [ListStatus; 4] = [Self::Open, Self::Received, Self::Cancelled, Self::All];

    pub fn parse(text: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .unwrap_or_default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => PoStatus::Open.as_str(),
            Self::Received => PoStatus::Received.as_str(),
            Self::Cancelled => PoStatus::Cancelled.as_str(),
            Self::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Received => "Received",
            Self::Cancelled => "Cancelled",
            Self::All => "All",
        }
    }
}

/// The most purchase orders one list shows.
pub const LIST_LIMIT: i64 = 300;

/// Purchase orders of a status: open ones by expected date (late first), others newest first.
pub fn list(
    conn: &mut PgConnection,
    status: ListStatus,
    today: NaiveDate,
) -> QueryResult<Vec<PurchaseOrderRow>> {
    let status_filter = match status {
        ListStatus::All => None,
        other => Some(other.as_str()),
    };
    diesel::sql_query(format!(
        "{ROWS_SQL}
          WHERE ($1::text IS NULL OR po.status = $1)
          GROUP BY po.id, s.name
          ORDER BY (po.status = 'open') DESC,
                   CASE WHEN po.status = 'open' THEN po.expected_on END ASC,
                   po.id DESC
          LIMIT $3"
    ))
    .bind::<Nullable<Text>, _>(status_filter)
    .bind::<Date, _>(today)
    .bind::<BigInt, _>(LIST_LIMIT)
    .load(conn)
}
