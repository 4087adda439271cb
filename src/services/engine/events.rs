//! What an event in the shop carries (who, which day, the shop's settings) and what the
//! engine reports back to the use case that ran it, for the messages and proposals that
//! follow. Its own module so those can read it without importing the engine that calls
//! them.

use chrono::NaiveDate;

use crate::db::audit::Actor;
use crate::db::shop_settings::ShopSettings;
use crate::db::stock::{QueueRow, QueueSpot};
use crate::domain::{EtaCause, QueuePlace, QueuePolicy};

/// What an event needs besides its own data.
pub struct Ctx<'a> {
    pub actor: &'a Actor,
    pub today: NaiveDate,
    pub settings: &'a ShopSettings,
}

impl Ctx<'_> {
    pub fn user_id(&self) -> Option<i64> {
        match self.actor {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn queue_policy(&self) -> QueuePolicy {
        self.settings.queue_policy()
    }
}

/// Where a waiting line stands for the queue's order (`domain::sort_queue`).
pub fn queue_place(row: &QueueRow) -> QueuePlace {
    QueuePlace {
        line_id: row.id,
        placed_at: row.placed_at,
        customer_tier: i32::from(row.customer_tier),
        authorized_until: lapses_at(row.authorized_until),
    }
}

/// Where a queue spot stands for the queue's order, as [`queue_place`] for a whole row.
pub fn spot_place(spot: &QueueSpot) -> QueuePlace {
    QueuePlace {
        line_id: spot.id,
        placed_at: spot.placed_at,
        customer_tier: i32::from(spot.customer_tier),
        authorized_until: lapses_at(spot.authorized_until),
    }
}

/// An authorization lapses at the end of its last day.
fn lapses_at(authorized_until: Option<NaiveDate>) -> Option<chrono::DateTime<chrono::Utc>> {
    authorized_until
        .and_then(|day| day.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc())
}

/// What filling a product's queue did: the lines it served. The use case hands it to
/// `notify::restocked`, which queues the customers' restock emails; the engine queues none.
#[must_use = "hand it to notify::restocked, which queues the customers' restock emails"]
#[derive(Debug, Default)]
pub struct Restocked(pub Vec<Filled>);

/// Units given to a waiting line by a fill.
#[derive(Debug, Clone)]
pub struct Filled {
    pub line_id: i64,
    pub order_id: i64,
    pub order_number: String,
    pub units: i32,
    /// The line waits for nothing more.
    pub complete: bool,
}

/// A line whose new worst-case date falls after its promise (DESIGN §4.8): the discount
/// policy's input.
#[derive(Debug, Clone)]
pub struct Delayed {
    pub line_id: i64,
    pub order_id: i64,
    pub promised_on: NaiveDate,
    pub new_worst: NaiveDate,
    pub days_late: i64,
}

/// A line whose date moved later than the last date its customer was told: news for the
/// order's coalesced ETA-change email, with what moved it.
#[derive(Debug, Clone)]
pub struct LaterThanTold {
    pub line_id: i64,
    pub order_id: i64,
    pub told: NaiveDate,
    /// `None`: the line has no date any more.
    pub new_worst: Option<NaiveDate>,
    pub cause: EtaCause,
}

/// What an ETA refresh changed that people must hear of. The refresh only stores dates;
/// the use case hands these to `notify::eta_changes` (one place, after all its refreshes),
/// so nothing is queued as a hidden side effect deep inside the engine.
#[must_use = "hand the effects of an ETA refresh to notify::eta_changes"]
#[derive(Debug, Default)]
pub struct EtaEffects {
    /// Lines that got their first promise now (backorder notices).
    pub first_promises: Vec<(i64, i64)>,
    /// Lines later than the customer was told.
    pub later_than_told: Vec<LaterThanTold>,
    /// Lines whose date moved past their promise (the delay discount policy).
    pub delayed: Vec<Delayed>,
}

impl EtaEffects {
    pub fn extend(&mut self, other: EtaEffects) {
        self.first_promises.extend(other.first_promises);
        self.later_than_told.extend(other.later_than_told);
        self.delayed.extend(other.delayed);
    }
}

/// One line's projection, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEta {
    pub likely: Option<NaiveDate>,
    pub worst: Option<NaiveDate>,
    pub is_estimate: bool,
    pub reason: String,
    /// The purchase order whose units complete the line, and its expected date.
    pub covering_po: Option<(String, NaiveDate)>,
}
