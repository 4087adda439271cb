//! Purchase orders: creating them, changing their expected date, receiving them (which
//! allocates down each product's queue) and cancelling them.

pub mod purchase_orders;
pub mod receive;
pub mod reorder;
pub mod sourcing;
pub mod supplier_loop;

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde::Serialize;

use crate::db::audit::{self, Actor};
use crate::db::models::MovementReason;
use crate::db::schema;
use crate::db::schema::{
    products, purchase_order_date_changes, purchase_order_lines, purchase_order_receipts,
    receipt_lines, stock_movements, suppliers,
};
use crate::db::shop_settings;
use crate::db::stock;
use crate::domain::EtaCause;
use crate::error::{AppError, AppResult, FieldError};
use crate::services::engine::{self, Ctx};
use crate::services::inventory::catalog;
use crate::services::purchasing::reorder::Suggestion;
use crate::types::{Reference, Sku};

pub struct NewPurchaseOrder {
    pub reference: Reference,
    pub supplier: String,
    pub expected_on: NaiveDate,
    pub lines: Vec<(Sku, i32)>,
}

pub struct ReceiptLine {
    pub sku: Sku,
    pub quantity: i32,
}

/// A request that may have been made before (same reference, same idempotency key).
pub enum Outcome<T> {
    Created(T),
    AlreadyStored(T),
}

/// A purchase order as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PurchaseOrderView {
    pub reference: String,
    pub supplier: String,
    pub status: String,
    pub expected_on: NaiveDate,
    pub lines: Vec<PurchaseOrderLineView>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PurchaseOrderLineView {
    pub sku: String,
    pub quantity: i32,
    pub received: i32,
}

/// What a receipt took in and which waiting orders it served.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceiptView {
    pub reference: String,
    pub status: String,
    pub received_on: NaiveDate,
    pub received: Vec<ReceivedUnits>,
    /// What the receipt gave to waiting orders, in queue order.
    pub allocated: Vec<AllocatedUnits>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceivedUnits {
    pub sku: String,
    pub quantity: i32,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AllocatedUnits {
    pub order: String,
    pub sku: String,
    pub quantity: i32,
}

pub fn purchase_order_view(
    conn: &mut PgConnection,
    reference: &str,
) -> AppResult<Option<PurchaseOrderView>> {
    let Some((po_id, supplier, status, expected_on)) = schema::purchase_orders::table
        .inner_join(suppliers::table)
        .filter(schema::purchase_orders::reference.eq(reference))
        .select((
            schema::purchase_orders::id,
            suppliers::name,
            schema::purchase_orders::status,
            schema::purchase_orders::expected_on,
        ))
        .first::<(i64, String, String, NaiveDate)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let lines = purchase_order_lines::table
        .inner_join(products::table)
        .filter(purchase_order_lines::purchase_order_id.eq(po_id))
        .order(purchase_order_lines::id)
        .select((
            products::sku,
            purchase_order_lines::qty_ordered,
            purchase_order_lines::qty_received,
        ))
        .load::<(String, i32, i32)>(conn)?
        .into_iter()
        .map(|(sku, quantity, received)| PurchaseOrderLineView {
            sku,
            quantity,
            received,
        })
        .collect();
    Ok(Some(PurchaseOrderView {
        reference: reference.to_owned(),
        supplier,
        status,
        expected_on,
        lines,
    }))
}

pub(super) fn lock_reference(conn: &mut PgConnection, reference: &str) -> QueryResult<()> {
    crate::db::prepared::sql("SELECT pg_advisory_xact_lock(hashtext('po:' || $1)::int8)")
        .bind::<Text, _>(reference)
        .execute(conn)?;
    Ok(())
}

/// Products by SKU for the lines, or a field error for each unknown SKU.
fn products_for(conn: &mut PgConnection, skus: &[&Sku]) -> AppResult<HashMap<String, i64>> {
    let names: Vec<String> = skus.iter().map(|s| s.to_string()).collect();
    let ids: HashMap<String, i64> = stock::ids_by_sku(conn, &names)?.into_iter().collect();
    let unknown: Vec<FieldError> = skus
        .iter()
        .enumerate()
        .filter(|(_, sku)| !ids.contains_key(sku.as_str()))
        .map(|(i, sku)| {
            FieldError::new(
                format!("lines[{i}].sku"),
                format!("there is no product with SKU {sku}"),
            )
        })
        .collect();
    if unknown.is_empty() {
        Ok(ids)
    } else {
        Err(AppError::invalid_fields(unknown))
    }
}

/// A date for a purchase order, on every path (the pages, the API): from a year before
/// `today` (a late order still on its way) to two years after it. Outside that it is a
/// typing slip, and would move every waiting customer's date with it.
pub fn check_expected_date(date: NaiveDate, today: NaiveDate) -> AppResult<NaiveDate> {
    let earliest = today
        .checked_sub_months(chrono::Months::new(12))
        .unwrap_or(NaiveDate::MIN);
    let latest = today
        .checked_add_months(chrono::Months::new(24))
        .unwrap_or(NaiveDate::MAX);
    if date < earliest {
        return Err(AppError::invalid(
            "expected_on",
            format!("the expected date cannot be more than a year ago (before {earliest})"),
        ));
    }
    if date > latest {
        return Err(AppError::invalid(
            "expected_on",
            format!("the expected date must be within two years (by {latest})"),
        ));
    }
    Ok(date)
}

/// Days from ordering to delivery assumed for a supplier that has not said.
pub const DEFAULT_LEAD_TIME_DAYS: i64 = 14;

/// What the "new purchase order" form starts from: a fresh reference and, for a chosen
/// supplier, the date its lead time gives and what is worth ordering from it.
pub struct PurchaseOrderDraft {
    pub reference: String,
    pub suppliers: Vec<(i64, String)>,
    /// The chosen supplier's name.
    pub supplier: Option<String>,
    pub expected_on: NaiveDate,
    pub suggestions: Vec<Suggestion>,
}

pub fn draft(
    conn: &mut PgConnection,
    supplier_id: Option<i64>,
    today: NaiveDate,
) -> AppResult<PurchaseOrderDraft> {
    let mut draft = PurchaseOrderDraft {
        reference: next_reference(conn, today)?,
        suppliers: super::inventory::suppliers(conn)?,
        supplier: None,
        expected_on: today + chrono::Duration::days(DEFAULT_LEAD_TIME_DAYS),
        suggestions: Vec::new(),
    };
    if let Some(supplier_id) = supplier_id {
        let (name, lead_time): (String, Option<i32>) = suppliers::table
            .find(supplier_id)
            .select((suppliers::name, suppliers::lead_time_days))
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("that supplier"))?;
        let lead_time = lead_time.map_or(DEFAULT_LEAD_TIME_DAYS, |days| i64::from(days.max(1)));
        draft.supplier = Some(name);
        draft.expected_on = today + chrono::Duration::days(lead_time);
        draft.suggestions =
            crate::services::purchasing::reorder::suggestions(conn, Some(supplier_id), today)?;
    }
    Ok(draft)
}

