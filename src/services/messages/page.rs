//! The Messages page: one message in full, and retrying a failed one.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz};

use crate::db::audit::{self, Actor};
use crate::email::outbox::{self};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, QueryableByName)]
pub struct CountRow {
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct MessageRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub smtp_response: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub next_attempt_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub sent_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub order_number: Option<String>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct MessageDetail {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub idempotency_key: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Text)]
    pub body_text: String,
    #[diesel(sql_type = Text)]
    pub body_html: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub smtp_response: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub next_attempt_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub sent_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub order_number: Option<String>,
}

pub fn detail(conn: &mut PgConnection, id: i64) -> AppResult<MessageDetail> {
    diesel::sql_query(
        "SELECT m.id, m.kind, m.status, m.idempotency_key, m.recipient, m.subject, m.body_text,
                m.body_html, m.attempts, m.last_error, m.smtp_response, m.created_at,
                m.next_attempt_at, m.sent_at, o.number AS order_number
           FROM messages m LEFT JOIN orders o ON o.id = m.order_id
          WHERE m.id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result(conn)
    .optional()?
    .ok_or_else(|| AppError::not_found("the message"))
}

/// Puts a failed (or dead) message back in the queue with a fresh set of attempts.
pub fn retry(conn: &mut PgConnection, actor: &Actor, id: i64) -> AppResult<()> {
    conn.transaction(|conn| {
        let changed = diesel::sql_query(
            "UPDATE messages SET status = 'queued', attempts = 0, next_attempt_at = now()
              WHERE id = $1 AND status IN ('failed', 'dead')",
        )
        .bind::<BigInt, _>(id)
        .execute(conn)?;
        if changed == 0 {
            return Err(AppError::Conflict(
                "only a failed message can be retried".to_owned(),
            ));
        }
        diesel::sql_query(format!("NOTIFY {}", outbox::CHANNEL)).execute(conn)?;
        audit::record(
            conn,
            actor,
            "message_retried",
            "message",
            Some(id.to_string()),
            None,
            None,
        )?;
        Ok(())
    })
}
