//! "Notify me" sign-ups for products that are out of stock.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::models::Id;
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
        let inserted: Option<Id> = crate::db::prepared::sql(
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

/// One "notify me" sign-up, as the product page lists it.
#[derive(Debug, Clone, QueryableByName)]
pub struct SignUp {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub customer_name: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub notified_at: Option<chrono::DateTime<chrono::Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub unsubscribed_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl SignUp {
    pub fn is_waiting(&self) -> bool {
        self.notified_at.is_none() && self.unsubscribed_at.is_none()
    }
}

/// How many sign-ups the product page lists.
pub const SIGN_UPS_SHOWN: i64 = 100;

/// A product's sign-ups as its page lists them, and how many there are.
pub struct SignUps {
    /// Those still waiting for stock first, then the ones emailed or removed, newest
    /// first in each; at most [`SIGN_UPS_SHOWN`].
    pub shown: Vec<SignUp>,
    /// Every sign-up of the product.
    pub total: i64,
    /// The sign-ups still waiting for stock.
    pub waiting: i64,
}

#[derive(QueryableByName)]
struct SignUpRow {
    #[diesel(embed)]
    sign_up: SignUp,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    waiting: i64,
}

/// A product's sign-ups and their counts, in one statement (the counts are over all of
/// them, taken before the list is cut at [`SIGN_UPS_SHOWN`]).
pub fn sign_ups(conn: &mut PgConnection, product_id: i64) -> QueryResult<SignUps> {
    let rows: Vec<SignUpRow> = crate::db::prepared::sql(
        "SELECT r.id, r.email, c.name AS customer_name, r.created_at, r.notified_at, r.unsubscribed_at,
                count(*) OVER () AS total,
                count(*) FILTER (WHERE r.notified_at IS NULL AND r.unsubscribed_at IS NULL) OVER () AS waiting
           FROM restock_subscriptions r
           LEFT JOIN customers c ON lower(c.email) = lower(r.email)
          WHERE r.product_id = $1
          ORDER BY (r.notified_at IS NULL AND r.unsubscribed_at IS NULL) DESC, r.id DESC
          LIMIT $2",
    )
    .bind::<BigInt, _>(product_id)
    .bind::<BigInt, _>(SIGN_UPS_SHOWN)
    .load(conn)?;
    let (total, waiting) = rows.first().map_or((0, 0), |r| (r.total, r.waiting));
    Ok(SignUps {
        shown: rows.into_iter().map(|r| r.sign_up).collect(),
        total,
        waiting,
    })
}

/// Takes a waiting sign-up off a product's list (it gets no email); audited. Returns the
/// email that was removed.
pub fn remove(conn: &mut PgConnection, actor: &Actor, sku: &str, id: i64) -> AppResult<String> {
    conn.transaction(|conn| {
        let product =
            stock::find_by_sku(conn, sku)?.ok_or_else(|| AppError::not_found("that product"))?;
        #[derive(QueryableByName)]
        struct Removed {
            #[diesel(sql_type = Text)]
            email: String,
        }
        let removed: Option<Removed> = crate::db::prepared::sql(
            "UPDATE restock_subscriptions SET unsubscribed_at = now()
              WHERE id = $1 AND product_id = $2 AND notified_at IS NULL AND unsubscribed_at IS NULL
              RETURNING email",
        )
        .bind::<BigInt, _>(id)
        .bind::<BigInt, _>(product.id)
        .get_result(conn)
        .optional()?;
        let Some(removed) = removed else {
            return Err(AppError::Conflict(
                "That sign-up is not waiting any more: it was emailed or removed already."
                    .to_owned(),
            ));
        };
        audit::record(
            conn,
            actor,
            "restock_subscription_removed",
            "restock_subscription",
            Some(id.to_string()),
            Some(json!({ "sku": product.sku, "email": removed.email })),
            None,
        )?;
        Ok(removed.email)
    })
}
