//! Shipping what is allocated (DESIGN §4.4) and cancelling lines (§4.5), each one
//! transaction under the locks of the products it touches.

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::models::{MovementReason, WaitEnd};
use crate::db::schema::{order_lines, orders, products, shipment_lines, shipments};
use crate::db::shop_settings;
use crate::db::stock::{self, NewMovement};
use crate::domain::{LineUnits, Quantity};
use crate::error::{AppError, AppResult};
use crate::services::engine::{self, Ctx};

#[derive(Debug, Clone, Serialize)]
pub struct ShipmentView {
    pub order: String,
    pub is_partial: bool,
    pub lines: Vec<(String, i32)>,
}

#[derive(Debug, Clone, Copy, Queryable)]
struct LineRow {
    id: i64,
    order_id: i64,
    product_id: i64,
    qty: i32,
    allocated: i32,
    shipped: i32,
    cancelled: i32,
}

impl LineRow {
    fn units(&self) -> LineUnits {
        LineUnits {
            quantity: self.qty as u32,
            allocated: self.allocated as u32,
            shipped: self.shipped as u32,
            cancelled: self.cancelled as u32,
        }
    }

    fn waiting(&self) -> i32 {
        self.qty - self.allocated - self.shipped - self.cancelled
    }
}

fn lock_lines(conn: &mut PgConnection, order_id: i64) -> QueryResult<Vec<LineRow>> {
    order_lines::table
        .filter(order_lines::order_id.eq(order_id))
        .order(order_lines::id)
        .for_update()
        .select((
            order_lines::id,
            order_lines::order_id,
            order_lines::product_id,
            order_lines::qty,
            order_lines::allocated,
            order_lines::shipped,
            order_lines::cancelled,
        ))
        .load(conn)
}

fn order_id(conn: &mut PgConnection, number: &str) -> AppResult<i64> {
    orders::table
        .filter(orders::number.eq(number))
        .select(orders::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("order {}", crate::types::truncate(number))))
}

