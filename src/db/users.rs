//! Staff accounts: read, create, and the role that decides what each may do.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::schema::users;

/// What a person may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Rep,
    Manager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Rep, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Rep => "Customer-service rep",
            Role::Manager => "Manager",
            Role::Admin => "Administrator",
        }
    }

    /// True when this role may do what `required` may.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rep" => Ok(Role::Rep),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}: use rep, manager or admin")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Rep)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                .bind::<diesel::sql_types::Text, _>(email)
                .sql(")"),
        )
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut PgConnection, new_user: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new_user)
        .returning(User::as_returning())
        .get_result(conn)
}

pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::name.asc())
        .select(User::as_select())
        .load(conn)
}

pub fn count(conn: &mut PgConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}
