//! Bearer tokens for the storefront and the warehouse system. Only a hash is stored; the
//! token itself is shown once, when it is made.

use diesel::prelude::*;
use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::audit::{self, Actor};
use crate::db::schema::api_tokens;
use crate::error::{AppError, AppResult};

const PREFIX: &str = "bd_";

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a token named `name`; returns the token, which is not stored anywhere.
pub fn create(conn: &mut PgConnection, actor: &Actor, name: &str) -> AppResult<String> {
    let name =
        crate::types::single_line_of(name, 100, "give the token a name of 1 to 100 characters")
            .map_err(|message| AppError::invalid("name", message))?;
    let name = name.as_str();
    let token = format!("{PREFIX}{}", hex::encode(rand::rng().random::<[u8; 32]>()));
    conn.transaction(|conn| {
        let id: i64 = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::name.eq(name),
                api_tokens::token_hash.eq(digest(&token)),
                api_tokens::created_by.eq(match actor {
                    Actor::User { id, .. } => Some(*id),
                    _ => None,
                }),
            ))
            .returning(api_tokens::id)
            .get_result(conn)?;
        audit::record(
            conn,
            actor,
            "api_token_created",
            "api_token",
            Some(id.to_string()),
            None,
            Some(json!({ "name": name })),
        )?;
        Ok(token)
    })
}

/// The name of the live token matching `token`, if any.
pub fn authenticate(conn: &mut PgConnection, token: &str) -> AppResult<Option<String>> {
    if !token.starts_with(PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let found: Option<(i64, String)> = api_tokens::table
        .filter(api_tokens::token_hash.eq(digest(token)))
        .filter(api_tokens::revoked_at.is_null())
        .select((api_tokens::id, api_tokens::name))
        .first(conn)
        .optional()?;
    if let Some((id, _)) = &found {
        // At most once a minute, so a busy storefront does not write on every request.
        diesel::update(api_tokens::table.find(id))
            .filter(
                api_tokens::last_used_at
                    .is_null()
                    .or(api_tokens::last_used_at
                        .lt(chrono::Utc::now() - chrono::Duration::minutes(1))),
            )
            .set(api_tokens::last_used_at.eq(chrono::Utc::now()))
            .execute(conn)?;
    }
    Ok(found.map(|(_, name)| name))
}
