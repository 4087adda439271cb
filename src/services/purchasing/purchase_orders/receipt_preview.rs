//! The preview shown before a receipt is confirmed: the quantities checked and which
//! waiting lines the units would be released to.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::dates::products;
use super::detail::{LineRow, header, lines};
use crate::db::audit::Actor;
use crate::db::models::PoStatus;
use crate::db::shop_settings;
use crate::db::stock;
use crate::domain::{self, WaitingLine};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::engine::{self, Ctx};

/// Units to receive on a line of a purchase order, as entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveQuantity {
    pub line_id: i64,
    pub quantity: i32,
}

/// One waiting line a receipt would serve.
#[derive(Debug, Clone)]
pub struct Release {
    pub position: usize,
    pub order_number: String,
    pub customer_tier: i16,
    pub placed_at: DateTime<Utc>,
    pub units: i32,
    /// The line would wait for nothing more.
    pub complete: bool,
}

/// What receiving one line would do to its product's queue.
#[derive(Debug, Clone)]
pub struct ReleasePreview {
    pub line_id: i64,
    pub sku: String,
    pub quantity: i32,
    pub releases: Vec<Release>,
    /// Units that would stay on the shelf once the queue is served.
    pub left_on_shelf: u32,
    pub still_waiting_lines: i32,
}

pub struct ReceiptPreview {
    pub lines: Vec<ReleasePreview>,
    pub tier_first: bool,
}

/// Checks quantities against the order: each line belongs to it, at least one unit in
/// all, never more than outstanding.
pub(in crate::services::purchasing) fn checked_quantities(
    lines: &[LineRow],
    quantities: &[ReceiveQuantity],
    reference: &str,
) -> AppResult<Vec<(LineRow, i32)>> {
    let by_id: HashMap<i64, &LineRow> = lines.iter().map(|l| (l.id, l)).collect();
    let mut problems = Vec::new();
    let mut chosen = Vec::new();
    for q in quantities {
        let Some(line) = by_id.get(&q.line_id) else {
            problems.push(FieldError::new(
                format!("qty_{}", q.line_id),
                format!("that line is not on purchase order {reference}"),
            ));
            continue;
        };
        if q.quantity < 0 {
            problems.push(FieldError::new(
                format!("qty_{}", q.line_id),
                format!("{}: a quantity cannot be negative", line.sku),
            ));
        } else if q.quantity > line.outstanding() {
            problems.push(FieldError::new(
                format!("qty_{}", q.line_id),
                format!(
                    "{}: only {} units are outstanding on {reference}; {} cannot be received",
                    line.sku,
                    line.outstanding(),
                    q.quantity
                ),
            ));
        } else if q.quantity > 0 {
            chosen.push(((*line).clone(), q.quantity));
        }
    }
    if problems.is_empty() && chosen.is_empty() {
        problems.push(FieldError::new(
            "quantities",
            "enter how many units arrived on at least one line",
        ));
    }
    if problems.is_empty() {
        Ok(chosen)
    } else {
        Err(AppError::invalid_fields(problems))
    }
}

/// Which waiting lines the receipt would serve, in the shop's queue order, computed with
/// the engine's allocation on the current queue. Nothing is stored.
pub fn preview_receipt(
    conn: &mut PgConnection,
    reference: &str,
    quantities: &[ReceiveQuantity],
    today: NaiveDate,
) -> AppResult<ReceiptPreview> {
    let (row, _) = header(conn, reference, today)?;
    if row.status != PoStatus::Open {
        return Err(AppError::Conflict(format!(
            "purchase order {reference} is {}; nothing more can be received",
            row.status
        )));
    }
    let chosen = checked_quantities(&lines(conn, row.id)?, quantities, reference)?;
    let settings = shop_settings::load(conn)?;
    let ctx = Ctx {
        actor: &Actor::System,
        today,
        settings: &settings,
    };
    let mut previews = Vec::new();
    for (line, quantity) in chosen {
        let product = products(conn, &[line.product_id])?
            .pop()
            .ok_or_else(|| AppError::not_found("the product"))?;
        let queue = engine::queue(conn, product.id, &ctx.queue_policy())?;
        let waiting: Vec<WaitingLine> = queue
            .iter()
            .map(crate::db::stock::QueueRow::as_waiting)
            .collect();
        let free = (product.available() + quantity).max(0) as u32;
        let plan = domain::allocate_down_queue(free, &waiting);
        let position: HashMap<i64, usize> = queue
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id, i + 1))
            .collect();
        let by_id: HashMap<i64, &stock::QueueRow> = queue.iter().map(|l| (l.id, l)).collect();
        let releases: Vec<Release> = plan
            .allocations
            .iter()
            .filter_map(|a| {
                let waiting_line = by_id.get(&a.line_id)?;
                Some(Release {
                    position: position[&a.line_id],
                    order_number: waiting_line.order_number.clone(),
                    customer_tier: waiting_line.customer_tier,
                    placed_at: waiting_line.placed_at,
                    units: a.units as i32,
                    complete: a.units as i32 == waiting_line.waiting(),
                })
            })
            .collect();
        let completed = releases.iter().filter(|r| r.complete).count() as i32;
        previews.push(ReleasePreview {
            line_id: line.id,
            sku: line.sku.clone(),
            quantity,
            still_waiting_lines: product.waiting_lines - completed,
            releases,
            left_on_shelf: plan.left_available,
        });
    }
    Ok(ReceiptPreview {
        lines: previews,
        tier_first: settings.queue_tier_first,
    })
}
