//! Administration: staff roles and access, API tokens, the shop's settings, and reading
//! the audit log. Every change is audited with the state before and after.

pub mod accounts;
pub mod api_tokens;
pub mod audit_words;
pub mod monitoring;
pub mod passwords;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text};
use serde_json::{Value, json};

use crate::db::audit::{self, Actor};
use crate::db::models::AuditEntry;
use crate::db::schema::{self, shop_settings, users};
use crate::db::shop_settings::ShopSettings;
use crate::db::users::Role;
use crate::error::{AppError, AppResult, FieldError};
use crate::services::engine::Ctx;

/// What the users page may change about one user; empty fields are left as they are.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct UserChanges {
    #[serde(default)]
    pub role: String,
    /// "1" disables, "0" enables.
    #[serde(default)]
    pub disabled: String,
    #[serde(default)]
    pub new_password: String,
}

/// Applies the changes together (all or nothing); each ends the user's sessions.
pub fn change_user(
    conn: &mut PgConnection,
    actor: &Actor,
    actor_id: i64,
    user_id: i64,
    changes: &UserChanges,
) -> AppResult<()> {
    let role: Option<Role> = match changes.role.as_str() {
        "" => None,
        text => Some(
            text.parse()
                .map_err(|message: String| AppError::invalid("role", message))?,
        ),
    };
    conn.transaction(|conn| {
        if let Some(role) = role {
            change_role(conn, actor, actor_id, user_id, role)?;
        }
        match changes.disabled.as_str() {
            "1" => set_disabled(conn, actor, actor_id, user_id, true)?,
            "0" => set_disabled(conn, actor, actor_id, user_id, false)?,
            _ => {}
        }
        if !changes.new_password.is_empty() {
            crate::services::admin::accounts::set_password(
                conn,
                actor,
                user_id,
                &changes.new_password,
            )?;
        }
        Ok(())
    })
}

/// Changes a user's role, ending their sessions; an admin cannot demote themselves
/// (someone must stay admin).
pub fn change_role(
    conn: &mut PgConnection,
    actor: &Actor,
    actor_id: i64,
    user_id: i64,
    role: Role,
) -> AppResult<()> {
    if actor_id == user_id && role != Role::Admin {
        return Err(AppError::invalid(
            "role",
            "you cannot take away your own admin role",
        ));
    }
    conn.transaction(|conn| {
        let before: String = users::table
            .find(user_id)
            .select(users::role)
            .for_update()
            .first(conn)?;
        diesel::update(users::table.find(user_id))
            .set(users::role.eq(role.as_str()))
            .execute(conn)?;
        // A new role starts with a new sign-in: no session keeps what it was given.
        if before != role.as_str() {
            crate::db::sessions::end_all(conn, user_id)?;
        }
        audit::record(
            conn,
            actor,
            "user_role_changed",
            "user",
            Some(user_id.to_string()),
            Some(json!({ "role": before })),
            Some(json!({ "role": role.as_str() })),
        )?;
        Ok(())
    })
}

/// Disables or enables an account. Disabling ends the user's sessions at once (every
/// request looks its session up).
pub fn set_disabled(
    conn: &mut PgConnection,
    actor: &Actor,
    actor_id: i64,
    user_id: i64,
    disabled: bool,
) -> AppResult<()> {
    if actor_id == user_id && disabled {
        return Err(AppError::invalid(
            "disabled",
            "you cannot disable your own account",
        ));
    }
    conn.transaction(|conn| {
        let before: bool = users::table
            .find(user_id)
            .select(users::disabled)
            .for_update()
            .first(conn)?;
        diesel::update(users::table.find(user_id))
            .set(users::disabled.eq(disabled))
            .execute(conn)?;
        if disabled {
            crate::db::sessions::end_all(conn, user_id)?;
        }
        audit::record(
            conn,
            actor,
            if disabled {
                "user_disabled"
            } else {
                "user_enabled"
            },
            "user",
            Some(user_id.to_string()),
            Some(json!({ "disabled": before })),
            Some(json!({ "disabled": disabled })),
        )?;
        Ok(())
    })
}