/// A fresh reference: "PO-" and the date, numbered within the day.
fn next_reference(conn: &mut PgConnection, today: NaiveDate) -> AppResult<String> {
    let prefix = format!("PO-{}-", today.format("%Y%m%d"));
    let taken: i64 = schema::purchase_orders::table
        .filter(schema::purchase_orders::reference.like(format!("{prefix}%")))
        .count()
        .get_result(conn)?;
    Ok(format!("{prefix}{}", taken + 1))
}

/// Creates a purchase order; its units become supply for the products' ETAs. The same
/// order again is answered with the stored one; a different one under its reference is
/// a conflict.
pub fn create_purchase_order(
    conn: &mut PgConnection,
    actor: &Actor,
    order: NewPurchaseOrder,
    today: NaiveDate,
) -> AppResult<Outcome<PurchaseOrderView>> {
    check_expected_date(order.expected_on, today)?;
    conn.transaction(|conn| {
        lock_reference(conn, order.reference.as_str())?;
        if let Some(stored) = purchase_order_view(conn, order.reference.as_str())? {
            let mut asked: Vec<(String, i32)> = order
                .lines
                .iter()
                .map(|(s, q)| (s.to_string(), *q))
                .collect();
            let mut have: Vec<(String, i32)> = stored
                .lines
                .iter()
                .map(|l| (l.sku.clone(), l.quantity))
                .collect();
            asked.sort();
            have.sort();
            // The date it was created with: a date moved since (on the page) does not make
            // the original request a different one.
            let created_on: NaiveDate = purchase_order_date_changes::table
                .inner_join(schema::purchase_orders::table)
                .filter(schema::purchase_orders::reference.eq(order.reference.as_str()))
                .order(purchase_order_date_changes::id.asc())
                .select(purchase_order_date_changes::old_expected_on)
                .first(conn)
                .optional()?
                .unwrap_or(stored.expected_on);
            let same = stored.supplier == order.supplier
                && created_on == order.expected_on
                && asked == have;
            return if same {
                Ok(Outcome::AlreadyStored(stored))
            } else {
                Err(AppError::Conflict(format!(
                    "purchase order {} exists already with different contents",
                    order.reference
                )))
            };
        }
        let skus: Vec<&Sku> = order.lines.iter().map(|(sku, _)| sku).collect();
        let ids = products_for(conn, &skus)?;
        let settings = shop_settings::load(conn)?;
        let ctx = Ctx {
            actor,
            today,
            settings: &settings,
        };
        let supplier_id = catalog::supplier_id(conn, &order.supplier)?;
        let po_id: i64 = diesel::insert_into(schema::purchase_orders::table)
            .values((
                schema::purchase_orders::reference.eq(order.reference.as_str()),
                schema::purchase_orders::supplier_id.eq(supplier_id),
                schema::purchase_orders::expected_on.eq(order.expected_on),
                schema::purchase_orders::ordered_on.eq(today),
                schema::purchase_orders::created_by.eq(ctx.user_id()),
            ))
            .returning(schema::purchase_orders::id)
            .get_result(conn)?;
        // Locked in id order before the lines go in: their key checks would share-lock the
        // products one by one in the order given, and deadlock with an event holding one.
        let product_ids: Vec<i64> = ids.values().copied().collect();
        stock::lock_products(conn, &product_ids)?;
        let rows: Vec<_> = order
            .lines
            .iter()
            .map(|(sku, quantity)| {
                (
                    purchase_order_lines::purchase_order_id.eq(po_id),
                    purchase_order_lines::product_id.eq(ids[sku.as_str()]),
                    purchase_order_lines::qty_ordered.eq(*quantity),
                )
            })
            .collect();
        diesel::insert_into(purchase_order_lines::table)
            .values(rows)
            .execute(conn)?;
        refresh_products(conn, &ctx, &product_ids, &EtaCause::SupplyChanged)?;
        let view = purchase_order_view(conn, order.reference.as_str())?
            .ok_or_else(|| AppError::not_found("the purchase order"))?;
        audit::record(
            conn,
            actor,
            "purchase_order_created",
            "purchase_order",
            Some(view.reference.clone()),
            None,
            serde_json::to_value(&view).ok(),
        )?;
        Ok(Outcome::Created(view))
    })
}

