//! The demo shop's messages.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::mail::order_mails;
use super::restock_mail;
use crate::db::models::{Id, MessageStatus};
use crate::db::shop_settings;
use crate::email::outbox::{self, Kind};
use crate::error::AppResult;

/// Gives the demo shop messages in every state: the seed calls it after the orders, so
/// the Messages page has sent, queued, sending, failed and dead rows to show.
pub fn seed_messages(conn: &mut PgConnection) -> AppResult<usize> {
    conn.transaction(|conn| {
        let settings = shop_settings::load(conn)?;
        let today = crate::clock::today();
        let orders: Vec<Id> = crate::db::prepared::sql("SELECT id FROM orders ORDER BY id DESC LIMIT 12").load(conn)?;
        let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
        let mails = order_mails(conn, &ids, &settings.shop_name, today)?;
        let mut made = 0;
        let states = [
            (MessageStatus::Sent, None, Some("250 2.0.0 Ok: queued as 4F2A1")),
            (MessageStatus::Sent, None, Some("250 OK")),
            (MessageStatus::Queued, None, None),
            (MessageStatus::Sending, None, None),
            (MessageStatus::Failed, Some("550 5.1.1 <{to}>: Recipient address rejected: User unknown"), None),
            (MessageStatus::Failed, Some("gave up after 8 attempts: Connection refused (os error 111)"), None),
            (MessageStatus::Dead, Some("the recipient is not an address"), None),
            (MessageStatus::Queued, Some("421 4.7.0 Try again later, closing connection"), None),
        ];
        for (om, (status, error, response)) in mails.values().zip(states) {
            let mut mail = om.mail.clone();
            mail.subject = Some(format!("About your order {}", om.mail.order_number.clone().unwrap_or_default()));
            mail.paragraphs = vec!["A short note from the demo shop: this message shows how an email looks in each state of the outbox.".to_owned()];
            let kind = if status == MessageStatus::Sent { Kind::StatusUpdate } else { Kind::Custom };
            let message = om.message(kind, format!("demo:{}:{status}:{made}", om.order_id), None)?;
            if let Some(id) = outbox::enqueue(conn, &message)? {
                crate::db::prepared::sql(
                    "UPDATE messages SET status = $2, last_error = $3, smtp_response = $4,
                            attempts = CASE WHEN $2 = 'queued' AND $3 IS NULL THEN 0 WHEN $2 = 'failed' THEN 8 ELSE 1 END,
                            sent_at = CASE WHEN $2 = 'sent' THEN now() END,
                            next_attempt_at = CASE WHEN $2 = 'queued' AND $3 IS NOT NULL THEN now() + interval '10 minutes'
                                                   WHEN $2 = 'sending' THEN now() + interval '5 minutes' ELSE now() END
                      WHERE id = $1",
                )
                .bind::<BigInt, _>(id)
                .bind::<Text, _>(status)
                .bind::<Nullable<Text>, _>(error.map(|e| e.replace("{to}", &om.recipient)))
                .bind::<Nullable<Text>, _>(response)
                .execute(conn)?;
                made += 1;
            }
        }
        Ok(made)
    })
}

/// What the delivery worker would have done right after an event of the demo's history:
/// renders the restock emails queued unrendered (through the worker's renderer, worded as
/// on `day`, storing each rendering and withdrawing the ones with nothing left to say)
/// and puts the rendered ones back in the queue, so that when the replay marks the day's
/// emails sent each holds what was sent. Returns how many were rendered.
pub fn render_queued_restock_emails(
    conn: &mut PgConnection,
    day: chrono::NaiveDate,
) -> anyhow::Result<usize> {
    conn.transaction(|conn| {
        // Claimed as the worker claims them: the renderer reads only messages being sent.
        let claimed: Vec<Id> = crate::db::prepared::sql(
            "UPDATE messages SET status = 'sending'
              WHERE status = 'queued' AND facts IS NOT NULL
          RETURNING id",
        )
        .load(conn)?;
        let ids: Vec<i64> = claimed.iter().map(|m| m.id).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let rendered = restock_mail::render_on(conn, &ids, day)?;
        crate::db::prepared::sql(
            "UPDATE messages SET status = 'queued' WHERE id = ANY($1) AND status = 'sending'",
        )
        .bind::<diesel::sql_types::Array<BigInt>, _>(&ids)
        .execute(conn)?;
        Ok(rendered
            .values()
            .filter(|r| matches!(r, crate::email::at_sending::AtSending::Rendered(_)))
            .count())
    })
}