#[derive(Debug, Clone, Queryable)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub fn tokens(conn: &mut PgConnection) -> QueryResult<Vec<TokenRow>> {
    schema::api_tokens::table
        .order(schema::api_tokens::id.desc())
        .select((
            schema::api_tokens::id,
            schema::api_tokens::name,
            schema::api_tokens::created_at,
            schema::api_tokens::last_used_at,
            schema::api_tokens::revoked_at,
        ))
        .load(conn)
}

pub fn revoke_token(conn: &mut PgConnection, actor: &Actor, token_id: i64) -> AppResult<()> {
    conn.transaction(|conn| {
        let updated = diesel::update(
            schema::api_tokens::table
                .find(token_id)
                .filter(schema::api_tokens::revoked_at.is_null()),
        )
        .set(schema::api_tokens::revoked_at.eq(Some(Utc::now())))
        .execute(conn)?;
        if updated == 0 {
            return Err(AppError::Conflict(
                "that token is revoked already".to_owned(),
            ));
        }
        audit::record(
            conn,
            actor,
            "api_token_revoked",
            "api_token",
            Some(token_id.to_string()),
            None,
            None,
        )?;
        Ok(())
    })
}

/// The settings a person can change, as typed into the form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub shop_name: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub queue_tier_first: Option<String>,
    #[serde(default)]
    pub queue_lapsing_first: Option<String>,
    #[serde(default)]
    pub handling_days: String,
    #[serde(default)]
    pub eta_worst_percentile: String,
    #[serde(default)]
    pub delay_discount_percent: String,
    #[serde(default)]
    pub delay_discount_after_days: String,
    #[serde(default)]
    pub expiry_limit_days: String,
    #[serde(default)]
    pub expiry_offers_cancel: Option<String>,
    #[serde(default)]
    pub status_update_after_days: String,
    /// Left out (an older form): unchanged.
    #[serde(default)]
    pub placed_at_max_age_days: Option<String>,
    /// Left out (an older form): unchanged.
    #[serde(default)]
    pub eta_update_window_hours: Option<String>,
    pub bulk_cancel_max_lines: Option<String>,
}

impl SettingsForm {
    pub fn from_settings(s: &ShopSettings) -> Self {
        let on = |b: bool| b.then(|| "on".to_owned());
        Self {
            shop_name: s.shop_name.clone(),
            currency: s.currency.clone(),
            queue_tier_first: on(s.queue_tier_first),
            queue_lapsing_first: on(s.queue_lapsing_first),
            handling_days: s.handling_days.to_string(),
            eta_worst_percentile: s.eta_worst_percentile.to_string(),
            delay_discount_percent: s.delay_discount_percent.to_string(),
            delay_discount_after_days: s.delay_discount_after_days.to_string(),
            expiry_limit_days: s.expiry_limit_days.to_string(),
            expiry_offers_cancel: on(s.expiry_offers_cancel),
            status_update_after_days: s.status_update_after_days.to_string(),
            placed_at_max_age_days: Some(s.placed_at_max_age_days.to_string()),
            eta_update_window_hours: Some(s.eta_update_window_hours.to_string()),
            bulk_cancel_max_lines: Some(s.bulk_cancel_max_lines.to_string()),
        }
    }
}

