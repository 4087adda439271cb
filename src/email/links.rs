//! Self-service links in emails: a claim (what to do, for which order, until when) signed
//! with HMAC-SHA256, so a customer can act without logging in. A link is single-use: its
//! nonce goes into `link_uses` when it is used. An order's status link ("Follow your
//! order") is a claim of its own kind, signed with the same key: read-only, never used up,
//! and valid for as long as the order says (`services::orders::order_status`), so it has no
//! expiry or nonce of its own; `verify` refuses it and `verify_status` takes only it.
//!
//! The key and the public URL are read from the database, not from `AppState`, because
//! links are rendered inside the transaction that queues the email (services, the seed,
//! the engine's hooks), where only a connection is at hand. `AppState.link_key` is derived
//! from the same stored secret at start, so pages and services agree.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256, Sha512};

use crate::db::schema::app_secrets;

type HmacSha256 = Hmac<Sha256>;

/// How long a link in an email works.
pub const LINK_DAYS: i64 = 30;
const PUBLIC_URL_ROW: &str = "public_url";
const FALLBACK_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// What a link does when its owner confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    /// Keep waiting for everything.
    Wait,
    /// Ship what is ready now; the rest follows.
    ShipReady,
    /// Cancel the units still waiting.
    CancelWaiting,
    /// Stop back-in-stock emails (the id is a restock subscription).
    Unsubscribe,
    /// Take this alternative product (its id) instead of waiting, for the claim's line.
    Swap { alternative: i64 },
}

impl LinkAction {
    pub fn code(self) -> &'static str {
        match self {
            Self::Wait => "wait",
            Self::ShipReady => "ship",
            Self::CancelWaiting => "cancel",
            Self::Unsubscribe => "unsub",
            Self::Swap { .. } => "swap",
        }
    }

    /// The action as it is signed: its code, and for a swap the alternative ("swap-12").
    fn signed_code(self) -> String {
        match self {
            Self::Swap { alternative } => format!("swap-{alternative}"),
            other => other.code().to_owned(),
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        if let Some(id) = code.strip_prefix("swap-") {
            return id
                .parse()
                .ok()
                .filter(|id| *id > 0)
                .map(|alternative| Self::Swap { alternative });
        }
        Some(match code {
            "wait" => Self::Wait,
            "ship" => Self::ShipReady,
            "cancel" => Self::CancelWaiting,
            "unsub" => Self::Unsubscribe,
            _ => return None,
        })
    }

    /// The `order_lines.customer_choice` this action records.
    pub fn customer_choice(self) -> &'static str {
        match self {
            Self::Wait | Self::Unsubscribe | Self::Swap { .. } => "wait",
            Self::ShipReady => "ship_partial",
            Self::CancelWaiting => "cancel",
        }
    }
}

/// The signed content of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaim {
    pub action: LinkAction,
    /// The order (or, for `Unsubscribe`, the restock subscription).
    pub id: i64,
    /// Limits the action to one line of the order (delay notices).
    pub line_id: Option<i64>,
    /// Unix seconds.
    pub expires_at: i64,
    pub nonce: String,
}

impl LinkClaim {
    /// A fresh claim valid for `LINK_DAYS`.
    pub fn new(action: LinkAction, id: i64, line_id: Option<i64>) -> Self {
        Self {
            action,
            id,
            line_id,
            expires_at: chrono::Utc::now().timestamp() + LINK_DAYS * 86_400,
            nonce: hex::encode(rand::rng().random::<[u8; 12]>()),
        }
    }

