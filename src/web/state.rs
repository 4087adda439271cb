//! What every handler can reach.

use chrono::NaiveDate;

use crate::config::Settings;
use crate::db::PgPool;
use crate::db::audit::Actor;
use crate::services::backorders::{QueueCounts, QueueFilter};
use crate::services::inventory::catalog::Availability;
use crate::services::review::ReviewData;
use crate::web::recent::Recent;

pub struct AppState {
    pub pool: PgPool,
    /// Where the read-only pages read: the primary, or a replica (`web::reads`).
    pub reads: crate::db::replica::Pools,
    pub settings: Settings,
    /// Signs self-service links in emails.
    pub link_key: Vec<u8>,
    /// The queue's filter counts, shared between requests for a moment (`web::recent`).
    pub queue_counts: Recent<(QueueFilter, NaiveDate), QueueCounts>,
    /// The daily review's figures, likewise.
    pub review: Recent<NaiveDate, ReviewData>,
    /// Availability answers by SKU and day, and API tokens' checks, likewise.
    pub availability: Recent<(String, NaiveDate), Availability>,
    pub api_tokens: Recent<String, Actor>,
}
