//! Everything the order page shows, loaded in one use case: the order and its lines, the
//! answer for each line in plain sentences (worst first), and the order's timeline.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Int4, Nullable, Text, Timestamptz};

use crate::db::models::MessageStatus;
use crate::domain::answer::{self, Delivery, EmailDelivery, LineAnswer, LineFacts, ToldDate};
use crate::error::AppResult;
use crate::services::inventory::alternatives::Offer;
use crate::services::inventory::swaps::SwapRecord;
use crate::services::orders::lookup::{self, LineDetail, OrderDetail};
use crate::services::orders::timeline::{self, TimelineEntry};

pub struct OrderPageData {
    pub order: OrderDetail,
    /// `(index into order.lines, its answer)`, delayed and at-risk lines first.
    pub answers: Vec<(usize, LineAnswer)>,
    pub timeline: Vec<TimelineEntry>,
    pub currency: String,
    /// When today's ETA update was queued, if one was (one a day).
    pub eta_update_today: Option<DateTime<Utc>>,
    /// Alternatives that ship sooner than a waiting line now (a rep may take one for the
    /// customer).
    pub offers: Vec<Offer>,
    /// Alternatives taken on this order, with their price differences to settle.
    pub swaps: Vec<SwapRecord>,
}

pub fn load(conn: &mut PgConnection, number: &str, today: NaiveDate) -> AppResult<OrderPageData> {
    let order = lookup::order_detail(conn, number)?;
    let facts = line_facts(conn, &order, today)?;
    let answers = answer::summarise(&facts, today);
    let timeline = timeline::order_timeline(conn, order.header.id, &order.header.number, today)?;
    let settings = crate::db::shop_settings::load(conn)?;
    let ctx = crate::services::engine::events::Ctx {
        actor: &crate::db::audit::Actor::System,
        today,
        settings: &settings,
    };
    let offers =
        crate::services::inventory::alternatives::offers(conn, &ctx, order.header.id, None)?;
    let swaps = crate::services::inventory::swaps::of_order(conn, order.header.id)?;
    let currency = settings.currency.clone();
    let eta_update_today = {
        use crate::db::schema::messages;
        messages::table
            .filter(messages::idempotency_key.eq(format!("eta-update:{}:{today}", order.header.id)))
            .select(messages::created_at)
            .first(conn)
            .optional()?
    };
    Ok(OrderPageData {
        order,
        answers,
        timeline,
        currency,
        eta_update_today,
        offers,
        swaps,
    })
}

#[derive(QueryableByName)]
struct DeliveryRow {
    #[diesel(sql_type = BigInt)]
    product_id: i64,
    #[diesel(sql_type = Int4)]
    units: i32,
    #[diesel(sql_type = Date)]
    expected_on: NaiveDate,
}

#[derive(QueryableByName)]
struct AheadRow {
    #[diesel(sql_type = BigInt)]
    line_id: i64,
    #[diesel(sql_type = BigInt)]
    units_ahead: i64,
}

#[derive(QueryableByName)]
struct ToldRow {
    #[diesel(sql_type = BigInt)]
    order_line_id: i64,
    #[diesel(sql_type = Date)]
    told_on: NaiveDate,
    #[diesel(sql_type = Timestamptz)]
    told_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<MessageStatus>,
    #[diesel(sql_type = Nullable<Text>)]
    kind: Option<String>,
}

/// The email as a rep calls it in a sentence.
fn email_words(kind: Option<&str>) -> String {
    match kind {
        Some("delay_notice") => "delay email".to_owned(),
        Some("backorder_notice") => "backorder email".to_owned(),
        Some("status_update") => "status update".to_owned(),
        Some("restock") => "reservation email".to_owned(),
        Some("shipment") => "shipment email".to_owned(),
        Some("cancellation") => "cancellation email".to_owned(),
        Some("discount_offer") => "discount email".to_owned(),
        Some("custom") => "rep's email".to_owned(),
        _ => "order email".to_owned(),
    }
}

