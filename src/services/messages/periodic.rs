//! What the delivery worker runs every minute.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Int4};

use super::eta_updates::send_due_eta_updates;
use super::mail::{enqueue_order_mail, order_mails};
use crate::db::models::Id;
use crate::db::shop_settings;
use crate::email::outbox::{self, Kind};
use crate::error::AppResult;

/// What the delivery worker runs every minute (`email::worker::WorkerConfig::periodic`):
/// the date-change emails whose window is over (each order claimed with SKIP LOCKED, so
/// every worker may run this at once), then the status updates (`run_periodic`).
pub fn periodic_jobs(conn: &mut PgConnection) -> anyhow::Result<()> {
    let today = crate::clock::today();
    let changes = send_due_eta_updates(conn, crate::clock::now(), today)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if changes > 0 {
        tracing::info!(changes, "ETA-change emails queued");
    }
    let queued = run_periodic(conn, today).map_err(|e| anyhow::anyhow!("{e}"))?;
    if queued > 0 {
        tracing::info!(queued, "periodic status updates queued");
    }
    Ok(())
}

/// The periodic jobs: give back claims of vanished workers, and queue a status update for
/// every order still waiting whose customer heard nothing for the shop's number of days.
/// An advisory lock makes one instance do each round. Returns the updates queued.
pub fn run_periodic(conn: &mut PgConnection, today: NaiveDate) -> AppResult<usize> {
    outbox::release_stale_claims(conn)?;
    conn.transaction(|conn| {
        #[derive(QueryableByName)]
        struct Locked {
            #[diesel(sql_type = Bool)]
            locked: bool,
        }
        let lock: Locked = crate::db::prepared::sql(
            "SELECT pg_try_advisory_xact_lock(hashtext('backorder-desk:status-updates')::int8) AS locked",
        )
        .get_result(conn)?;
        if !lock.locked {
            return Ok(0);
        }
        let settings = shop_settings::load(conn)?;
        let due: Vec<Id> = crate::db::prepared::sql(
            "SELECT l.order_id AS id FROM order_lines l
              WHERE l.waiting > 0
              GROUP BY l.order_id
             HAVING greatest(max(coalesce(l.waiting_since, l.placed_at)),
                             coalesce((SELECT max(m.created_at) FROM messages m WHERE m.order_id = l.order_id),
                                      '-infinity'::timestamptz))
                    < now() - make_interval(days => $1)
              LIMIT 500",
        )
        .bind::<Int4, _>(settings.status_update_after_days)
        .load(conn)?;
        let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
        let mails = order_mails(conn, &ids, &settings.shop_name, today)?;
        let mut queued = 0;
        for om in mails.values() {
            let key = format!("status:{}:{today}", om.order_id);
            if enqueue_order_mail(conn, om, Kind::StatusUpdate, key, None)?.is_some() {
                queued += 1;
            }
        }
        Ok(queued)
    })
}
