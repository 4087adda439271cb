//! Receiving a purchase order, from the API (SKUs and units, with an idempotency key) and
//! from its page (quantities per line, keyed by the form): stock goes up, the queue is
//! filled in order, ETAs recompute. Both go through one transaction, lock, repeat check and
//! status check.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use super::purchase_orders::{self, ReceiveQuantity};
use super::{
    AllocatedUnits, Outcome, ReceiptLine, ReceiptView, ReceivedUnits, lock_reference, receipt_view,
};
use crate::db::audit::{self, Actor};
use crate::db::models::{MovementReason, PoStatus};
use crate::db::schema;
use crate::db::schema::{products, purchase_order_lines, purchase_order_receipts, receipt_lines};
use crate::db::shop_settings;
use crate::db::stock::{self, NewMovement};
use crate::domain::EtaCause;
use crate::error::{AppError, AppResult, FieldError};
use crate::services::engine::{self, Ctx};

/// Receives units of a purchase order: stock goes up, the queue is filled in order, ETAs
/// recompute. With an idempotency key, the same receipt sent again is received once.
pub fn receive(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    lines: Vec<ReceiptLine>,
    idempotency_key: Option<String>,
    today: NaiveDate,
) -> AppResult<Outcome<ReceiptView>> {
    receive_in(
        conn,
        actor,
        reference,
        Entered::Skus(lines),
        idempotency_key,
        today,
    )
}

/// Receives the quantities entered on the purchase order's page. `receipt_key` comes from
/// the form, so the same form posted twice is received once.
pub fn receive_entered(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    quantities: &[ReceiveQuantity],
    receipt_key: &str,
    today: NaiveDate,
) -> AppResult<()> {
    let key = format!("web:{receipt_key}");
    receive_in(
        conn,
        actor,
        reference,
        Entered::Page(quantities),
        Some(key),
        today,
    )?;
    Ok(())
}

/// What a receipt names: SKUs and units, or quantities per line of the page's form.
enum Entered<'a> {
    /// From the API, the seed and the tests: a repeated key must bring the same receipt.
    Skus(Vec<ReceiptLine>),
    /// From the page: the key is the form's, so a repeat is the same form.
    Page(&'a [ReceiveQuantity]),
}

