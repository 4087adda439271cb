//! The outbox table: queueing a message in the caller's transaction (once per idempotency
//! key), and the worker's side: claiming due messages with `FOR UPDATE SKIP LOCKED` and
//! recording what the server answered.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

use crate::db::models::{Id, Message, MessageBody, MessageStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BackorderNotice,
    DelayNotice,
    Restock,
    Shipment,
    DiscountOffer,
    Cancellation,
    BackInStock,
    StatusUpdate,
    Custom,
    SwapConfirmation,
    /// A purchase order emailed to its supplier (not a customer email: not in `ALL`).
    PurchaseOrder,
}

impl Kind {
    /// The emails to customers.
    pub const ALL: [Kind; 10] = [
        Kind::BackorderNotice,
        Kind::DelayNotice,
        Kind::Restock,
        Kind::Shipment,
        Kind::DiscountOffer,
        Kind::Cancellation,
        Kind::BackInStock,
        Kind::StatusUpdate,
        Kind::Custom,
        Kind::SwapConfirmation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BackorderNotice => "backorder_notice",
            Kind::DelayNotice => "delay_notice",
            Kind::Restock => "restock",
            Kind::Shipment => "shipment",
            Kind::DiscountOffer => "discount_offer",
            Kind::Cancellation => "cancellation",
            Kind::BackInStock => "back_in_stock",
            Kind::StatusUpdate => "status_update",
            Kind::Custom => "custom",
            Kind::SwapConfirmation => "swap_confirmation",
            Kind::PurchaseOrder => "purchase_order",
        }
    }

    /// Every kind of email the outbox sends: to customers, then to suppliers.
    pub fn every() -> impl Iterator<Item = Kind> {
        Self::ALL.into_iter().chain([Kind::PurchaseOrder])
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::every().find(|k| k.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        label(self.as_str())
    }
}

/// "Delay notice" for `delay_notice`.
pub fn label(kind: &str) -> &'static str {
    match kind {
        "backorder_notice" => "Backorder notice",
        "delay_notice" => "Delay notice",
        "restock" => "Reserved (restock)",
        "shipment" => "Shipment",
        "discount_offer" => "Discount offer",
        "cancellation" => "Cancellation",
        "back_in_stock" => "Back in stock",
        "status_update" => "Status update",
        "custom" => "Written by a rep",
        "swap_confirmation" => "Alternative taken",
        "purchase_order" => "Purchase order to a supplier",
        _ => "Other",
    }
}

/// A rendered email, ready for the outbox.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub kind: Kind,
    pub idempotency_key: String,
    pub order_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub created_by: Option<i64>,
}

/// Queues a message unless one with its key exists; returns the new id. What the message
/// tells the customer is recorded by its caller (the told dates) or when it is sent; an
/// idle worker finds it within its poll interval (`email::worker`).
pub fn enqueue(conn: &mut PgConnection, message: &NewMessage) -> QueryResult<Option<i64>> {
    let inserted: Option<Id> = crate::db::prepared::sql(
        "INSERT INTO messages (kind, idempotency_key, order_id, customer_id, recipient, subject,
                               body_text, body_html, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id",
    )
    .bind::<Text, _>(message.kind.as_str())
    .bind::<Text, _>(&message.idempotency_key)
    .bind::<Nullable<BigInt>, _>(message.order_id)
    .bind::<Nullable<BigInt>, _>(message.customer_id)
    .bind::<Text, _>(&message.recipient)
    .bind::<Text, _>(&message.subject)
    .bind::<Text, _>(&message.body_text)
    .bind::<Text, _>(&message.body_html)
    .bind::<Nullable<BigInt>, _>(message.created_by)
    .get_result(conn)
    .optional()?;
    Ok(inserted.map(|Id { id }| id))
}

