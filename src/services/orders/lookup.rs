//! "When will it ship?": finding an order by number, email or name, and everything the
//! order page shows about it.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz};
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::models::{OrderLine, ProposalStatus};
use crate::db::schema::{
    discount_proposals, notes, order_line_eta_changes, order_lines, orders, products,
};
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
#[derive(Debug, Clone, Queryable)]
pub struct LineDetail {
    pub line: OrderLine,
    pub sku: String,
    pub product_name: String,
    /// The product's pre-order release day, if it is a pre-order.
    pub preorder_release_on: Option<NaiveDate>,
    /// Units moved to an alternative (counted in `cancelled`).
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

#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = order_line_eta_changes)]
pub struct EtaChange {
    pub order_line_id: i64,
    pub eta_likely: Option<NaiveDate>,
    pub eta_worst: Option<NaiveDate>,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct NoteRow {
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub author: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct ShipmentRow {
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    pub is_partial: bool,
    #[diesel(sql_type = Text)]
    pub contents: String,
}

#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = discount_proposals)]
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
    pub shipments: Vec<ShipmentRow>,
}

pub fn order_detail(conn: &mut PgConnection, number: &str) -> AppResult<OrderDetail> {
    let header: OrderHeader = crate::db::prepared::sql(
        "SELECT o.id, o.number, o.placed_at, o.payment_state, o.payment_authorized_until, o.max_wait_until,
                c.name AS customer_name, c.email AS customer_email, c.tier AS customer_tier,
                (SELECT count(*) FROM orders x WHERE x.customer_id = c.id) AS customer_orders
           FROM orders o JOIN customers c ON c.id = o.customer_id
          WHERE o.number = $1",
    )
    .bind::<Text, _>(number)
    .get_result(conn)
    .optional()?
    .ok_or_else(|| AppError::NotFound(format!("order {}", crate::types::truncate(number))))?;
    let lines = order_lines::table
        .inner_join(products::table)
        .filter(order_lines::order_id.eq(header.id))
        .order(order_lines::id)
        .select((
            OrderLine::as_select(),
            products::sku,
            products::name,
            products::preorder_release_on,
            diesel::dsl::sql::<Int4>(
                "(SELECT coalesce(sum(s.units), 0)::int4 FROM swaps s WHERE s.from_line_id = order_lines.id)",
            ),
        ))
        .load(conn)?;
    let eta_changes = crate::db::prepared::sql(
        "SELECT h.order_line_id, h.eta_likely, h.eta_worst, h.changed_at
           FROM order_line_eta_changes h JOIN order_lines l ON l.id = h.order_line_id
          WHERE l.order_id = $1 ORDER BY h.id",
    )
    .bind::<BigInt, _>(header.id)
    .load(conn)?;
    let notes = crate::db::prepared::sql(
        "SELECT n.body, u.name AS author, n.created_at FROM notes n LEFT JOIN users u ON u.id = n.user_id
          WHERE n.order_id = $1 ORDER BY n.id DESC",
    )
    .bind::<BigInt, _>(header.id)
    .load(conn)?;
    let shipments = crate::db::prepared::sql(
        "SELECT s.created_at, s.is_partial,
                string_agg(sl.quantity || ' × ' || p.sku, ', ' ORDER BY sl.id) AS contents
           FROM shipments s
           JOIN shipment_lines sl ON sl.shipment_id = s.id
           JOIN order_lines l ON l.id = sl.order_line_id
           JOIN products p ON p.id = l.product_id
          WHERE s.order_id = $1 GROUP BY s.id ORDER BY s.id",
    )
    .bind::<BigInt, _>(header.id)
    .load(conn)?;
    let proposals = crate::db::prepared::sql(
        "SELECT kind, value, status, reason, coupon_code, decision_note FROM discount_proposals
          WHERE order_id = $1 ORDER BY id DESC",
    )
    .bind::<BigInt, _>(header.id)
    .load(conn)?;
    Ok(OrderDetail {
        header,
        proposals,
        lines,
        eta_changes,
        notes,
        shipments,
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