/// The one receiving path: in one transaction under the purchase order's lock, a repeated
/// key answers with the stored receipt, a purchase order that is not open refuses, and
/// the units are checked against what is outstanding before anything is stored.
fn receive_in(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    entered: Entered<'_>,
    idempotency_key: Option<String>,
    today: NaiveDate,
) -> AppResult<Outcome<ReceiptView>> {
    conn.transaction(|conn| {
        lock_reference(conn, reference)?;
        if let Some(key) = &idempotency_key {
            let stored: Option<i64> = purchase_order_receipts::table
                .filter(purchase_order_receipts::idempotency_key.eq(key))
                .select(purchase_order_receipts::id)
                .first(conn)
                .optional()?;
            if let Some(receipt_id) = stored {
                // Only the same receipt again is a repeat; answering another with it would
                // leave that one's units unreceived.
                let view = receipt_view(conn, receipt_id)?;
                let Entered::Skus(lines) = &entered else {
                    return Ok(Outcome::AlreadyStored(view));
                };
                let mut asked: Vec<(&str, i32)> =
                    lines.iter().map(|l| (l.sku.as_str(), l.quantity)).collect();
                let mut stored: Vec<(&str, i32)> =
                    view.received.iter().map(|r| (r.sku.as_str(), r.quantity)).collect();
                asked.sort_unstable();
                stored.sort_unstable();
                if view.reference != reference || asked != stored {
                    return Err(AppError::Conflict(format!(
                        "this Idempotency-Key was used for another receipt (of {}); \
                         send a new key for a new delivery",
                        view.reference
                    )));
                }
                return Ok(Outcome::AlreadyStored(view));
            }
        }
        let (po_id, status, expected_on): (i64, PoStatus, NaiveDate) = schema::purchase_orders::table
            .filter(schema::purchase_orders::reference.eq(reference))
            .for_update()
            .select((schema::purchase_orders::id, schema::purchase_orders::status, schema::purchase_orders::expected_on))
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::NotFound(format!("purchase order {}", crate::types::truncate(reference))))?;
        if status != PoStatus::Open {
            return Err(AppError::Conflict(format!("purchase order {reference} is {status}; nothing more can be received")));
        }
        let lines = match entered {
            Entered::Skus(lines) => lines,
            Entered::Page(quantities) => page_lines(conn, po_id, reference, quantities)?,
        };
        let po_lines: HashMap<String, (i64, i64, i32)> = purchase_order_lines::table
            .inner_join(products::table)
            .filter(purchase_order_lines::purchase_order_id.eq(po_id))
            .select((products::sku, purchase_order_lines::id, products::id, purchase_order_lines::qty_ordered - purchase_order_lines::qty_received))
            .load::<(String, i64, i64, i32)>(conn)?
            .into_iter()
            .map(|(sku, line_id, product_id, outstanding)| (sku, (line_id, product_id, outstanding)))
            .collect();
        let mut problems = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            match po_lines.get(line.sku.as_str()) {
                None => problems.push(FieldError::new(format!("lines[{i}].sku"), format!("{} is not on purchase order {reference}", line.sku))),
                Some((_, _, outstanding)) if line.quantity > *outstanding => problems.push(FieldError::new(
                    format!("lines[{i}].quantity"),
                    format!("only {outstanding} units of {} are outstanding on {reference}; {} cannot be received", line.sku, line.quantity),
                )),
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            return Err(AppError::invalid_fields(problems));
        }

        let settings = shop_settings::load(conn)?;
        let ctx = Ctx { actor, today, settings: &settings };
        let receipt_id: i64 = diesel::insert_into(purchase_order_receipts::table)
            .values((
                purchase_order_receipts::purchase_order_id.eq(po_id),
                purchase_order_receipts::idempotency_key.eq(&idempotency_key),
                purchase_order_receipts::received_on.eq(today),
                purchase_order_receipts::expected_on.eq(expected_on),
                purchase_order_receipts::created_by.eq(ctx.user_id()),
            ))
            .returning(purchase_order_receipts::id)
            .get_result(conn)?;
        let receipt_reference = super::receipt_reference(reference, receipt_id);
        for line in &lines {
            let (po_line_id, _, _) = po_lines[line.sku.as_str()];
            diesel::insert_into(receipt_lines::table)
                .values((receipt_lines::receipt_id.eq(receipt_id), receipt_lines::purchase_order_line_id.eq(po_line_id), receipt_lines::quantity.eq(line.quantity)))
                .execute(conn)?;
            diesel::update(purchase_order_lines::table.find(po_line_id))
                .set(purchase_order_lines::qty_received.eq(purchase_order_lines::qty_received + line.quantity))
                .execute(conn)?;
        }
        let all_received: bool = purchase_order_lines::table
            .filter(purchase_order_lines::purchase_order_id.eq(po_id))
            .filter(purchase_order_lines::qty_received.lt(purchase_order_lines::qty_ordered))
            .count()
            .get_result::<i64>(conn)?
            == 0;
        if all_received {
            diesel::update(schema::purchase_orders::table.find(po_id))
                .set((schema::purchase_orders::status.eq(PoStatus::Received), schema::purchase_orders::received_on.eq(today)))
                .execute(conn)?;
        }

        let product_ids: Vec<i64> = lines.iter().map(|l| po_lines[l.sku.as_str()].1).collect();
        let mut effects = engine::EtaEffects::default();
        let mut allocated = Vec::new();
        for mut product in stock::lock_products(conn, &product_ids)? {
            let units: i32 = lines.iter().filter(|l| l.sku.as_str() == product.sku).map(|l| l.quantity).sum();
            engine::change_product(conn, &mut product, units, 0, 0, 0)?;
            stock::record_movements(
                conn,
                &[NewMovement {
                    product_id: product.id,
                    reason: MovementReason::Receipt,
                    on_hand_delta: units,
                    allocated_delta: 0,
                    reference: Some(receipt_reference.clone()),
                    note: None,
                    order_line_id: None,
                    user_id: ctx.user_id(),
                }],
            )?;
            let restocked = engine::fill_queue(conn, &ctx, &mut product, Some(&receipt_reference))?;
            let filled = crate::services::engine::notify::restocked(conn, &ctx, &product, restocked)?;
            allocated.extend(filled.into_iter().map(|f| AllocatedUnits {
                order: f.order_number,
                sku: product.sku.clone(),
                quantity: f.units,
            }));
            // A receipt that leaves units of the product outstanding came short: lines
            // waiting on those units now wait on an overdue remainder.
            let outstanding = lines.iter().find(|l| l.sku.as_str() == product.sku).map_or(0, |l| po_lines[l.sku.as_str()].2);
            let cause = if units < outstanding {
                EtaCause::ReceiptShort { reference: reference.to_owned() }
            } else {
                EtaCause::SupplyChanged
            };
            if product.waiting_lines > 0 {
                effects.extend(engine::refresh_etas(conn, &ctx, &product, &cause)?);
            }
        }
        crate::services::engine::notify::eta_changes(conn, &ctx, effects)?;
        // The answer from what was just done, not read back from the ledger (what
        // `receipt_view` reads for a repeat: the same rows, in the same order).
        let view = ReceiptView {
            reference: reference.to_owned(),
            status: if all_received { PoStatus::Received } else { PoStatus::Open }.to_string(),
            received_on: today,
            received: lines.iter().map(|l| ReceivedUnits { sku: l.sku.as_str().to_owned(), quantity: l.quantity }).collect(),
            allocated,
        };
        // The audit keeps what was received and how far it went; the allocations line by
        // line are in the ledger under the receipt's reference (10,000 of them would make
        // a 600 kB audit row).
        let after = serde_json::json!({
            "reference": view.reference,
            "receipt": receipt_reference,
            "status": view.status,
            "received_on": view.received_on,
            "received": view.received,
            "allocated_units": view.allocated.iter().map(|a| i64::from(a.quantity)).sum::<i64>(),
            "allocated_lines": view.allocated.len(),
        });
        audit::record(conn, actor, "purchase_order_received", "purchase_order", Some(reference.to_owned()), None, Some(after))?;
        Ok(Outcome::Created(view))
    })
}

/// The page's quantities as receipt lines: each line on this purchase order, none
/// negative or above what is outstanding, at least one unit in all.
fn page_lines(
    conn: &mut PgConnection,
    po_id: i64,
    reference: &str,
    quantities: &[ReceiveQuantity],
) -> AppResult<Vec<ReceiptLine>> {
    let chosen = purchase_orders::checked_quantities(
        &purchase_orders::lines(conn, po_id)?,
        quantities,
        reference,
    )?;
    chosen
        .into_iter()
        .map(|(line, quantity)| {
            Ok(ReceiptLine {
                sku: crate::types::Sku::parse(&line.sku)
                    .map_err(|e| anyhow::anyhow!("stored SKU {:?}: {e}", line.sku))?,
                quantity,
            })
        })
        .collect()
}
