//! The Messages page: one message in full, and retrying a failed one.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::db::audit::{self, Actor};
use crate::db::models::{Message, MessageBody, MessageStatus};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, QueryableByName)]
pub struct CountRow {
    #[diesel(sql_type = Text)]
    pub status: MessageStatus,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

/// A message in the list: the stored message (without its bodies) and its order's number.
#[derive(Debug, Clone, QueryableByName)]
pub struct MessageRow {
    #[diesel(embed)]
    pub message: Message,
    #[diesel(sql_type = Nullable<Text>)]
    pub order_number: Option<String>,
}

/// A list row reads as its message (`row.subject`, `row.status`).
impl std::ops::Deref for MessageRow {
    type Target = Message;

    fn deref(&self) -> &Message {
        &self.message
    }
}

/// A message in full: its row and what it says.
#[derive(Debug, Clone, QueryableByName)]
pub struct MessageDetail {
    #[diesel(embed)]
    pub summary: MessageRow,
    #[diesel(embed)]
    pub body: MessageBody,
}

impl std::ops::Deref for MessageDetail {
    type Target = MessageRow;

    fn deref(&self) -> &MessageRow {
        &self.summary
    }
}

pub fn detail(conn: &mut PgConnection, id: i64) -> AppResult<MessageDetail> {
    crate::db::prepared::sql(
        "SELECT m.*, o.number AS order_number
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
        let changed = crate::db::prepared::sql(
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
