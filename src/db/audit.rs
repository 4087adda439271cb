//! The audit log: who did what, when, with the state before and after.

use diesel::prelude::*;
use serde_json::Value;

use super::models::AuditEntry;
use super::schema::audit_log;

/// Who caused a change. A supplier acts through the link in a purchase order's email.
#[derive(Debug, Clone)]
pub enum Actor {
    User { id: i64, email: String },
    Api { token_name: String },
    Customer { email: String },
    Supplier { name: String },
    System,
}

impl Actor {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Actor::User { email, .. } => email.clone(),
            Actor::Api { token_name } => format!("api:{token_name}"),
            Actor::Customer { email } => format!("customer:{email}"),
            Actor::Supplier { name } => format!("supplier:{name}"),
            Actor::System => "system".to_owned(),
        }
    }
}

/// One audited change; call it inside the transaction that makes the change.
pub fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::user_id.eq(actor.user_id()),
            audit_log::actor.eq(actor.describe()),
            audit_log::action.eq(action),
            audit_log::entity.eq(entity),
            audit_log::entity_id.eq(entity_id),
            audit_log::before.eq(before),
            audit_log::after.eq(after),
        ))
        .execute(conn)?;
    Ok(())
}

/// One audited change on each of several entities of one kind, by their actors, in one
/// statement: `(actor, entity id, after)`.
pub fn record_all(
    conn: &mut PgConnection,
    action: &str,
    entity: &str,
    changes: &[(&Actor, String, Value)],
) -> QueryResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = changes
        .iter()
        .map(|(actor, entity_id, after)| {
            (
                audit_log::user_id.eq(actor.user_id()),
                audit_log::actor.eq(actor.describe()),
                audit_log::action.eq(action),
                audit_log::entity.eq(entity),
                audit_log::entity_id.eq(Some(entity_id.as_str())),
                audit_log::after.eq(Some(after)),
            )
        })
        .collect();
    diesel::insert_into(audit_log::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

pub fn recent(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .order((audit_log::created_at.desc(), audit_log::id.desc()))
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)
}
