//! Signing in (with throttling of failed attempts) and creating staff accounts.

use diesel::prelude::*;
use serde_json::json;

use crate::db::audit::{self, Actor};
use crate::db::schema::login_attempts;
use crate::db::users::{self, NewUser, Role, User};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::passwords;

/// Failed attempts within the window after which sign-in is refused.
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 30;
pub const THROTTLE_MINUTES: i64 = 15;

pub enum LoginOutcome {
    SignedIn(User),
    Refused,
}

/// Checks a password. Throttled per email and per address, audited either way.
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
    let since = chrono::Utc::now() - chrono::Duration::minutes(THROTTLE_MINUTES);
    let failures = |conn: &mut PgConnection, by_email: bool| -> QueryResult<i64> {
        let query = login_attempts::table
            .filter(login_attempts::succeeded.eq(false))
            .filter(login_attempts::attempted_at.gt(since))
            .into_boxed();
        let query = if by_email {
            query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                    .bind::<diesel::sql_types::Text, _>(email.to_owned())
                    .sql(")"),
            )
        } else {
            query.filter(login_attempts::ip.eq(ip.to_owned()))
        };
        query.count().get_result(conn)
    };
    if failures(conn, true)? >= MAX_FAILURES_PER_EMAIL
        || failures(conn, false)? >= MAX_FAILURES_PER_IP
    {
        return Err(AppError::TooManyRequests(format!(
            "Too many failed sign-in attempts. Please wait {THROTTLE_MINUTES} minutes and try again."
        )));
    }

    let user = users::find_by_email(conn, email)?;
    let accepted = match &user {
        Some(user) => passwords::verify(password, &user.password_hash) && !user.disabled,
        None => {
            passwords::verify(password, passwords::dummy_hash());
            false
        }
    };
    diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::email.eq(email),
            login_attempts::ip.eq(ip),
            login_attempts::succeeded.eq(accepted),
        ))
        .execute(conn)?;
    match user {
        Some(user) if accepted => {
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
            Ok(LoginOutcome::SignedIn(user))
        }
        _ => {
            let actor = Actor::System;
            audit::record(
                conn,
                &actor,
                "login_failed",
                "user",
                None,
                None,
                Some(json!({ "email": email, "ip": ip })),
            )?;
            Ok(LoginOutcome::Refused)
        }
    }
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
    let name = name.trim();
    let mut problems = Vec::new();
    if crate::types::Email::parse(email).is_err() {
        problems.push(FieldError::new(
            "email",
            "enter an email address like name@example.com",
        ));
    }
    if name.is_empty() || name.chars().count() > 200 {
        problems.push(FieldError::new(
            "name",
            "enter a name of 1 to 200 characters",
        ));
    }
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
