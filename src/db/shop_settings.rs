//! The shop's settings (one row) and the secrets generated on a first run.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::Rng;

use super::schema::{app_secrets, shop_settings};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shop_settings)]
pub struct ShopSettings {
    pub id: bool,
    pub shop_name: String,
    pub currency: String,
    pub queue_tier_first: bool,
    pub queue_lapsing_first: bool,
    pub handling_days: i32,
    pub eta_samples: i32,
    pub eta_worst_percentile: i32,
    pub delay_discount_percent: i32,
    pub delay_discount_after_days: i32,
    pub expiry_limit_days: i32,
    pub expiry_offers_cancel: bool,
    pub status_update_after_days: i32,
    pub updated_at: DateTime<Utc>,
    /// Orders placed longer ago than this many days are refused at intake.
    pub placed_at_max_age_days: i32,
    /// ETA-change emails are coalesced: at most one per order in this many hours.
    pub eta_update_window_hours: i32,
    /// A bulk cancel of more lines than this needs a manager.
    pub bulk_cancel_max_lines: i32,
}

impl ShopSettings {
    /// Who the shop serves first when units arrive (DESIGN §4.2, §4.9).
    pub fn queue_policy(&self) -> crate::domain::QueuePolicy {
        crate::domain::QueuePolicy {
            higher_tier_first: self.queue_tier_first,
            soonest_lapsing_first: self.queue_lapsing_first,
        }
    }
}

pub fn load(conn: &mut PgConnection) -> QueryResult<ShopSettings> {
    shop_settings::table
        .select(ShopSettings::as_select())
        .first(conn)
}

/// The named secret, made and stored on first use; every instance then reads the same.
pub fn secret(conn: &mut PgConnection, name: &str) -> QueryResult<String> {
    let candidate = hex::encode(rand::rng().random::<[u8; 32]>());
    diesel::insert_into(app_secrets::table)
        .values((
            app_secrets::name.eq(name),
            app_secrets::value.eq(&candidate),
        ))
        .on_conflict(app_secrets::name)
        .do_nothing()
        .execute(conn)?;
    app_secrets::table
        .find(name)
        .select(app_secrets::value)
        .first(conn)
}