/// Queues messages, each unless one with its key exists, in one statement; returns the
/// keys of those queued now.
pub fn enqueue_many(conn: &mut PgConnection, messages: &[&NewMessage]) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = Text)]
        idempotency_key: String,
    }
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let texts = |f: fn(&NewMessage) -> &str| messages.iter().map(|m| f(m)).collect::<Vec<_>>();
    let ids = |f: fn(&NewMessage) -> Option<i64>| messages.iter().map(|m| f(m)).collect::<Vec<_>>();
    let queued: Vec<Key> = crate::db::prepared::sql(
        "INSERT INTO messages (kind, idempotency_key, order_id, customer_id, recipient, subject,
                               body_text, body_html, created_by)
         SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[], $6::text[],
                              $7::text[], $8::text[], $9::int8[])
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING idempotency_key",
    )
    .bind::<Array<Text>, _>(texts(|m| m.kind.as_str()))
    .bind::<Array<Text>, _>(texts(|m| m.idempotency_key.as_str()))
    .bind::<Array<Nullable<BigInt>>, _>(ids(|m| m.order_id))
    .bind::<Array<Nullable<BigInt>>, _>(ids(|m| m.customer_id))
    .bind::<Array<Text>, _>(texts(|m| m.recipient.as_str()))
    .bind::<Array<Text>, _>(texts(|m| m.subject.as_str()))
    .bind::<Array<Text>, _>(texts(|m| m.body_text.as_str()))
    .bind::<Array<Text>, _>(texts(|m| m.body_html.as_str()))
    .bind::<Array<Nullable<BigInt>>, _>(ids(|m| m.created_by))
    .load(conn)?;
    Ok(queued.into_iter().map(|k| k.idempotency_key).collect())
}

/// A file sent with a message (one at most): the purchase order's CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub body: String,
}

/// `enqueue`, with a file attached.
pub fn enqueue_with_attachment(
    conn: &mut PgConnection,
    message: &NewMessage,
    attachment: &Attachment,
) -> QueryResult<Option<i64>> {
    let Some(id) = enqueue(conn, message)? else {
        return Ok(None);
    };
    use crate::db::schema::messages::dsl as m;
    diesel::update(m::messages.find(id))
        .set((
            m::attachment_name.eq(&attachment.name),
            m::attachment_type.eq(&attachment.content_type),
            m::attachment_body.eq(&attachment.body),
        ))
        .execute(conn)?;
    Ok(Some(id))
}

/// An id for the current transaction: keys that name "this event" (a receipt, an
/// adjustment) use it, so one event queues one email per order and a later event
/// another.
pub fn event_id(conn: &mut PgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Tx {
        #[diesel(sql_type = BigInt)]
        tx: i64,
    }
    Ok(crate::db::prepared::sql("SELECT txid_current() AS tx")
        .get_result::<Tx>(conn)?
        .tx)
}

/// A message claimed for sending: the stored message and what it says.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(embed)]
    pub message: Message,
    #[diesel(embed)]
    pub body: MessageBody,
    /// False for a message queued with its facts, to be rendered now (`at_sending`).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub rendered: bool,
}

/// A claimed message reads as the stored one (`claimed.recipient`, `claimed.attempts`).
impl std::ops::Deref for Claimed {
    type Target = Message;

    fn deref(&self) -> &Message {
        &self.message
    }
}

impl Claimed {
    /// The attached file, when the message has one.
    pub fn attachment(&self) -> Option<Attachment> {
        let body = &self.body;
        Some(Attachment {
            name: body.attachment_name.clone()?,
            content_type: body.attachment_type.clone()?,
            body: body.attachment_body.clone()?,
        })
    }
}

/// How long a claim holds before another worker may take the message over (a worker that
/// died mid-send). Longer than any send can take.
pub const CLAIM_LEASE_SECONDS: i64 = 300;

/// Takes up to `limit` due messages for this worker. Rows another worker holds are
/// skipped, not waited for, so workers never send the same message twice. A worker that
/// cannot render (`with_unrendered` false) leaves the messages queued with their facts to
/// one that can: it would only fail them.
pub fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
    with_unrendered: bool,
) -> QueryResult<Vec<Claimed>> {
    crate::db::prepared::sql(
        "UPDATE messages m
            SET status = 'sending', attempts = m.attempts + 1,
                next_attempt_at = now() + make_interval(secs => $2)
          WHERE m.id IN (SELECT id FROM messages
                          WHERE status = 'queued' AND next_attempt_at <= now()
                            AND ($3 OR facts IS NULL)
                          ORDER BY next_attempt_at, id
                          LIMIT $1
                          FOR UPDATE SKIP LOCKED)
         RETURNING m.*, m.facts IS NULL AS rendered",
    )
    .bind::<BigInt, _>(limit)
    .bind::<diesel::sql_types::Double, _>(CLAIM_LEASE_SECONDS as f64)
    .bind::<diesel::sql_types::Bool, _>(with_unrendered)
    .load(conn)
}