/// The facts behind each line's answer: the deliveries booked for its product, the units
/// ahead of it in the queue (from the partial index of waiting lines), the last date each
/// line's customer was told (and by which email), and a pending date-change email.
fn line_facts(
    conn: &mut PgConnection,
    order: &OrderDetail,
    today: NaiveDate,
) -> AppResult<Vec<LineFacts>> {
    let waiting_products: Vec<i64> = order
        .lines
        .iter()
        .filter(|l| l.waiting() > 0)
        .map(|l| l.product_id)
        .collect();
    let mut deliveries: HashMap<i64, Vec<Delivery>> = HashMap::new();
    let mut ahead: HashMap<i64, i64> = HashMap::new();
    let mut told: HashMap<i64, ToldDate> = HashMap::new();
    let mut update_due = None;
    if !waiting_products.is_empty() {
        let rows: Vec<DeliveryRow> = crate::db::prepared::sql(
            "SELECT pl.product_id, (pl.qty_ordered - pl.qty_received) AS units, po.expected_on
               FROM purchase_order_lines pl JOIN purchase_orders po ON po.id = pl.purchase_order_id
              WHERE pl.product_id = ANY($1) AND po.status = 'open' AND pl.qty_received < pl.qty_ordered",
        )
        .bind::<Array<BigInt>, _>(&waiting_products)
        .load(conn)?;
        for row in rows {
            deliveries
                .entry(row.product_id)
                .or_default()
                .push(Delivery {
                    units: row.units.max(0) as u32,
                    expected_on: row.expected_on,
                });
        }
        let rows: Vec<AheadRow> = crate::db::prepared::sql(
            "SELECT l.id AS line_id,
                    (SELECT coalesce(sum(x.waiting), 0)::int8 FROM order_lines x
                      WHERE x.product_id = l.product_id AND x.waiting > 0
                        AND x.queue_position < l.queue_position) AS units_ahead
               FROM order_lines l WHERE l.order_id = $1 AND l.waiting > 0",
        )
        .bind::<BigInt, _>(order.header.id)
        .load(conn)?;
        ahead = rows
            .into_iter()
            .map(|r| (r.line_id, r.units_ahead))
            .collect();
        let rows: Vec<ToldRow> = crate::db::prepared::sql(
            "SELECT DISTINCT ON (t.order_line_id) t.order_line_id, t.told_on, t.told_at,
                    m.status, m.kind
               FROM order_lines l
               JOIN told_dates t ON t.order_line_id = l.id
               LEFT JOIN messages m ON m.id = t.message_id
              WHERE l.order_id = $1 AND l.waiting > 0
              ORDER BY t.order_line_id, t.id DESC",
        )
        .bind::<BigInt, _>(order.header.id)
        .load(conn)?;
        for row in rows {
            told.insert(
                row.order_line_id,
                ToldDate {
                    told: row.told_on,
                    queued_on: row.told_at.with_timezone(&chrono::Local).date_naive(),
                    delivery: match row.status {
                        Some(MessageStatus::Failed | MessageStatus::Dead) => EmailDelivery::Failed,
                        Some(MessageStatus::Queued | MessageStatus::Sending) => {
                            EmailDelivery::OnItsWay
                        }
                        Some(MessageStatus::Sent | MessageStatus::Withdrawn) | None => {
                            EmailDelivery::Sent
                        }
                    },
                    email: email_words(row.kind.as_deref()),
                },
            );
        }
        use crate::db::schema::eta_updates_pending as pending;
        update_due = pending::table
            .find(order.header.id)
            .select(pending::due_at)
            .first::<DateTime<Utc>>(conn)
            .optional()?
            .map(|due| due.with_timezone(&chrono::Local).date_naive());
    }
    Ok(order
        .lines
        .iter()
        .map(|line| facts_of(line, &deliveries, &ahead, &mut told, update_due, today))
        .collect())
}

fn facts_of(
    line: &LineDetail,
    deliveries: &HashMap<i64, Vec<Delivery>>,
    ahead: &HashMap<i64, i64>,
    told: &mut HashMap<i64, ToldDate>,
    update_due: Option<NaiveDate>,
    today: NaiveDate,
) -> LineFacts {
    let count = |n: i32| n.max(0) as u32;
    let lapses = line
        .lapses_on
        .filter(|lapses| line.eta_worst.is_none_or(|worst| *lapses < worst));
    let limit = line
        .wait_limit_on
        .filter(|until| line.eta_worst.unwrap_or(today) > *until);
    LineFacts {
        product: line.product_name.clone(),
        qty: count(line.qty),
        ready: count(line.allocated),
        shipped: count(line.shipped),
        cancelled: count(line.cancelled),
        waiting: count(line.waiting()),
        eta_worst: line.eta_worst,
        is_estimate: line.eta_is_estimate,
        promised_on: line.promised_on,
        position: line.queue_position.map(|p| p.max(1) as u32),
        units_ahead: ahead.get(&line.id).copied().unwrap_or(0).max(0) as u32,
        deliveries: deliveries
            .get(&line.product_id)
            .cloned()
            .unwrap_or_default(),
        told: told.remove(&line.id),
        update_due,
        authorization_lapses_on: if line.waiting() > 0 { lapses } else { None },
        wait_limit_passed: if line.waiting() > 0 { limit } else { None },
    }
}