fn number(
    problems: &mut Vec<FieldError>,
    field: &str,
    text: &str,
    range: std::ops::RangeInclusive<i32>,
) -> i32 {
    match text.trim().parse::<i32>() {
        Ok(n) if range.contains(&n) => n,
        _ => {
            problems.push(FieldError::new(
                field,
                format!(
                    "enter a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            ));
            0
        }
    }
}

/// Saves the settings (all fields valid, or nothing changes); ETAs are recomputed when a
/// setting that shapes them changed.
pub fn save_settings(
    conn: &mut PgConnection,
    actor: &Actor,
    form: &SettingsForm,
    today: NaiveDate,
) -> AppResult<()> {
    let mut problems = Vec::new();
    let shop_name = crate::types::single_line_of(
        &form.shop_name,
        100,
        "enter the shop's name (1 to 100 characters)",
    )
    .map_err(|message| problems.push(FieldError::new("shop_name", message)))
    .unwrap_or_default();
    let currency = form.currency.trim().to_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        problems.push(FieldError::new(
            "currency",
            "enter a three-letter currency code such as EUR",
        ));
    }
    let handling = number(&mut problems, "handling_days", &form.handling_days, 0..=60);
    let percentile = number(
        &mut problems,
        "eta_worst_percentile",
        &form.eta_worst_percentile,
        50..=99,
    );
    let discount = number(
        &mut problems,
        "delay_discount_percent",
        &form.delay_discount_percent,
        0..=100,
    );
    let after = number(
        &mut problems,
        "delay_discount_after_days",
        &form.delay_discount_after_days,
        0..=365,
    );
    let expiry = number(
        &mut problems,
        "expiry_limit_days",
        &form.expiry_limit_days,
        1..=3650,
    );
    let status_every = number(
        &mut problems,
        "status_update_after_days",
        &form.status_update_after_days,
        1..=365,
    );
    let max_order_age = form
        .placed_at_max_age_days
        .as_deref()
        .map(|text| number(&mut problems, "placed_at_max_age_days", text, 1..=3650));
    let eta_window = form
        .eta_update_window_hours
        .as_deref()
        .map(|text| number(&mut problems, "eta_update_window_hours", text, 1..=168));
    let bulk_cancel_max = form
        .bulk_cancel_max_lines
        .as_deref()
        .map(|text| number(&mut problems, "bulk_cancel_max_lines", text, 0..=100_000));
    if !problems.is_empty() {
        return Err(AppError::invalid_fields(problems));
    }
    conn.transaction(|conn| {
        let before = crate::db::shop_settings::load(conn)?;
        let max_order_age = max_order_age.unwrap_or(before.placed_at_max_age_days);
        let eta_window = eta_window.unwrap_or(before.eta_update_window_hours);
        let bulk_cancel_max = bulk_cancel_max.unwrap_or(before.bulk_cancel_max_lines);
        diesel::update(shop_settings::table)
            .set((
                shop_settings::shop_name.eq(&shop_name),
                shop_settings::currency.eq(&currency),
                shop_settings::queue_tier_first.eq(form.queue_tier_first.is_some()),
                shop_settings::queue_lapsing_first.eq(form.queue_lapsing_first.is_some()),
                shop_settings::handling_days.eq(handling),
                shop_settings::eta_worst_percentile.eq(percentile),
                shop_settings::delay_discount_percent.eq(discount),
                shop_settings::delay_discount_after_days.eq(after),
                shop_settings::expiry_limit_days.eq(expiry),
                shop_settings::expiry_offers_cancel.eq(form.expiry_offers_cancel.is_some()),
                shop_settings::status_update_after_days.eq(status_every),
                shop_settings::placed_at_max_age_days.eq(max_order_age),
                shop_settings::eta_update_window_hours.eq(eta_window),
                shop_settings::bulk_cancel_max_lines.eq(bulk_cancel_max),
                shop_settings::updated_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        let after_settings = crate::db::shop_settings::load(conn)?;
        let shapes_etas = before.handling_days != after_settings.handling_days
            || before.eta_worst_percentile != after_settings.eta_worst_percentile
            || before.queue_tier_first != after_settings.queue_tier_first
            || before.queue_lapsing_first != after_settings.queue_lapsing_first;
        if shapes_etas {
            let waiting: Vec<i64> = crate::db::schema::products::table
                .filter(crate::db::schema::products::waiting_lines.gt(0))
                .select(crate::db::schema::products::id)
                .load(conn)?;
            let ctx = Ctx {
                actor,
                today,
                settings: &after_settings,
            };
            crate::services::purchasing::refresh_products(
                conn,
                &ctx,
                &waiting,
                &crate::domain::EtaCause::ScheduleChanged,
            )?;
        }
        audit::record(
            conn,
            actor,
            "settings_changed",
            "settings",
            None,
            Some(settings_json(&before)),
            Some(settings_json(&after_settings)),
        )?;
        Ok(())
    })
}

fn settings_json(s: &ShopSettings) -> Value {
    json!({
        "shop_name": s.shop_name, "currency": s.currency, "queue_tier_first": s.queue_tier_first,
        "queue_lapsing_first": s.queue_lapsing_first, "handling_days": s.handling_days,
        "eta_worst_percentile": s.eta_worst_percentile, "delay_discount_percent": s.delay_discount_percent,
        "delay_discount_after_days": s.delay_discount_after_days, "expiry_limit_days": s.expiry_limit_days,
        "expiry_offers_cancel": s.expiry_offers_cancel, "status_update_after_days": s.status_update_after_days,
        "placed_at_max_age_days": s.placed_at_max_age_days,
        "eta_update_window_hours": s.eta_update_window_hours,
        "bulk_cancel_max_lines": s.bulk_cancel_max_lines,
    })
}

/// Filters for the audit log page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub entity: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub before: String,
}

/// A page of the audit log, newest first, after the id `before` (keyset).
pub fn audit_page(
    conn: &mut PgConnection,
    filter: &AuditFilter,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    crate::db::prepared::sql(
        "SELECT * FROM audit_log
          WHERE ($1::text IS NULL OR action = $1)
            AND ($2::text IS NULL OR entity = $2)
            AND ($3::text IS NULL OR actor ILIKE '%' || $3 || '%')
            AND ($4::date IS NULL OR created_at >= $4::date)
            AND ($5::date IS NULL OR created_at < $5::date + 1)
            AND ($6::int8 IS NULL OR id < $6)
          ORDER BY id DESC LIMIT $7",
    )
    .bind::<Nullable<Text>, _>(text(&filter.action))
    .bind::<Nullable<Text>, _>(text(&filter.entity))
    .bind::<Nullable<Text>, _>(
        text(&filter.actor).map(|a| a.replace('%', "\\%").replace('_', "\\_")),
    )
    .bind::<Nullable<Date>, _>(date(&filter.from))
    .bind::<Nullable<Date>, _>(date(&filter.to))
    .bind::<Nullable<BigInt>, _>(filter.before.trim().parse::<i64>().ok())
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// The distinct actions and entities, for the filter's choices.
pub fn audit_vocabulary(conn: &mut PgConnection) -> QueryResult<(Vec<String>, Vec<String>)> {
    use crate::db::schema::audit_log::dsl as a;
    let actions = a::audit_log
        .select(a::action)
        .distinct()
        .order(a::action)
        .load(conn)?;
    let entities = a::audit_log
        .select(a::entity)
        .distinct()
        .order(a::entity)
        .load(conn)?;
    Ok((actions, entities))
}

/// What the audit page shows: one page of entries and the filter's choices.
pub struct AuditLog {
    pub rows: Vec<AuditEntry>,
    pub actions: Vec<String>,
    pub entities: Vec<String>,
}

/// One page of the audit log with the filter's choices (its actions and entities).
pub fn audit_log(
    conn: &mut PgConnection,
    filter: &AuditFilter,
    limit: i64,
) -> QueryResult<AuditLog> {
    let rows = audit_page(conn, filter, limit)?;
    let (actions, entities) = audit_vocabulary(conn)?;
    Ok(AuditLog {
        rows,
        actions,
        entities,
    })
}

/// The shop's settings as the settings form shows them.
pub fn settings_form(conn: &mut PgConnection) -> AppResult<SettingsForm> {
    Ok(SettingsForm::from_settings(
        &crate::db::shop_settings::load(conn)?,
    ))
}