    fn payload(&self) -> String {
        format!(
            "1.{}.{}.{}.{}.{}",
            self.action.signed_code(),
            self.id,
            self.line_id.unwrap_or(0),
            self.expires_at,
            self.nonce
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link is not one we sent, or it was changed on the way")]
    Tampered,
    #[error("this link has expired")]
    Expired,
}

fn mac(key: &[u8], payload: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(payload.as_bytes());
    mac
}

/// The token that goes into the URL: the payload and its signature.
pub fn sign(key: &[u8], claim: &LinkClaim) -> String {
    sign_payload(key, &claim.payload())
}

fn sign_payload(key: &[u8], payload: &str) -> String {
    let signature = mac(key, payload).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// The payload of `token` when its signature is right (checked in constant time).
fn signed_payload(key: &[u8], token: &str) -> Result<String, LinkError> {
    let (payload_b64, signature_b64) = token.split_once('.').ok_or(LinkError::Tampered)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(LinkError::Tampered)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| LinkError::Tampered)?;
    mac(key, &payload)
        .verify_slice(&signature)
        .map_err(|_| LinkError::Tampered)?;
    Ok(payload)
}

/// The claim kind of an order's status link.
const STATUS_KIND: &str = "status";

/// The token of order `order_id`'s status link: one stable token per order.
pub fn sign_status(key: &[u8], order_id: i64) -> String {
    sign_payload(key, &format!("1.{STATUS_KIND}.{order_id}.0.0.0"))
}

/// The order a status link is for, when its signature is right and it is a status link
/// (a self-service link is not). Whether it still works is the order's to say.
pub fn verify_status(key: &[u8], token: &str) -> Result<i64, LinkError> {
    let payload = signed_payload(key, token)?;
    match payload.split('.').collect::<Vec<_>>().as_slice() {
        ["1", STATUS_KIND, id, "0", "0", "0"] => id.parse().map_err(|_| LinkError::Tampered),
        _ => Err(LinkError::Tampered),
    }
}

/// Checks the signature (in constant time) and the expiry of a self-service link; a
/// status link is not one (its kind is no `LinkAction`), so it is refused as tampered.
pub fn verify(key: &[u8], token: &str, now_unix: i64) -> Result<LinkClaim, LinkError> {
    let payload = signed_payload(key, token)?;
    let parts: Vec<&str> = payload.split('.').collect();
    let claim = match parts.as_slice() {
        ["1", action, id, line, expires, nonce] => LinkClaim {
            action: LinkAction::from_code(action).ok_or(LinkError::Tampered)?,
            id: id.parse().map_err(|_| LinkError::Tampered)?,
            line_id: line
                .parse::<i64>()
                .map_err(|_| LinkError::Tampered)
                .map(|l| (l != 0).then_some(l))?,
            expires_at: expires.parse().map_err(|_| LinkError::Tampered)?,
            nonce: (*nonce).to_owned(),
        },
        _ => return Err(LinkError::Tampered),
    };
    if claim.expires_at < now_unix {
        return Err(LinkError::Expired);
    }
    Ok(claim)
}

/// The key links are signed with, derived from a secret kept in the database (made on
/// first use, shared by every instance).
pub fn signing_key(conn: &mut PgConnection) -> QueryResult<Vec<u8>> {
    let secret = crate::db::shop_settings::secret(conn, LINK_SECRET_ROW)?;
    Ok(key_from_secret(&secret))
}

const LINK_SECRET_ROW: &str = "link_secret";

fn key_from_secret(secret: &str) -> Vec<u8> {
    Sha512::new()
        .chain_update(b"links:")
        .chain_update(secret.as_bytes())
        .finalize()
        .to_vec()
}

/// Remembers where customers reach the server, for links rendered by any process (the
/// web app, the worker, the seed) against this database. Only the serving instance calls
/// it (`startup::Application::build`, `serve`); other commands read what it stored.
pub fn register_public_url(conn: &mut PgConnection, public_url: &str) -> QueryResult<()> {
    diesel::insert_into(app_secrets::table)
        .values((
            app_secrets::name.eq(PUBLIC_URL_ROW),
            app_secrets::value.eq(public_url),
        ))
        .on_conflict(app_secrets::name)
        .do_update()
        .set(app_secrets::value.eq(public_url))
        .execute(conn)?;
    Ok(())
}

/// Stores `public_url` only when no instance has registered one yet: the `worker`
/// command, which may run beside a server that knows better.
pub fn register_public_url_if_unset(conn: &mut PgConnection, public_url: &str) -> QueryResult<()> {
    diesel::insert_into(app_secrets::table)
        .values((
            app_secrets::name.eq(PUBLIC_URL_ROW),
            app_secrets::value.eq(public_url),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// The serving instance's URL, or the default address before any server has run.
pub fn public_url(conn: &mut PgConnection) -> QueryResult<String> {
    Ok(app_secrets::table
        .find(PUBLIC_URL_ROW)
        .select(app_secrets::value)
        .first::<String>(conn)
        .optional()?
        .unwrap_or_else(|| FALLBACK_PUBLIC_URL.to_owned()))
}

/// A fresh token for a supplier's link (a purchase order's email) and the hash that is
/// stored: the token itself is only in the email, so the table cannot be read for links.
pub fn new_supplier_token() -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 32]>());
    let hash = supplier_token_hash(&token);
    (token, hash)
}

/// The stored form of a supplier link's token.
pub fn supplier_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Signs links for one email.
pub struct LinkMaker {
    key: Vec<u8>,
    base: String,
}

impl LinkMaker {
    /// Every email with links loads this: one statement once the secret exists.
    pub fn load(conn: &mut PgConnection) -> QueryResult<Self> {
        let rows: Vec<(String, String)> = app_secrets::table
            .filter(app_secrets::name.eq_any([LINK_SECRET_ROW, PUBLIC_URL_ROW]))
            .select((app_secrets::name, app_secrets::value))
            .load(conn)?;
        let value = |name: &str| {
            rows.iter()
                .find(|(row, _)| row == name)
                .map(|(_, value)| value.clone())
        };
        let key = match value(LINK_SECRET_ROW) {
            Some(secret) => key_from_secret(&secret),
            None => signing_key(conn)?,
        };
        Ok(Self {
            key,
            base: value(PUBLIC_URL_ROW).unwrap_or_else(|| FALLBACK_PUBLIC_URL.to_owned()),
        })
    }

    pub fn url(&self, action: LinkAction, id: i64, line_id: Option<i64>) -> String {
        let token = sign(&self.key, &LinkClaim::new(action, id, line_id));
        match action {
            LinkAction::Unsubscribe => format!("{}/unsubscribe/{token}", self.base),
            _ => format!("{}/l/{token}", self.base),
        }
    }

    /// A supplier's page for a purchase order (`new_supplier_token`).
    pub fn supplier_url(&self, token: &str) -> String {
        format!("{}/supplier/{token}", self.base)
    }

    /// The order's status page ("Follow your order").
    pub fn status_url(&self, order_id: i64) -> String {
        format!("{}/s/{}", self.base, sign_status(&self.key, order_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a key for the tests";

    #[test]
    fn a_signed_claim_verifies_and_reads_back() {
        let claim = LinkClaim::new(LinkAction::CancelWaiting, 42, Some(7));
        let token = sign(KEY, &claim);
        assert_eq!(verify(KEY, &token, 0), Ok(claim));
    }

    #[test]
    fn a_changed_payload_or_signature_or_key_is_tampered() {
        let claim = LinkClaim::new(LinkAction::Wait, 42, None);
        let token = sign(KEY, &claim);
        let forged = sign(
            KEY,
            &LinkClaim {
                id: 43,
                ..claim.clone()
            },
        );
        let (payload, _) = forged.split_once('.').unwrap();
        let (_, signature) = token.split_once('.').unwrap();
        assert_eq!(
            verify(KEY, &format!("{payload}.{signature}"), 0),
            Err(LinkError::Tampered)
        );
        assert_eq!(verify(b"another key", &token, 0), Err(LinkError::Tampered));
        assert_eq!(verify(KEY, "garbage", 0), Err(LinkError::Tampered));
        assert_eq!(
            verify(KEY, &format!("{token}x"), 0),
            Err(LinkError::Tampered)
        );
    }

    #[test]
    fn a_status_link_only_opens_the_status_page() {
        let status = sign_status(KEY, 42);
        assert_eq!(verify_status(KEY, &status), Ok(42));
        assert_eq!(verify(KEY, &status, 0), Err(LinkError::Tampered));
        let choice = sign(KEY, &LinkClaim::new(LinkAction::Wait, 42, None));
        assert_eq!(verify_status(KEY, &choice), Err(LinkError::Tampered));
        assert_eq!(
            verify_status(b"another key", &status),
            Err(LinkError::Tampered)
        );
        let (_, signature) = status.split_once('.').unwrap();
        let (other, _) = sign_status(KEY, 43)
            .split_once('.')
            .map(|(p, s)| (p.to_owned(), s.to_owned()))
            .unwrap();
        assert_eq!(
            verify_status(KEY, &format!("{other}.{signature}")),
            Err(LinkError::Tampered)
        );
    }

    #[test]
    fn a_swap_link_names_its_alternative_and_line() {
        let claim = LinkClaim::new(LinkAction::Swap { alternative: 9 }, 42, Some(7));
        let token = sign(KEY, &claim);
        let read = verify(KEY, &token, 0).unwrap();
        assert_eq!(read.action, LinkAction::Swap { alternative: 9 });
        assert_eq!(read.line_id, Some(7));
    }

    #[test]
    fn an_old_link_is_expired() {
        let claim = LinkClaim::new(LinkAction::ShipReady, 1, None);
        let token = sign(KEY, &claim);
        assert_eq!(
            verify(KEY, &token, claim.expires_at + 1),
            Err(LinkError::Expired)
        );
    }
}
