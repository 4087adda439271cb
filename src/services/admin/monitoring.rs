//! The shop's state for the monitoring stack (`/metrics`): the outbox by status and its
//! oldest queued email, what waits, and promises kept. Three short statements.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use crate::db::models::MessageStatus;
use crate::services::review::{self, PromisesKept};

#[derive(Debug, Clone)]
pub struct ShopGauges {
    pub outbox: Vec<(String, i64)>,
    pub oldest_queued_seconds: f64,
    pub waiting_lines: i64,
    pub waiting_units: i64,
    pub promises: PromisesKept,
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: MessageStatus,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = BigInt)]
    lines: i64,
    #[diesel(sql_type = BigInt)]
    units: i64,
    #[diesel(sql_type = Double)]
    oldest_queued_seconds: f64,
}

pub fn shop_gauges(conn: &mut PgConnection, today: NaiveDate) -> QueryResult<ShopGauges> {
    let counted: Vec<StatusCount> =
        crate::db::prepared::sql("SELECT status, count(*) AS n FROM messages GROUP BY status")
            .load(conn)?;
    // Every status, so a status with none still shows as 0.
    let outbox = MessageStatus::ALL
        .iter()
        .map(|status| {
            let n = counted
                .iter()
                .find(|c| c.status == *status)
                .map_or(0, |c| c.n);
            (status.as_str().to_owned(), n)
        })
        .collect();
    let waiting: Waiting = crate::db::prepared::sql(
        "SELECT coalesce(sum(waiting_lines), 0)::int8 AS lines,
                coalesce(sum(waiting_units), 0)::int8 AS units,
                coalesce((SELECT extract(epoch FROM now() - min(created_at))
                            FROM messages WHERE status = 'queued'), 0)::float8
                    AS oldest_queued_seconds
           FROM products",
    )
    .get_result(conn)?;
    Ok(ShopGauges {
        outbox,
        oldest_queued_seconds: waiting.oldest_queued_seconds.max(0.0),
        waiting_lines: waiting.lines,
        waiting_units: waiting.units,
        promises: review::promises_kept(conn, today)?,
    })
}
