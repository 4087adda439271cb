//! Staff sessions kept on the server. The session cookie carries a random id; this table
//! holds its SHA-256 (a copy of the table signs nobody in), whose user it is and when it
//! ends. Deleting a row ends that session at once, whatever the cookie says.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::schema::{user_sessions, users};
use super::users::User;

fn digest(session_id: &str) -> String {
    hex::encode(Sha256::digest(session_id.as_bytes()))
}

/// Starts a session for `user_id` until `expires_at`; returns the id for the cookie.
/// Expired sessions (anyone's: the table holds only live ones, so it stays small) are
/// cleared out on the way.
pub fn start(
    conn: &mut PgConnection,
    user_id: i64,
    expires_at: DateTime<Utc>,
) -> QueryResult<String> {
    let session_id = hex::encode(rand::rng().random::<[u8; 32]>());
    diesel::delete(user_sessions::table.filter(user_sessions::expires_at.le(Utc::now())))
        .execute(conn)?;
    diesel::insert_into(user_sessions::table)
        .values((
            user_sessions::token_hash.eq(digest(&session_id)),
            user_sessions::user_id.eq(user_id),
            user_sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(session_id)
}

/// The user of a live session: not ended, not expired, the account not disabled. One
/// indexed lookup, made on every request.
pub fn user(conn: &mut PgConnection, session_id: &str) -> QueryResult<Option<User>> {
    user_sessions::table
        .inner_join(users::table)
        .filter(user_sessions::token_hash.eq(digest(session_id)))
        .filter(user_sessions::expires_at.gt(Utc::now()))
        .filter(users::disabled.eq(false))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Ends one session.
pub fn end(conn: &mut PgConnection, session_id: &str) -> QueryResult<usize> {
    diesel::delete(user_sessions::table.filter(user_sessions::token_hash.eq(digest(session_id))))
        .execute(conn)
}

/// Ends every session of a user; returns how many there were.
pub fn end_all(conn: &mut PgConnection, user_id: i64) -> QueryResult<usize> {
    diesel::delete(user_sessions::table.filter(user_sessions::user_id.eq(user_id))).execute(conn)
}
