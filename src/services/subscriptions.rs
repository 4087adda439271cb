//! "Notify me" sign-ups for products that are out of stock.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::stock;
use crate::error::{AppError, AppResult};
use crate::types::{Email, Sku};

/// A "notify me" sign-up as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubscriptionView {
    pub sku: String,
    pub email: String,
    pub status: &'static str,
}

/// Signs `email` up for one back-in-stock email about `sku`; signing up twice is one
/// sign-up. Returns the sign-up and whether it is new.
pub fn subscribe(
    conn: &mut PgConnection,
    actor: &Actor,
    sku: &Sku,
    email: &Email,
) -> AppResult<(SubscriptionView, bool)> {
    conn.transaction(|conn| {
        let product = stock::find_by_sku(conn, sku.as_str())?
            .ok_or_else(|| AppError::invalid("sku", format!("there is no product with SKU {sku}")))?;
        #[derive(QueryableByName)]
        struct Inserted {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        let inserted: Option<Inserted> = diesel::sql_query(
            "INSERT INTO restock_subscriptions (product_id, email) VALUES ($1, $2)
             ON CONFLICT (product_id, lower(email)) WHERE notified_at IS NULL AND unsubscribed_at IS NULL DO NOTHING
             RETURNING id",
        )
        .bind::<BigInt, _>(product.id)
        .bind::<Text, _>(email.as_str())
        .get_result(conn)
        .optional()?;
        let created = inserted.is_some();
        if let Some(row) = inserted {
            audit::record(conn, actor, "restock_subscription_created", "restock_subscription", Some(row.id.to_string()), None, Some(json!({ "sku": product.sku, "email": email.as_str() })))?;
        }
        Ok((SubscriptionView { sku: product.sku, email: email.to_string(), status: "subscribed" }, created))
    })
}
