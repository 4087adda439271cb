//! Signing in (with throttling of failed attempts), the sessions that follow, and creating
//! staff accounts.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::schema::{login_attempts, users as users_table};
use crate::db::sessions;
use crate::db::users::{self, NewUser, Role, User};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::admin::passwords;

/// Failed attempts within the window after which sign-in is refused.
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 30;
pub const THROTTLE_MINUTES: i64 = 15;
/// A session ends after this long, however active.
pub const SESSION_HOURS: i64 = 12;

/// Advisory-lock classes (the first key of the two-key form), so the throttle's locks
/// never meet another lock of the app.
const EMAIL_LOCK: i32 = 14_001;
const ADDRESS_LOCK: i32 = 14_002;

pub enum LoginOutcome {
    /// Signed in: the user, and the id of the new session for the cookie.
    SignedIn {
        user: User,
        session_id: String,
    },
    Refused,
}

/// Checks a password. Throttled per email and per address, audited either way; on
/// success a session starts.
///
/// The throttle's check and count are one step: under a lock per email and per address,
/// the failures are counted and this attempt is written down as one, before the
/// password is checked (slowly) outside the lock; a right password then turns it into a
/// success. So attempts sent at once each see the ones before them, and no more than the
/// limit are ever answered "wrong password".
pub fn login(
    conn: &mut PgConnection,
    email: &str,
    password: &str,
    ip: &str,
) -> AppResult<LoginOutcome> {
    // No address is longer; a longer one is kept (in the throttle and the audit log)
    // only this far.
    let email: String = email.trim().chars().take(254).collect();
    let email = email.as_str();
    let attempt_id = reserve_attempt(conn, email, ip)?;

    let user = users::find_by_email(conn, email)?;
    let accepted = match &user {
        Some(user) => passwords::verify(password, &user.password_hash) && !user.disabled,
        None => {
            passwords::verify(password, passwords::dummy_hash());
            false
        }
    };
    conn.transaction(|conn| match user {
        Some(user) if accepted => {
            diesel::update(login_attempts::table.find(attempt_id))
                .set(login_attempts::succeeded.eq(true))
                .execute(conn)?;
            let actor = Actor::User {
                id: user.id,
                email: user.email.clone(),
            };
            audit::record(
                conn,
                &actor,
                "login",
                "user",
                Some(user.id.to_string()),
                None,
                None,
            )?;
            let expires_at = chrono::Utc::now() + chrono::Duration::hours(SESSION_HOURS);
            let session_id = sessions::start(conn, user.id, expires_at)?;
            Ok(LoginOutcome::SignedIn { user, session_id })
        }
        _ => {
            audit::record(
                conn,
                &Actor::System,
                "login_failed",
                "user",
                None,
                None,
                Some(json!({ "email": email, "ip": ip })),
            )?;
            Ok(LoginOutcome::Refused)
        }
    })
}

/// Counts the failures of the window and records this attempt as one more, atomically;
/// refuses with 429 when the limit is reached. Returns the attempt's id.
fn reserve_attempt(conn: &mut PgConnection, email: &str, ip: &str) -> AppResult<i64> {
    conn.transaction(|conn| {
        for (class, key) in [(EMAIL_LOCK, email.to_lowercase()), (ADDRESS_LOCK, ip.to_owned())] {
            crate::db::prepared::sql("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind::<Integer, _>(class)
                .bind::<Text, _>(key)
                .execute(conn)?;
        }
        let since = chrono::Utc::now() - chrono::Duration::minutes(THROTTLE_MINUTES);
        let recent_failures = login_attempts::table
            .filter(login_attempts::succeeded.eq(false))
            .filter(login_attempts::attempted_at.gt(since));
        let by_email: i64 = recent_failures
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                    .bind::<Text, _>(email.to_owned())
                    .sql(")"),
            )
            .count()
            .get_result(conn)?;
        let by_address: i64 = recent_failures
            .filter(login_attempts::ip.eq(ip))
            .count()
            .get_result(conn)?;
        if by_email >= MAX_FAILURES_PER_EMAIL || by_address >= MAX_FAILURES_PER_IP {
            return Err(AppError::TooManyRequests(format!(
                "Too many failed sign-in attempts. Please wait {THROTTLE_MINUTES} minutes and try again."
            )));
        }
        Ok(diesel::insert_into(login_attempts::table)
            .values((
                login_attempts::email.eq(email),
                login_attempts::ip.eq(ip),
                login_attempts::succeeded.eq(false),
            ))
            .returning(login_attempts::id)
            .get_result(conn)?)
    })
}

