//! Everything the order page shows, loaded in one use case: the order and its lines, the
//! answer for each line in plain sentences (worst first), and the order's timeline.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use serde::Deserialize;

use crate::db::models::MessageStatus;
use crate::db::prepared::json_rows;
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
    let facts: FactRows = crate::db::prepared::sql(include_str!("order_page_facts.sql"))
        .bind::<BigInt, _>(order.header.id)
        .bind::<Text, _>(format!("eta-update:{}:{today}", order.header.id))
        .get_result(conn)?;
    let swaps = json_rows(facts.swaps.as_deref())?;
    let eta_update_today = facts.eta_update_queued_at;
    let line_facts = line_facts(&order, facts, today)?;
    let answers = answer::summarise(&line_facts, today);
    let timeline = timeline::order_timeline(conn, order.header.id, &order.header.number, today)?;
    let settings = crate::db::shop_settings::load(conn)?;
    let ctx = crate::services::engine::events::Ctx {
        actor: &crate::db::audit::Actor::System,
        today,
        settings: &settings,
    };
    let offers =
        crate::services::inventory::alternatives::offers(conn, &ctx, order.header.id, None)?;
    let currency = settings.currency.clone();
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

/// `order_page_facts.sql`: the facts behind the answers, the swaps and today's ETA update
/// in one row.
#[derive(QueryableByName)]
struct FactRows {
    /// `DeliveryRow`s.
    #[diesel(sql_type = Nullable<Text>)]
    deliveries: Option<String>,
    /// `AheadRow`s.
    #[diesel(sql_type = Nullable<Text>)]
    ahead: Option<String>,
    /// `ToldRow`s.
    #[diesel(sql_type = Nullable<Text>)]
    told: Option<String>,
    /// When the pending date-change email is due (only while a line waits).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    update_due_at: Option<DateTime<Utc>>,
    /// `SwapRecord`s.
    #[diesel(sql_type = Nullable<Text>)]
    swaps: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    eta_update_queued_at: Option<DateTime<Utc>>,
}

/// An open delivery of a waiting line's product.
#[derive(Deserialize)]
struct DeliveryRow {
    product_id: i64,
    units: i32,
    expected_on: NaiveDate,
}

/// The units waiting ahead of one of the order's waiting lines.
#[derive(Deserialize)]
struct AheadRow {
    line_id: i64,
    units_ahead: i64,
}

/// The last date a waiting line's customer was told, and the email that said it.
#[derive(Deserialize)]
struct ToldRow {
    order_line_id: i64,
    told_on: NaiveDate,
    told_at: DateTime<Utc>,
    status: Option<MessageStatus>,
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
/// ahead of it in the queue, the last date each line's customer was told (and by which
/// email), and a pending date-change email.
fn line_facts(order: &OrderDetail, facts: FactRows, today: NaiveDate) -> AppResult<Vec<LineFacts>> {
    let mut deliveries: HashMap<i64, Vec<Delivery>> = HashMap::new();
    for row in json_rows::<DeliveryRow>(facts.deliveries.as_deref())? {
        deliveries
            .entry(row.product_id)
            .or_default()
            .push(Delivery {
                units: row.units.max(0) as u32,
                expected_on: row.expected_on,
            });
    }
    let ahead: HashMap<i64, i64> = json_rows::<AheadRow>(facts.ahead.as_deref())?
        .into_iter()
        .map(|r| (r.line_id, r.units_ahead))
        .collect();
    let mut told: HashMap<i64, ToldDate> = HashMap::new();
    for row in json_rows::<ToldRow>(facts.told.as_deref())? {
        told.insert(
            row.order_line_id,
            ToldDate {
                told: row.told_on,
                queued_on: row.told_at.with_timezone(&chrono::Local).date_naive(),
                delivery: match row.status {
                    Some(MessageStatus::Failed | MessageStatus::Dead) => EmailDelivery::Failed,
                    Some(MessageStatus::Queued | MessageStatus::Sending) => EmailDelivery::OnItsWay,
                    Some(MessageStatus::Sent | MessageStatus::Withdrawn) | None => {
                        EmailDelivery::Sent
                    }
                },
                email: email_words(row.kind.as_deref()),
            },
        );
    }
    let update_due = facts
        .update_due_at
        .map(|due| due.with_timezone(&chrono::Local).date_naive());
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
