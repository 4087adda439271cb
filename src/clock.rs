//! The shop's calendar. The domain never reads a clock; services ask here for `today`.

use chrono::NaiveDate;

/// Today's date in the server's local time zone (the shop's working day).
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}