/// The user whose live session this is, if it is one.
pub fn session_user(conn: &mut PgConnection, session_id: &str) -> AppResult<Option<User>> {
    Ok(sessions::user(conn, session_id)?)
}

/// Signing out: this session ends, on the server, whatever copies of the cookie exist.
pub fn sign_out(conn: &mut PgConnection, session_id: &str) -> AppResult<()> {
    sessions::end(conn, session_id)?;
    Ok(())
}

/// "Sign out everywhere": every session of the user ends, this one included.
pub fn sign_out_everywhere(conn: &mut PgConnection, actor: &Actor, user_id: i64) -> AppResult<()> {
    conn.transaction(|conn| end_sessions(conn, actor, user_id, "signed_out_everywhere"))
}

/// Ends every session of a user, audited as `action` with how many there were.
fn end_sessions(
    conn: &mut PgConnection,
    actor: &Actor,
    user_id: i64,
    action: &str,
) -> AppResult<()> {
    let ended = sessions::end_all(conn, user_id)?;
    audit::record(
        conn,
        actor,
        action,
        "user",
        Some(user_id.to_string()),
        None,
        Some(json!({ "sessions_ended": ended })),
    )?;
    Ok(())
}

/// An admin sets a user's password; every session of that user ends.
pub fn set_password(
    conn: &mut PgConnection,
    actor: &Actor,
    user_id: i64,
    password: &str,
) -> AppResult<()> {
    passwords::check_strength(password)
        .map_err(|message| AppError::invalid("new_password", message))?;
    let password_hash = passwords::hash(password)?;
    conn.transaction(|conn| {
        let updated = diesel::update(users_table::table.find(user_id))
            .set(users_table::password_hash.eq(&password_hash))
            .execute(conn)?;
        if updated == 0 {
            return Err(AppError::not_found("that user"));
        }
        end_sessions(conn, actor, user_id, "user_password_changed")
    })
}

/// A new staff account, checked field by field.
pub fn add_user(
    conn: &mut PgConnection,
    actor: &Actor,
    email: &str,
    name: &str,
    role: Role,
    password: &str,
) -> AppResult<User> {
    let email = email.trim();
    let mut problems = Vec::new();
    if crate::types::Email::parse(email).is_err() {
        problems.push(FieldError::new(
            "email",
            "enter an email address like name@example.com",
        ));
    }
    let name = crate::types::single_line_of(name, 200, "enter a name of 1 to 200 characters")
        .map_err(|message| problems.push(FieldError::new("name", message)))
        .unwrap_or_default();
    let name = name.as_str();
    if let Err(message) = passwords::check_strength(password) {
        problems.push(FieldError::new("password", message));
    }
    if !problems.is_empty() {
        return Err(AppError::invalid_fields(problems));
    }
    let password_hash = passwords::hash(password)?;
    conn.transaction(|conn| {
        if users::find_by_email(conn, email)?.is_some() {
            return Err(AppError::invalid(
                "email",
                format!("a user with the email {email} already exists"),
            ));
        }
        let user = users::insert(
            conn,
            &NewUser {
                email,
                name,
                role: role.as_str(),
                password_hash: &password_hash,
            },
        )?;
        audit::record(
            conn,
            actor,
            "user_added",
            "user",
            Some(user.id.to_string()),
            None,
            Some(json!({ "email": user.email, "name": user.name, "role": user.role })),
        )?;
        Ok(user)
    })
}
