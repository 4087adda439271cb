//! Changing an open purchase order's expected date (by the shop or the supplier), which
//! recomputes the ETAs of the orders waiting on it.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::audit::{self, Actor};
use crate::db::models::PoStatus;
use crate::db::schema::{purchase_order_date_changes, purchase_orders};
use crate::db::shop_settings;
use crate::db::stock::Product;
use crate::error::{AppError, AppResult};
use crate::services::engine::Ctx;
use crate::services::purchasing::{self, check_expected_date};

/// Locks an open purchase order for a change; anything else is a clear refusal.
pub fn lock_open(conn: &mut PgConnection, reference: &str) -> AppResult<(i64, NaiveDate)> {
    let (id, status, expected_on): (i64, PoStatus, NaiveDate) = purchase_orders::table
        .filter(purchase_orders::reference.eq(reference))
        .for_update()
        .select((
            purchase_orders::id,
            purchase_orders::status,
            purchase_orders::expected_on,
        ))
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "purchase order {}",
                crate::types::truncate(reference)
            ))
        })?;
    if status != PoStatus::Open {
        return Err(AppError::Conflict(format!(
            "purchase order {reference} is {status}; it can no longer be changed"
        )));
    }
    Ok((id, expected_on))
}

pub(super) fn product_ids(conn: &mut PgConnection, po_id: i64) -> QueryResult<Vec<i64>> {
    use crate::db::schema::purchase_order_lines as pl;
    pl::table
        .filter(pl::purchase_order_id.eq(po_id))
        .select(pl::product_id)
        .load(conn)
}

pub(super) fn products(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<Product>> {
    use crate::db::schema::products;
    products::table
        .filter(products::id.eq_any(ids))
        .order(products::id)
        .select(Product::as_select())
        .load(conn)
}

/// Who gives a purchase order a new expected date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSource<'a> {
    /// A buyer on the purchase-order page, or the API.
    Buyer,
    /// The supplier through the link in the order's email, with its note.
    Supplier { note: Option<&'a str> },
}

/// Moves an open purchase order's expected date, keeps the change in its history and
/// recomputes the ETAs of everyone waiting on its products.
pub fn change_expected_date(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    new_expected_on: NaiveDate,
    today: NaiveDate,
) -> AppResult<()> {
    move_expected_date(
        conn,
        actor,
        reference,
        new_expected_on,
        today,
        DateSource::Buyer,
    )
}

/// `change_expected_date`, saying who gave the date: the one path for a buyer's and a
/// supplier's new date (the same ETAs, the same coalesced emails, the same cause).
pub fn move_expected_date(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    new_expected_on: NaiveDate,
    today: NaiveDate,
    source: DateSource<'_>,
) -> AppResult<()> {
    check_expected_date(new_expected_on, today)?;
    conn.transaction(|conn| {
        let (po_id, old) = lock_open(conn, reference)?;
        if old == new_expected_on {
            return Err(AppError::invalid(
                "expected_on",
                "that is already the expected date",
            ));
        }
        let settings = shop_settings::load(conn)?;
        let ctx = Ctx {
            actor,
            today,
            settings: &settings,
        };
        diesel::update(purchase_orders::table.find(po_id))
            .set(purchase_orders::expected_on.eq(new_expected_on))
            .execute(conn)?;
        diesel::insert_into(purchase_order_date_changes::table)
            .values((
                purchase_order_date_changes::purchase_order_id.eq(po_id),
                purchase_order_date_changes::old_expected_on.eq(old),
                purchase_order_date_changes::new_expected_on.eq(new_expected_on),
                purchase_order_date_changes::changed_by.eq(ctx.user_id()),
                purchase_order_date_changes::by_supplier
                    .eq(matches!(source, DateSource::Supplier { .. })),
                purchase_order_date_changes::note.eq(match source {
                    DateSource::Supplier { note } => note,
                    DateSource::Buyer => None,
                }),
            ))
            .execute(conn)?;
        let ids = product_ids(conn, po_id)?;
        let cause = crate::domain::EtaCause::SupplierDateMoved {
            reference: reference.to_owned(),
        };
        purchasing::refresh_products(conn, &ctx, &ids, &cause)?;
        audit::record(
            conn,
            actor,
            "purchase_order_date_changed",
            "purchase_order",
            Some(reference.to_owned()),
            Some(serde_json::json!({ "expected_on": old })),
            Some(match source {
                DateSource::Buyer => serde_json::json!({ "expected_on": new_expected_on }),
                DateSource::Supplier { note } => serde_json::json!({
                    "expected_on": new_expected_on, "by": "supplier", "note": note,
                }),
            }),
        )?;
        Ok(())
    })
}
