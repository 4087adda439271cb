//! Who is asking: the signed-in user, from the session id in the encrypted cookie looked up
//! on the server (`accounts::session_user`), the CSRF token that every state-changing form
//! and htmx request must carry, and role checks.

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
use crate::db::users::Role;
use crate::error::AppError;
use crate::services::admin::accounts;
use crate::web::state::AppState;

/// The session's id: its row in `user_sessions` says whose it is and whether it lives.
const SESSION_ID: &str = "sid";
const CSRF: &str = "csrf";
pub const CSRF_HEADER: &str = "X-CSRF-Token";
pub const CSRF_FIELD: &str = "csrf_token";

/// The signed-in staff member, loaded fresh from the database with the session on every
/// request, so that an ended session, a disabled account or a changed role takes effect
/// at once.
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
            let session_id = session
                .get::<String>(SESSION_ID)
                .ok()
                .flatten()
                .ok_or(AppError::LoginRequired)?;
            // Looked up on every request: a session ended on the server (signed out, the
            // account disabled, its role or password changed) stops here, cookie or not.
            let user = crate::db::blocking(&state.pool, move |conn| {
                accounts::session_user(conn, &session_id)
            })
            .await?;
            match user {
                Some(user) => Ok(CurrentUser {
                    id: user.id,
                    role: user.role(),
                    email: user.email,
                    name: user.name,
                    csrf: csrf_token(&session),
                }),
                None => {
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

/// Puts a new session (started by `accounts::login`) in a fresh cookie with a new CSRF
/// token, so nothing from before the sign-in carries over.
pub fn sign_in(session: &Session, session_id: &str) -> Result<(), AppError> {
    session.renew();
    session.clear();
    session
        .insert(SESSION_ID, session_id)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
    csrf_token(session);
    Ok(())
}

/// The id of the cookie's session, if it has one.
pub fn session_id(session: &Session) -> Option<String> {
    session.get::<String>(SESSION_ID).ok().flatten()
}

/// Forgets the cookie (the session on the server is ended by `accounts`).
pub fn sign_out(session: &Session) {
    session.purge();
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: every POST, PUT, PATCH and DELETE outside the bearer-token API must carry
/// the session's CSRF token, in the `X-CSRF-Token` header (htmx) or a `csrf_token` field of
/// the body (a form, or a multipart upload). Never from the address: a token there ends
/// up in logs, histories and `Referer` headers. Otherwise: 403.
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
        .map(str::to_owned);
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let is_upload = content_type.starts_with("multipart/form-data");
    if provided.is_none() && (is_form || is_upload) {
        // The body was read whole before (`input::read_page_body`); it is put back for
        // the handler.
        let body = req.extract::<Bytes>().await?;
        provided = if is_form {
            field(&body, CSRF_FIELD)
        } else {
            multipart_field(req.headers(), body.clone(), CSRF_FIELD).await
        };
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
        tracing::warn!(
            path = %crate::web::redact::target(req.path()),
            "refused a request without a valid CSRF token"
        );
        let response: HttpResponse = AppError::CsrfRejected.error_response();
        Ok(req.into_response(response).map_into_right_body())
    }
}

/// The text of a short field of a multipart body, if it has one by that name.
async fn multipart_field(
    headers: &actix_web::http::header::HeaderMap,
    body: Bytes,
    name: &str,
) -> Option<String> {
    use futures_util::StreamExt;
    let stream =
        futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    let mut parts = actix_multipart::Multipart::new(headers, stream);
    while let Some(Ok(mut part)) = parts.next().await {
        let wanted = part.name() == Some(name);
        let mut value = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.ok()?;
            if wanted {
                value.extend_from_slice(&chunk);
                if value.len() > 256 {
                    return None;
                }
            }
        }
        if wanted {
            return String::from_utf8(value).ok();
        }
    }
    None
}

fn field(encoded: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