/// Recomputes the ETAs of these products' queues, under their locks, and tells the
/// customers whose dates `cause` moved later than they were told (coalesced, see
/// `notify`).
pub fn refresh_products(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    product_ids: &[i64],
    cause: &EtaCause,
) -> AppResult<()> {
    let mut effects = engine::EtaEffects::default();
    for product in stock::lock_products(conn, product_ids)? {
        if product.waiting_lines > 0 {
            effects.extend(engine::refresh_etas(conn, ctx, &product, cause)?);
        }
    }
    crate::services::engine::notify::eta_changes(conn, ctx, effects)
}

pub(super) fn receipt_reference(reference: &str, receipt_id: i64) -> String {
    format!("{reference} receipt {receipt_id}")
}

/// A stored receipt, with the allocations it made (read back from the ledger).
pub fn receipt_view(conn: &mut PgConnection, receipt_id: i64) -> AppResult<ReceiptView> {
    let (reference, status, received_on): (String, String, NaiveDate) =
        purchase_order_receipts::table
            .inner_join(schema::purchase_orders::table)
            .filter(purchase_order_receipts::id.eq(receipt_id))
            .select((
                schema::purchase_orders::reference,
                schema::purchase_orders::status,
                purchase_order_receipts::received_on,
            ))
            .first(conn)?;
    let received = receipt_lines::table
        .inner_join(purchase_order_lines::table.inner_join(products::table))
        .filter(receipt_lines::receipt_id.eq(receipt_id))
        .order(receipt_lines::id)
        .select((products::sku, receipt_lines::quantity))
        .load::<(String, i32)>(conn)?
        .into_iter()
        .map(|(sku, quantity)| ReceivedUnits { sku, quantity })
        .collect();
    use crate::db::schema::{order_lines, orders};
    let allocated = stock_movements::table
        .inner_join(products::table)
        .inner_join(
            order_lines::table.on(order_lines::id
                .nullable()
                .eq(stock_movements::order_line_id)),
        )
        .inner_join(orders::table.on(orders::id.eq(order_lines::order_id)))
        .filter(stock_movements::reference.eq(receipt_reference(&reference, receipt_id)))
        .filter(stock_movements::reason.eq(MovementReason::Allocation))
        .order(stock_movements::id)
        .select((
            orders::number,
            products::sku,
            stock_movements::allocated_delta,
        ))
        .load::<(String, String, i32)>(conn)?
        .into_iter()
        .map(|(order, sku, quantity)| AllocatedUnits {
            order,
            sku,
            quantity,
        })
        .collect();
    Ok(ReceiptView {
        reference,
        status,
        received_on,
        received,
        allocated,
    })
}