/// Sets the payment state from what has shipped and what was cancelled: captured per
/// shipment, voided when nothing will ship.
fn update_payment_state(conn: &mut PgConnection, order_id: i64) -> QueryResult<()> {
    crate::db::prepared::sql(
        "UPDATE orders o SET payment_state = CASE
             WHEN t.shipped = 0 AND t.cancelled = t.qty THEN 'voided'
             WHEN t.shipped > 0 AND t.shipped + t.cancelled = t.qty THEN 'captured'
             WHEN t.shipped > 0 THEN 'partially_captured'
             ELSE 'authorized' END
           FROM (SELECT sum(qty) AS qty, sum(shipped) AS shipped, sum(cancelled) AS cancelled
                   FROM order_lines WHERE order_id = $1) t
          WHERE o.id = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(order_id)
    .execute(conn)?;
    Ok(())
}

/// Ships everything allocated on the order; what still waits stays queued, and no extra
/// shipping charge is recorded for the split.
pub fn ship_allocated(
    conn: &mut PgConnection,
    actor: &Actor,
    number: &str,
    today: NaiveDate,
) -> AppResult<ShipmentView> {
    conn.transaction(|conn| {
        let order_id = order_id(conn, number)?;
        let product_ids: Vec<i64> = order_lines::table
            .filter(order_lines::order_id.eq(order_id))
            .select(order_lines::product_id)
            .load(conn)?;
        // Products first, then lines: the same order as every other event.
        let mut locked = stock::lock_products(conn, &product_ids)?;
        let lines = lock_lines(conn, order_id)?;
        let to_ship: Vec<(LineRow, i32)> = lines
            .iter()
            .map(|l| (*l, l.units().ship_allocated().1 as i32))
            .filter(|(_, n)| *n > 0)
            .collect();
        if to_ship.is_empty() {
            return Err(AppError::Conflict(format!(
                "order {number} has nothing allocated to ship yet"
            )));
        }
        let is_partial = lines.iter().any(|l| l.waiting() > 0);
        let shipment_id: i64 = diesel::insert_into(shipments::table)
            .values((
                shipments::order_id.eq(order_id),
                shipments::is_partial.eq(is_partial),
                shipments::created_by.eq(match actor {
                    Actor::User { id, .. } => Some(*id),
                    _ => None,
                }),
            ))
            .returning(shipments::id)
            .get_result(conn)?;
        let mut shipped_view = Vec::new();
        let mut movements = Vec::new();
        for (line, units) in &to_ship {
            diesel::insert_into(shipment_lines::table)
                .values((
                    shipment_lines::shipment_id.eq(shipment_id),
                    shipment_lines::order_line_id.eq(line.id),
                    shipment_lines::quantity.eq(units),
                ))
                .execute(conn)?;
            let done = line.shipped + units + line.cancelled == line.qty;
            diesel::update(order_lines::table.find(line.id))
                .set((
                    order_lines::allocated.eq(order_lines::allocated - units),
                    order_lines::shipped.eq(order_lines::shipped + units),
                    done.then(|| order_lines::completed_at.eq(Some(Utc::now()))),
                ))
                .execute(conn)?;
            let product = locked
                .iter_mut()
                .find(|p| p.id == line.product_id)
                .ok_or_else(|| AppError::not_found("the product"))?;
            engine::change_product(conn, product, -units, -units, 0, 0)?;
            movements.push(NewMovement {
                product_id: product.id,
                reason: MovementReason::Shipment,
                on_hand_delta: -units,
                allocated_delta: -units,
                reference: Some(number.to_owned()),
                note: None,
                order_line_id: Some(line.id),
                user_id: match actor {
                    Actor::User { id, .. } => Some(*id),
                    _ => None,
                },
            });
            shipped_view.push((product.sku.clone(), *units));
        }
        stock::record_movements(conn, &movements)?;
        update_payment_state(conn, order_id)?;
        let shipped: Vec<(i64, i32)> = to_ship.iter().map(|(l, n)| (l.id, *n)).collect();
        crate::services::messages::triggers::queue_shipment(
            conn,
            actor,
            today,
            order_id,
            shipment_id,
            is_partial,
            &shipped,
        )?;
        let view = ShipmentView {
            order: number.to_owned(),
            is_partial,
            lines: shipped_view,
        };
        audit::record(
            conn,
            actor,
            "order_shipped",
            "order",
            Some(number.to_owned()),
            None,
            serde_json::to_value(&view).ok(),
        )?;
        // A discount proposal for an order now shipped in full is withdrawn, with why.
        crate::services::approvals::proposals::withdraw_if_finished(conn, actor, &[order_id])?;
        Ok(view)
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct CancellationView {
    pub order: String,
    pub sku: String,
    pub cancelled: i32,
    pub released: i32,
}

/// Cancels `units` of a line (all that is open when `None`). Waiting units go first;
/// released allocated units go to the next in the product's queue.
pub fn cancel_line(
    conn: &mut PgConnection,
    actor: &Actor,
    line_id: i64,
    units: Option<i32>,
    reason: &str,
    today: NaiveDate,
) -> AppResult<CancellationView> {
    conn.transaction(|conn| {
        let product_id: i64 = order_lines::table
            .find(line_id)
            .select(order_lines::product_id)
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("the order line"))?;
        let mut product = stock::lock_products(conn, &[product_id])?
            .pop()
            .ok_or_else(|| AppError::not_found("the product"))?;
        let line: LineRow = order_lines::table
            .find(line_id)
            .for_update()
            .select((
                order_lines::id,
                order_lines::order_id,
                order_lines::product_id,
                order_lines::qty,
                order_lines::allocated,
                order_lines::shipped,
                order_lines::cancelled,
            ))
            .first(conn)?;
        let before = line.units();
        let asked = units.unwrap_or(before.open() as i32);
        if asked <= 0 {
            return Err(AppError::Conflict(
                "nothing on this line is left to cancel".to_owned(),
            ));
        }
        let quantity =
            Quantity::new(asked as u32).map_err(|e| AppError::invalid("units", e.to_string()))?;
        let outcome = before
            .cancel(quantity)
            .map_err(|e| AppError::invalid("units", e.to_string()))?;
        let released = outcome.released as i32;
        let waiting_cancelled = asked - released;
        let still_waits = outcome.line.waiting() > 0;
        let done = outcome.line.open() == 0;
        diesel::update(order_lines::table.find(line_id))
            .set((
                order_lines::cancelled.eq(outcome.line.cancelled as i32),
                order_lines::allocated.eq(outcome.line.allocated as i32),
                done.then(|| order_lines::completed_at.eq(Some(Utc::now()))),
                (before.waiting() > 0 && !still_waits).then(|| {
                    (
                        order_lines::waiting_ended_at.eq(Some(Utc::now())),
                        order_lines::waiting_ended_by.eq(Some(WaitEnd::Cancelled)),
                    )
                }),
            ))
            .execute(conn)?;
        let lines_delta = if before.waiting() > 0 && !still_waits {
            -1
        } else {
            0
        };
        engine::change_product(
            conn,
            &mut product,
            0,
            -released,
            -waiting_cancelled,
            lines_delta,
        )?;
        let number: String = orders::table
            .find(line.order_id)
            .select(orders::number)
            .first(conn)?;
        if released > 0 {
            stock::record_movements(
                conn,
                &[NewMovement {
                    product_id: product.id,
                    reason: MovementReason::Release,
                    on_hand_delta: 0,
                    allocated_delta: -released,
                    reference: Some(number.clone()),
                    note: Some(reason.to_owned()),
                    order_line_id: Some(line_id),
                    user_id: match actor {
                        Actor::User { id, .. } => Some(*id),
                        _ => None,
                    },
                }],
            )?;
        }
        let settings = shop_settings::load(conn)?;
        let ctx = Ctx {
            actor,
            today,
            settings: &settings,
        };
        let restocked = engine::fill_queue(
            conn,
            &ctx,
            &mut product,
            Some(&format!("released from {number}")),
        )?;
        crate::services::engine::notify::restocked(conn, &ctx, &product, restocked)?;
        if product.waiting_lines > 0 {
            let effects =
                engine::refresh_etas(conn, &ctx, &product, &crate::domain::EtaCause::QueueAhead)?;
            crate::services::engine::notify::eta_changes(conn, &ctx, effects)?;
        }
        update_payment_state(conn, line.order_id)?;
        crate::services::messages::triggers::queue_cancellation(
            conn,
            actor,
            today,
            line.order_id,
            line_id,
            asked,
            outcome.line.cancelled as i32,
        )?;
        let sku: String = products::table
            .find(product_id)
            .select(products::sku)
            .first(conn)?;
        let view = CancellationView {
            order: number.clone(),
            sku,
            cancelled: asked,
            released,
        };
        audit::record(
            conn,
            actor,
            "order_line_cancelled",
            "order",
            Some(number),
            None,
            Some(
                json!({ "line": line_id, "units": asked, "released": released, "reason": reason }),
            ),
        )?;
        // Likewise for an order with nothing left to ship after this cancellation.
        crate::services::approvals::proposals::withdraw_if_finished(conn, actor, &[line.order_id])?;
        Ok(view)
    })
}
