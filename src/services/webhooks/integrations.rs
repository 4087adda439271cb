//! The Integrations page's use cases: the webhook secrets (set here or by environment,
//! never shown back whole), the deliveries that wait for a person, and mapping a
//! storefront SKU to one of ours before replaying a delivery.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::json;

use super::{EnvSecrets, Platform, Receipt, WebhookError};
use crate::db::audit::{self, Actor};
use crate::db::schema::{products, storefront_skus, webhook_deliveries, webhook_secrets};
use crate::error::{AppError, AppResult, FieldError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Environment,
    Page,
    Missing,
}

/// Where a platform's secret comes from, and its last four characters to recognise it by.
#[derive(Debug, Clone)]
pub struct SecretState {
    pub platform: Platform,
    pub source: SecretSource,
    pub ending: String,
    pub updated_at: Option<DateTime<Utc>>,
}

impl SecretState {
    pub fn from_environment(&self) -> bool {
        self.source == SecretSource::Environment
    }

    pub fn is_set(&self) -> bool {
        self.source != SecretSource::Missing
    }
}

fn ending(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    // Short secrets show nothing of themselves.
    if chars.len() < 12 {
        return String::new();
    }
    chars[chars.len() - 4..].iter().collect()
}

pub fn secret_states(conn: &mut PgConnection, env: &EnvSecrets) -> QueryResult<Vec<SecretState>> {
    let stored: Vec<(String, String, DateTime<Utc>)> = webhook_secrets::table
        .select((
            webhook_secrets::platform,
            webhook_secrets::secret,
            webhook_secrets::updated_at,
        ))
        .load(conn)?;
    Ok(Platform::ALL
        .into_iter()
        .map(|platform| {
            if let Some(secret) = platform.secret_from(env) {
                return SecretState {
                    platform,
                    source: SecretSource::Environment,
                    ending: ending(secret),
                    updated_at: None,
                };
            }
            match stored.iter().find(|(p, _, _)| p == platform.as_str()) {
                Some((_, secret, at)) => SecretState {
                    platform,
                    source: SecretSource::Page,
                    ending: ending(secret),
                    updated_at: Some(*at),
                },
                None => SecretState {
                    platform,
                    source: SecretSource::Missing,
                    ending: String::new(),
                    updated_at: None,
                },
            }
        })
        .collect())
}

