//! "When will it ship?": finding an order by number, email or name, and everything the
//! order page shows about it.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text};
use serde::Deserialize;
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::models::{OrderLine, ProposalStatus};
use crate::db::prepared::json_rows;
use crate::db::schema::{notes, orders};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = orders)]
pub struct OrderHeader {
    pub id: i64,
    pub number: String,
    pub placed_at: DateTime<Utc>,
    pub payment_state: String,
    pub payment_authorized_until: Option<NaiveDate>,
    pub max_wait_until: Option<NaiveDate>,
    #[diesel(sql_type = Text)]
    pub customer_name: String,
    #[diesel(sql_type = Text)]
    pub customer_email: String,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    pub customer_tier: i16,
    #[diesel(sql_type = BigInt)]
    pub customer_orders: i64,
}

/// A line of the order page: the order-line read model with its product's SKU, name and
/// pre-order release day.
#[derive(Debug, Clone, QueryableByName)]
pub struct LineDetail {
    #[diesel(embed)]
    pub line: OrderLine,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub product_name: String,
    /// The product's pre-order release day, if it is a pre-order.
    #[diesel(sql_type = Nullable<diesel::sql_types::Date>)]
    pub preorder_release_on: Option<NaiveDate>,
    /// Units moved to an alternative (counted in `cancelled`).
    #[diesel(sql_type = Int4)]
    pub swapped: i32,
}

/// An order-page line reads as its order line (`line.qty`, `line.eta_worst`).
impl std::ops::Deref for LineDetail {
    type Target = OrderLine;

    fn deref(&self) -> &OrderLine {
        &self.line
    }
}

impl LineDetail {
    /// The release day of a pre-order line still before release on `today`.
    pub fn preorder_until(&self, today: &NaiveDate) -> Option<NaiveDate> {
        self.preorder_release_on.filter(|release| release > today)
    }

    pub fn waiting(&self) -> i32 {
        self.qty - self.allocated - self.shipped - self.cancelled
    }
}

/// A change of one line's dates, for the line's history on the order page.
#[derive(Debug, Clone, Deserialize)]
pub struct EtaChange {
    pub order_line_id: i64,
    pub eta_likely: Option<NaiveDate>,
    pub eta_worst: Option<NaiveDate>,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NoteRow {
    pub body: String,
    pub author: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderProposal {
    pub kind: String,
    pub value: i32,
    pub status: ProposalStatus,
    pub reason: String,
    pub coupon_code: Option<String>,
    pub decision_note: Option<String>,
}

pub struct OrderDetail {
    pub header: OrderHeader,
    pub proposals: Vec<OrderProposal>,
    pub lines: Vec<LineDetail>,
    pub eta_changes: Vec<EtaChange>,
    pub notes: Vec<NoteRow>,
}

/// The order's header row with its proposals, date changes and notes as JSON arrays
/// (`order_detail.sql`).
#[derive(QueryableByName)]
struct HeaderWithLists {
    #[diesel(embed)]
    header: OrderHeader,
    #[diesel(sql_type = Nullable<Text>)]
    proposals: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    eta_changes: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    notes: Option<String>,
}

/// The order's lines in order, each with its product and the units swapped away
/// (`LineDetail`).
const ORDER_LINES_SQL: &str = "SELECT l.*, p.sku, p.name AS product_name, p.preorder_release_on,
        (SELECT coalesce(sum(s.units), 0)::int4 FROM swaps s WHERE s.from_line_id = l.id) AS swapped
   FROM order_lines l JOIN products p ON p.id = l.product_id
  WHERE l.order_id = $1 ORDER BY l.id";

/// Everything the order page shows about order `number` but its answers and timeline:
/// two round trips (the order with its small lists, then its lines).
pub fn order_detail(conn: &mut PgConnection, number: &str) -> AppResult<OrderDetail> {
    let found: HeaderWithLists = crate::db::prepared::sql(include_str!("order_detail.sql"))
        .bind::<Text, _>(number)
        .get_result(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("order {}", crate::types::truncate(number))))?;
    let header = found.header;
    let lines = crate::db::prepared::sql(ORDER_LINES_SQL)
        .bind::<BigInt, _>(header.id)
        .load(conn)?;
    Ok(OrderDetail {
        proposals: json_rows(found.proposals.as_deref())?,
        eta_changes: json_rows(found.eta_changes.as_deref())?,
        notes: json_rows(found.notes.as_deref())?,
        header,
        lines,
    })
}

/// A rep's note on an order.
pub fn add_note(conn: &mut PgConnection, actor: &Actor, number: &str, body: &str) -> AppResult<()> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 5000 {
        return Err(AppError::invalid(
            "body",
            "write a note of 1 to 5000 characters",
        ));
    }
    conn.transaction(|conn| {
        let order_id = crate::services::orders::order_actions::order_id(conn, number)?;
        let user_id = match actor {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        };
        diesel::insert_into(notes::table)
            .values((
                notes::order_id.eq(order_id),
                notes::user_id.eq(user_id),
                notes::body.eq(body),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "note_added",
            "order",
            Some(number.to_owned()),
            None,
            Some(json!({ "note": body })),
        )?;
        Ok(())
    })
}
