//! An outbox message as stored: who it goes to, its subject and where its delivery stands.
//! The rendered bodies and the attachment are `MessageBody`, loaded only where they are
//! read (a message's page, the worker sending it), not by lists of messages.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::MessageStatus;
use crate::db::schema::messages;

/// The message read model: everything but the bodies. Queries that join other tables
/// select `m.*` (or these columns) and embed it.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
pub struct Message {
    pub id: i64,
    pub kind: String,
    pub idempotency_key: String,
    pub order_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub recipient: String,
    pub subject: String,
    pub status: MessageStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub smtp_response: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// What a message says: its rendered text and HTML, and the file attached, if any.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
pub struct MessageBody {
    pub body_text: String,
    pub body_html: String,
    pub attachment_name: Option<String>,
    pub attachment_type: Option<String>,
    pub attachment_body: Option<String>,
}
