//! The date-change emails: one per order once its window is over, rendered from the order
//! as it is then.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Timestamptz};

use super::mail::{OrderMail, alternative_links, choice_links, enqueue_order_mail, order_mails};
use crate::db::audit::Actor;
use crate::db::shop_settings;
use crate::email::links::LinkMaker;
use crate::email::outbox::Kind;
use crate::error::{AppError, AppResult};
use crate::services::engine::events::Ctx;

/// Sends the ETA-change emails that are due at `now` (the delivery worker's clock; tests
/// set it): one per order, rendered from the order as it is now, covering every line later
/// than its customer was told, with the cause of each. An order with nothing left to tell
/// (the dates moved back, an email since stated them, nothing waits) sends nothing. Each
/// pending order is claimed with `FOR UPDATE SKIP LOCKED` and removed in the transaction
/// that queues its email, so any number of workers send each once. Returns the emails
/// queued.
pub fn send_due_eta_updates(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> AppResult<usize> {
    #[derive(QueryableByName)]
    struct Pending {
        #[diesel(sql_type = BigInt)]
        order_id: i64,
        #[diesel(sql_type = Timestamptz)]
        first_changed_at: DateTime<Utc>,
    }
    let mut queued = 0;
    // A bounded round, so one tick never holds the worker for long.
    for _ in 0..500 {
        let done = conn.transaction(|conn| {
            let pending: Option<Pending> = crate::db::prepared::sql(
                "SELECT order_id, first_changed_at FROM eta_updates_pending
                  WHERE due_at <= $1
                  ORDER BY due_at, order_id
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED",
            )
            .bind::<Timestamptz, _>(now)
            .get_result(conn)
            .optional()?;
            let Some(pending) = pending else {
                return Ok::<_, AppError>(None);
            };
            let settings = shop_settings::load(conn)?;
            let window =
                chrono::Duration::hours(i64::from(settings.eta_update_window_hours.max(1)));
            // At most one date-change email per customer in a window, too: a customer
            // with two orders waiting on one delivery hears of them a window apart, not
            // seconds apart. Another worker on the same customer: try again in a minute.
            let (locked, last_sent) = customer_turn(conn, pending.order_id)?;
            let postpone_to = if !locked {
                Some(now + chrono::Duration::minutes(1))
            } else {
                last_sent
                    .filter(|last| *last > now - window)
                    .map(|last| last.min(now) + window)
            };
            if let Some(due) = postpone_to {
                crate::db::prepared::sql(
                    "UPDATE eta_updates_pending SET due_at = $2 WHERE order_id = $1",
                )
                .bind::<BigInt, _>(pending.order_id)
                .bind::<Timestamptz, _>(due)
                .execute(conn)?;
                return Ok(Some(false));
            }
            let shop = settings.shop_name.clone();
            let mail =
                order_mails(conn, &[pending.order_id], &shop, today)?.remove(&pending.order_id);
            // Read first: the causes go with the pending row.
            crate::db::prepared::sql("DELETE FROM eta_updates_pending WHERE order_id = $1")
                .bind::<BigInt, _>(pending.order_id)
                .execute(conn)?;
            let Some(mut om) = mail.filter(OrderMail::has_bad_news) else {
                return Ok(Some(false));
            };
            om.mail.news_in_body = true;
            let links = LinkMaker::load(conn)?;
            let later_lines: Vec<usize> = (0..om.later.len()).filter(|i| om.later[*i]).collect();
            // One line: the email and its links are about it; several: about the order.
            let line_id = match later_lines.as_slice() {
                [one] => {
                    om.mail.lines[*one].focus = true;
                    om.mail.product = Some(om.mail.lines[*one].name.clone());
                    Some(om.line_ids[*one])
                }
                _ => None,
            };
            om.mail.links = Some(choice_links(&links, pending.order_id, line_id));
            let ctx = Ctx {
                actor: &Actor::System,
                today,
                settings: &settings,
            };
            om.mail.alternatives =
                alternative_links(conn, &ctx, &links, pending.order_id, line_id)?;
            let key = format!(
                "eta-change:{}:{}",
                pending.order_id,
                pending.first_changed_at.timestamp_micros()
            );
            enqueue_order_mail(conn, &om, Kind::DelayNotice, key, None)?;
            Ok(Some(true))
        })?;
        match done {
            None => break,
            Some(true) => queued += 1,
            Some(false) => {}
        }
    }
    Ok(queued)
}

/// Whether this transaction may send the order's customer a date-change email now
/// (an advisory lock per customer: row locks on customers are taken by intake, which
/// also waits on pending rows), and when their last one was queued.
fn customer_turn(
    conn: &mut PgConnection,
    order_id: i64,
) -> QueryResult<(bool, Option<DateTime<Utc>>)> {
    #[derive(QueryableByName)]
    struct Turn {
        #[diesel(sql_type = Bool)]
        locked: bool,
        #[diesel(sql_type = Nullable<Timestamptz>)]
        last_sent: Option<DateTime<Utc>>,
    }
    let turn: Turn = crate::db::prepared::sql(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('backorder-desk:eta-change:' || o.customer_id, 0)) AS locked,
                (SELECT max(m.created_at) FROM messages m
                  WHERE m.customer_id = o.customer_id AND m.kind = 'delay_notice') AS last_sent
           FROM orders o WHERE o.id = $1",
    )
    .bind::<BigInt, _>(order_id)
    .get_result(conn)?;
    Ok((turn.locked, turn.last_sent))
}
