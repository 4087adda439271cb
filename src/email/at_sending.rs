//! Emails rendered when they are sent, not when they are queued: an event that reaches
//! thousands of orders (a receipt) queues one row per email in its transaction, carrying
//! its subject and the facts it must state, and the delivery worker renders the body from
//! the order as it is at sending. The shop's renderer lives with the services (it reads
//! orders); whoever starts a worker hands it in (`WorkerConfig::render_at_sending`), and
//! the worker calls it on the messages it claimed. A worker without one never claims
//! them, so no such email goes out with an empty body.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

use super::outbox::{Claimed, Kind};
use super::render::Rendered;

/// An email queued unrendered: what it must state is in `facts`, a JSON array; a second
/// queueing under the same key while it waits (one event touching the order twice) adds
/// its facts to the first's.
#[derive(Debug, Clone)]
pub struct FactsMessage {
    pub kind: Kind,
    pub idempotency_key: String,
    pub order_id: i64,
    pub subject: String,
    pub facts: serde_json::Value,
    pub created_by: Option<i64>,
}

/// Queues unrendered emails to the customers of their orders: one statement per 1,000
/// messages and one wake-up for the workers.
pub fn enqueue(conn: &mut PgConnection, messages: &[FactsMessage]) -> QueryResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    for chunk in messages.chunks(1000) {
        crate::db::prepared::sql(
            "INSERT INTO messages (kind, idempotency_key, order_id, customer_id, recipient,
                                   subject, body_text, body_html, created_by, facts)
             SELECT u.kind, u.key, o.id, o.customer_id, c.email, u.subject, '', '', u.created_by,
                    u.facts::jsonb
               FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::int8[])
                    AS u(kind, key, order_id, subject, facts, created_by)
               JOIN orders o ON o.id = u.order_id
               JOIN customers c ON c.id = o.customer_id
             ON CONFLICT (idempotency_key) DO UPDATE
                SET facts = messages.facts || EXCLUDED.facts
              WHERE messages.status = 'queued' AND messages.facts IS NOT NULL",
        )
        .bind::<Array<Text>, _>(
            chunk
                .iter()
                .map(|m| m.kind.as_str().to_owned())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            chunk
                .iter()
                .map(|m| m.idempotency_key.clone())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<BigInt>, _>(chunk.iter().map(|m| m.order_id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|m| m.subject.clone()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            chunk
                .iter()
                .map(|m| m.facts.to_string())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<BigInt>>, _>(chunk.iter().map(|m| m.created_by).collect::<Vec<_>>())
        .execute(conn)?;
    }
    Ok(())
}

/// What the renderer made of a message claimed for sending.
#[derive(Debug, Clone)]
pub enum AtSending {
    /// Rendered and stored (with what it tells the customer), ready to send.
    Rendered(Rendered),
    /// Nothing true is left to say: withdrawn, not sent.
    Withdrawn,
}

/// Renders the unrendered messages among `ids` (claimed for sending by this worker) from
/// the shop as it is now, stores each rendering, and withdraws the ones with nothing left
/// to say, in one transaction.
pub type Renderer = fn(&mut PgConnection, &[i64]) -> anyhow::Result<HashMap<i64, AtSending>>;

/// Renders the claimed messages that were queued unrendered. Withdrawn ones leave the
/// list; one that could not be rendered stays unrendered, and its send counts as a
/// temporary failure (retried with backoff, failed after the last attempt).
pub fn render_claimed(conn: &mut PgConnection, render: Renderer, claimed: &mut Vec<Claimed>) {
    let ids: Vec<i64> = claimed
        .iter()
        .filter(|m| !m.rendered)
        .map(|m| m.id)
        .collect();
    if ids.is_empty() {
        return;
    }
    let renderings = match render(conn, &ids) {
        Ok(renderings) => renderings,
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "rendering emails at sending failed");
            return;
        }
    };
    claimed.retain_mut(|message| match renderings.get(&message.id) {
        Some(AtSending::Rendered(rendered)) => {
            message.message.subject = rendered.subject.clone();
            message.body.body_text = rendered.text.clone();
            message.body.body_html = rendered.html.clone();
            message.rendered = true;
            true
        }
        Some(AtSending::Withdrawn) => false,
        None => true,
    });
}
