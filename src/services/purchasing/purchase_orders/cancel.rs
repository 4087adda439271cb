//! Cancelling an open purchase order: its outstanding units stop counting as supply.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::dates::{lock_open, product_ids};
use crate::db::audit::{self, Actor};
use crate::db::models::PoStatus;
use crate::db::schema::purchase_orders;
use crate::db::shop_settings;
use crate::error::AppResult;
use crate::services::engine::Ctx;
use crate::services::purchasing;

/// Cancels an open purchase order: its outstanding units stop counting as supply.
pub fn cancel(
    conn: &mut PgConnection,
    actor: &Actor,
    reference: &str,
    today: NaiveDate,
) -> AppResult<()> {
    conn.transaction(|conn| {
        let (po_id, _) = lock_open(conn, reference)?;
        let settings = shop_settings::load(conn)?;
        let ctx = Ctx {
            actor,
            today,
            settings: &settings,
        };
        diesel::update(purchase_orders::table.find(po_id))
            .set(purchase_orders::status.eq(PoStatus::Cancelled))
            .execute(conn)?;
        let ids = product_ids(conn, po_id)?;
        let cause = crate::domain::EtaCause::PurchaseOrderCancelled {
            reference: reference.to_owned(),
        };
        purchasing::refresh_products(conn, &ctx, &ids, &cause)?;
        audit::record(
            conn,
            actor,
            "purchase_order_cancelled",
            "purchase_order",
            Some(reference.to_owned()),
            Some(serde_json::json!({ "status": PoStatus::Open })),
            Some(serde_json::json!({ "status": PoStatus::Cancelled })),
        )?;
        Ok(())
    })
}