/// Gives messages whose worker vanished (claim lease over) back to the queue.
pub fn release_stale_claims(conn: &mut PgConnection) -> QueryResult<usize> {
    crate::db::prepared::sql(
        "UPDATE messages SET status = 'queued', next_attempt_at = now()
          WHERE status = 'sending' AND next_attempt_at < now()",
    )
    .execute(conn)
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent {
        response: String,
    },
    /// Try again after `delay_seconds`.
    Retry {
        error: String,
        delay_seconds: f64,
    },
    Failed {
        error: String,
    },
    /// Cannot ever be sent (the address is not an address).
    Dead {
        error: String,
    },
    /// The server could not be reached (`error`), or the message was not tried because
    /// of that (`None`): back in the queue after `delay_seconds`, the attempt not counted.
    /// An outage says nothing about the message, so it must not use up its attempts.
    Deferred {
        error: Option<String>,
        delay_seconds: f64,
    },
}

pub fn record_outcome(conn: &mut PgConnection, id: i64, outcome: &Outcome) -> QueryResult<()> {
    let clip = |text: &str| text.chars().take(1000).collect::<String>();
    match outcome {
        Outcome::Sent { response } => crate::db::prepared::sql(
            "UPDATE messages SET status = 'sent', sent_at = now(), smtp_response = $2,
                    last_error = NULL
              WHERE id = $1 AND status = 'sending'",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(clip(response))
        .execute(conn)?,
        Outcome::Retry {
            error,
            delay_seconds,
        } => crate::db::prepared::sql(
            "UPDATE messages SET status = 'queued', last_error = $2,
                    next_attempt_at = now() + make_interval(secs => $3)
              WHERE id = $1 AND status = 'sending'",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(clip(error))
        .bind::<diesel::sql_types::Double, _>(*delay_seconds)
        .execute(conn)?,
        Outcome::Deferred {
            error,
            delay_seconds,
        } => crate::db::prepared::sql(
            "UPDATE messages SET status = 'queued', attempts = greatest(attempts - 1, 0),
                    last_error = coalesce($2, last_error),
                    next_attempt_at = now() + make_interval(secs => $3)
              WHERE id = $1 AND status = 'sending'",
        )
        .bind::<BigInt, _>(id)
        .bind::<Nullable<Text>, _>(error.as_deref().map(clip))
        .bind::<diesel::sql_types::Double, _>(*delay_seconds)
        .execute(conn)?,
        Outcome::Failed { error } | Outcome::Dead { error } => crate::db::prepared::sql(
            "UPDATE messages SET status = $3, last_error = $2
              WHERE id = $1 AND status = 'sending'",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(clip(error))
        .bind::<Text, _>(if matches!(outcome, Outcome::Dead { .. }) {
            MessageStatus::Dead
        } else {
            MessageStatus::Failed
        })
        .execute(conn)?,
    };
    Ok(())
}

/// Records a batch's outcomes in one transaction: the sent ones (nearly all, usually) in
/// one statement, the rest one by one.
pub fn record_outcomes(conn: &mut PgConnection, outcomes: &[(i64, Outcome)]) -> QueryResult<()> {
    let (mut ids, mut responses) = (Vec::new(), Vec::new());
    for (id, outcome) in outcomes {
        if let Outcome::Sent { response } = outcome {
            ids.push(*id);
            responses.push(response.chars().take(1000).collect::<String>());
        }
    }
    conn.transaction(|conn| {
        if !ids.is_empty() {
            crate::db::prepared::sql(
                "UPDATE messages m SET status = 'sent', sent_at = now(), smtp_response = v.response,
                        last_error = NULL
                   FROM unnest($1::int8[], $2::text[]) AS v(id, response)
                  WHERE m.id = v.id AND m.status = 'sending'",
            )
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Array<Text>, _>(responses)
            .execute(conn)?;
        }
        for (id, outcome) in outcomes {
            if !matches!(outcome, Outcome::Sent { .. }) {
                record_outcome(conn, *id, outcome)?;
            }
        }
        Ok(())
    })
}

/// The soonest time a queued message becomes due, for the worker's sleep.
pub fn next_due(conn: &mut PgConnection) -> QueryResult<Option<DateTime<Utc>>> {
    use crate::db::schema::messages::dsl as m;
    m::messages
        .filter(m::status.eq(MessageStatus::Queued))
        .select(diesel::dsl::min(m::next_attempt_at))
        .first(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_the_customer_kinds_then_the_purchase_order_and_each_parses_back() {
        let every: Vec<Kind> = Kind::every().collect();
        assert_eq!(every[..Kind::ALL.len()], Kind::ALL);
        assert_eq!(every.last(), Some(&Kind::PurchaseOrder));
        for kind in every {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_ne!(kind.label(), "Other");
        }
    }
}