/// Stores the secret the platform signs with. Refused while the environment sets it (the
/// environment would win, and the page would mislead).
pub fn set_secret(
    conn: &mut PgConnection,
    actor: &Actor,
    env: &EnvSecrets,
    platform: Platform,
    secret: &str,
) -> AppResult<()> {
    let field = format!("{}_secret", platform.as_str());
    if platform.secret_from(env).is_some() {
        return Err(AppError::invalid(
            &field,
            format!(
                "{} is set in the environment, which takes precedence; change it there",
                platform.secret_variable()
            ),
        ));
    }
    let secret = secret.trim();
    if secret.chars().count() < 8
        || secret.chars().count() > 500
        || secret.chars().any(char::is_control)
    {
        return Err(AppError::invalid(
            &field,
            "paste the secret the platform shows: 8 to 500 characters",
        ));
    }
    let user_id = match actor {
        Actor::User { id, .. } => Some(*id),
        _ => None,
    };
    conn.transaction(|conn| {
        diesel::insert_into(webhook_secrets::table)
            .values((
                webhook_secrets::platform.eq(platform.as_str()),
                webhook_secrets::secret.eq(secret),
                webhook_secrets::updated_by.eq(user_id),
            ))
            .on_conflict(webhook_secrets::platform)
            .do_update()
            .set((
                webhook_secrets::secret.eq(secret),
                webhook_secrets::updated_by.eq(user_id),
                webhook_secrets::updated_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        // The audit log names the change, never the secret.
        audit::record(
            conn,
            actor,
            "webhook_secret_set",
            "integration",
            Some(platform.as_str().to_owned()),
            None,
            Some(json!({ "platform": platform.as_str(), "ending": ending(secret) })),
        )?;
        Ok(())
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub platform: String,
    pub topic: String,
    pub status: String,
    pub order_number: Option<String>,
    pub outcome: String,
    pub payload: Option<String>,
    pub unknown_skus: Vec<String>,
    pub received_at: DateTime<Utc>,
}

impl DeliveryRow {
    pub fn platform_label(&self) -> &'static str {
        Platform::parse(&self.platform)
            .map(Platform::label)
            .unwrap_or("unknown")
    }

    /// The payload laid out for reading.
    pub fn pretty_payload(&self) -> String {
        let raw = self.payload.as_deref().unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(raw)
            .ok()
            .and_then(|value| serde_json::to_string_pretty(&value).ok())
            .unwrap_or_else(|| raw.to_owned())
    }

    pub fn status_label(&self) -> &'static str {
        match self.status.as_str() {
            "processed" => "Taken in",
            "needs_attention" => "Needs attention",
            _ => "Ignored",
        }
    }
}

/// Deliveries waiting for a person (oldest first, so they are handled in order) and the
/// latest ones of any kind.
pub struct Deliveries {
    pub waiting: Vec<DeliveryRow>,
    pub recent: Vec<DeliveryRow>,
}

pub fn deliveries(conn: &mut PgConnection) -> QueryResult<Deliveries> {
    let waiting = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq("needs_attention"))
        .order(webhook_deliveries::received_at.desc())
        .limit(50)
        .select(DeliveryRow::as_select())
        .load(conn)?;
    let recent = webhook_deliveries::table
        .order((
            webhook_deliveries::received_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .limit(20)
        .select(DeliveryRow::as_select())
        .load(conn)?;
    Ok(Deliveries { waiting, recent })
}

/// Maps each of the delivery's unknown storefront SKUs to the SKU a person typed, then
/// replays the delivery; one transaction. `mappings` pairs a storefront SKU with ours;
/// an empty one is left as it is.
pub fn map_and_replay(
    conn: &mut PgConnection,
    actor: &Actor,
    id: i64,
    mappings: &[(String, String)],
    today: NaiveDate,
) -> Result<Receipt, WebhookError> {
    let user_id = match actor {
        Actor::User { id, .. } => Some(*id),
        _ => None,
    };
    let outcome = conn.transaction(|conn| {
        let (platform, unknown): (String, Vec<String>) = webhook_deliveries::table
            .find(id)
            .select((
                webhook_deliveries::platform,
                webhook_deliveries::unknown_skus,
            ))
            .for_update()
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("the delivery"))?;
        let platform = Platform::parse(&platform)
            .ok_or_else(|| AppError::not_found("the delivery's platform"))?;
        let mut problems = Vec::new();
        for (i, (storefront, ours)) in mappings.iter().enumerate() {
            let ours = ours.trim();
            if ours.is_empty() || !unknown.contains(storefront) {
                continue;
            }
            let product: Option<i64> = products::table
                .filter(products::sku.eq(ours))
                .select(products::id)
                .first(conn)
                .optional()?;
            let Some(product_id) = product else {
                problems.push(FieldError::new(
                    format!("sku[{i}]"),
                    format!(
                        "there is no product with SKU {:?}",
                        crate::types::truncate(ours)
                    ),
                ));
                continue;
            };
            diesel::insert_into(storefront_skus::table)
                .values((
                    storefront_skus::platform.eq(platform.as_str()),
                    storefront_skus::storefront_sku.eq(storefront),
                    storefront_skus::product_id.eq(product_id),
                    storefront_skus::mapped_by.eq(user_id),
                ))
                .on_conflict((storefront_skus::platform, storefront_skus::storefront_sku))
                .do_update()
                .set((
                    storefront_skus::product_id.eq(product_id),
                    storefront_skus::mapped_by.eq(user_id),
                    storefront_skus::mapped_at.eq(Utc::now()),
                ))
                .execute(conn)?;
            audit::record(
                conn,
                actor,
                "storefront_sku_mapped",
                "integration",
                Some(platform.as_str().to_owned()),
                None,
                Some(json!({ "storefront_sku": storefront, "sku": ours })),
            )?;
        }
        if !problems.is_empty() {
            return Err(AppError::invalid_fields(problems));
        }
        let taken = super::replay_in(conn, id, today)?;
        // A replay that is refused again changes nothing but what the page already says.
        if let Ok(receipt) = &taken {
            audit::record(
                conn,
                actor,
                "webhook_replayed",
                "integration",
                Some(platform.as_str().to_owned()),
                None,
                Some(json!({ "delivery": id, "outcome": receipt.message })),
            )?;
        }
        Ok(taken)
    })?;
    outcome.map_err(|(message, details)| WebhookError::Refused { message, details })
}

/// The integrations page: each platform's secret and the deliveries.
pub fn page(
    conn: &mut PgConnection,
    env: &EnvSecrets,
) -> QueryResult<(Vec<SecretState>, Deliveries)> {
    Ok((secret_states(conn, env)?, deliveries(conn)?))
}
