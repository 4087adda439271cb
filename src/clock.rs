//! The shop's calendar. The domain never reads a clock; services ask here for `today`.

use chrono::{DateTime, NaiveDate, Utc};

/// Today's date in the server's local time zone (the shop's working day).
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// This moment, for checking times that come in (an order's `placed_at`).
pub fn now() -> DateTime<Utc> {
    Utc::now()
}
