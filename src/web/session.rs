//! Who is asking: the signed-in user from the encrypted session cookie, the CSRF token
//! that every state-changing form and htmx request must carry, and role checks.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use rand::Rng;

use crate::db::audit::Actor;
use crate::db::users::{self, Role};
use crate::error::AppError;
use crate::startup::AppState;

const USER_ID: &str = "uid";
const EPOCH: &str = "epoch";
const CSRF: &str = "csrf";
const SIGNED_IN_AT: &str = "at";
/// A session ends after this long, however active.
pub const SESSION_HOURS: i64 = 12;
pub const CSRF_HEADER: &str = "X-CSRF-Token";
pub const CSRF_FIELD: &str = "csrf_token";

/// The signed-in staff member, loaded fresh from the database on every request so that a
/// disabled account or a changed role takes effect at once.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub csrf: String,
}

impl CurrentUser {
    /// Refuses with 403 unless the user's role includes `required`.
    pub fn require(&self, required: Role) -> Result<(), AppError> {
        if self.role.allows(required) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.id,
            email: self.email.clone(),
        }
    }

    pub fn is_manager(&self) -> bool {
        self.role.allows(Role::Manager)
    }

    pub fn is_admin(&self) -> bool {
        self.role.allows(Role::Admin)
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let session = req.get_session();
        let state = req.app_data::<Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("no app state")))?;
            let user_id = session
                .get::<i64>(USER_ID)
                .ok()
                .flatten()
                .ok_or(AppError::LoginRequired)?;
            let epoch = session.get::<i32>(EPOCH).ok().flatten().unwrap_or(-1);
            let signed_in_at = session.get::<i64>(SIGNED_IN_AT).ok().flatten().unwrap_or(0);
            if chrono::Utc::now().timestamp() - signed_in_at > SESSION_HOURS * 3600 {
                session.purge();
                return Err(AppError::LoginRequired);
            }
            let user =
                crate::db::blocking(&state.pool, move |conn| Ok(users::find(conn, user_id)?))
                    .await?;
            match user {
                Some(user) if !user.disabled && user.session_epoch == epoch => Ok(CurrentUser {
                    id: user.id,
                    role: user.role(),
                    email: user.email,
                    name: user.name,
                    csrf: csrf_token(&session),
                }),
                _ => {
                    session.purge();
                    Err(AppError::LoginRequired)
                }
            }
        })
    }
}

/// The session's CSRF token, made on first use.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(CSRF) {
        return token;
    }
    let token = hex::encode(rand::rng().random::<[u8; 32]>());
    let _ = session.insert(CSRF, &token);
    token
}

/// Starts a fresh session for `user` (a new cookie and a new CSRF token, so nothing from
/// before the sign-in carries over).
pub fn sign_in(session: &Session, user: &users::User) -> Result<(), AppError> {
    session.renew();
    session.clear();
    let store = |key: &str, value: serde_json::Value| {
        session
            .insert(key, value)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))
    };
    store(USER_ID, user.id.into())?;
    store(EPOCH, user.session_epoch.into())?;
    store(SIGNED_IN_AT, chrono::Utc::now().timestamp().into())?;
    csrf_token(session);
    Ok(())
}

pub fn sign_out(session: &Session) {
    session.purge();
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: every POST, PUT, PATCH and DELETE outside the bearer-token API must carry
/// the session's CSRF token, in the `X-CSRF-Token` header (htmx), a `csrf_token` form
/// field, or (for file uploads) the `csrf_token` query parameter. Otherwise: 403.
pub async fn verify_csrf(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    let safe = matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    if safe || req.path().starts_with("/api/") {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let expected = req.get_session().get::<String>(CSRF).ok().flatten();
    let mut provided = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| field(req.query_string().as_bytes(), CSRF_FIELD));
    let is_form = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if provided.is_none() && is_form {
        let body = req.extract::<Bytes>().await?;
        provided = field(&body, CSRF_FIELD);
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    let valid = match (expected, provided) {
        (Some(expected), Some(provided)) => {
            constant_time_eq(expected.as_bytes(), provided.as_bytes())
        }
        _ => false,
    };
    if valid {
        Ok(next.call(req).await?.map_into_left_body())
    } else {
        tracing::warn!(path = %req.path(), "refused a request without a valid CSRF token");
        let response: HttpResponse = AppError::CsrfRejected.error_response();
        Ok(req.into_response(response).map_into_right_body())
    }
}

fn field(encoded: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
