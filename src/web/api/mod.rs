//! The JSON API for the storefront and the purchasing or warehouse system (DESIGN §8).
//! Bearer-token auth; JSON in and out; dates `YYYY-MM-DD`, times RFC 3339; errors
//! `{"error": ..., "details": [...]}`. Each handler authenticates and does its work in
//! one blocking hop.

pub mod openapi;
pub mod orders;
pub mod products;
pub mod purchase_orders;
pub mod subscriptions;

use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use diesel::PgConnection;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::audit::Actor;
use crate::error::{AppError, FieldError};
use crate::services::admin::api_tokens;
use crate::web::errors::ApiError;
use crate::web::recent::Recent;
use crate::web::state::AppState;

/// The largest JSON body accepted: far above any real order, far below harm.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(web::PayloadConfig::default().limit(MAX_BODY_BYTES))
            // The body extractor refuses an oversized body before a handler runs, in plain
            // text; programs get the API's JSON error instead.
            .wrap(ErrorHandlers::new().handler(StatusCode::PAYLOAD_TOO_LARGE, too_large_as_json))
            // Reads the body whole first, so a sender of one too large sees that 413.
            .wrap(from_fn(crate::web::input::read_api_body))
            .route("/openapi.json", web::get().to(openapi::document))
            .route("/orders", web::post().to(orders::create))
            .route("/orders/{number}", web::get().to(orders::show))
            .route("/products/{sku}", web::put().to(products::upsert))
            .route("/products/{sku}", web::get().to(products::show))
            .route(
                "/products/{sku}/availability",
                web::get().to(products::availability),
            )
            .route("/purchase-orders", web::post().to(purchase_orders::create))
            .route(
                "/purchase-orders/{reference}/receipts",
                web::post().to(purchase_orders::receive),
            )
            .route(
                "/restock-subscriptions",
                web::post().to(subscriptions::create),
            )
            .default_service(web::to(|| async {
                ApiError(AppError::NotFound("this API route".to_owned())).into_response()
            })),
    );
}

pub(crate) fn too_large_as_json<B>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (request, _) = response.into_parts();
    let json = ApiError(AppError::PayloadTooLarge).into_response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, json).map_into_right_body(),
    ))
}

trait IntoApiResponse {
    fn into_response(self) -> HttpResponse;
}

impl IntoApiResponse for ApiError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// The token from `Authorization: Bearer ...`, not yet checked.
pub struct BearerToken(Option<String>);

impl BearerToken {
    pub fn from_request(req: &HttpRequest) -> Self {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(|token| token.trim().to_owned());
        Self(token)
    }

    /// The actor behind the token: the answer shared by recent requests when there is one
    /// (no connection taken at all: a burst of storefront orders does not queue for the
    /// pool just to be told what it was told a moment ago), else checked in the database.
    pub async fn actor(self, state: &web::Data<AppState>) -> Result<Actor, AppError> {
        let token = self.0.as_deref().ok_or(AppError::Unauthorized)?;
        if let Some(actor) = state.api_tokens.fresh(&token.to_owned()) {
            return Ok(actor.as_ref().clone());
        }
        let shared = state.clone();
        crate::db::blocking(&state.pool, move |conn| {
            self.authenticate_recent(conn, &shared.api_tokens)
        })
        .await
    }

    /// Checks the token like `authenticate`, sharing the answer for a moment between the
    /// requests of a busy read route (`web::recent`): a revoked token stops working at
    /// once in the process that revoked it, and within the figures' age elsewhere.
    pub fn authenticate_recent(
        &self,
        conn: &mut PgConnection,
        recent: &Recent<String, Actor>,
    ) -> Result<Actor, AppError> {
        let token = self.0.as_deref().ok_or(AppError::Unauthorized)?;
        recent
            .get(&token.to_owned(), || self.authenticate(conn))
            .map(|actor| actor.as_ref().clone())
    }

    /// Checks the token inside the request's blocking hop; the actor for the audit log.
    pub fn authenticate(&self, conn: &mut PgConnection) -> Result<Actor, AppError> {
        let token = self.0.as_deref().ok_or(AppError::Unauthorized)?;
        match api_tokens::authenticate(conn, token)? {
            Some(token_name) => Ok(Actor::Api { token_name }),
            None => Err(AppError::Unauthorized),
        }
    }
}

/// Parses a JSON body, naming the field that is wrong ("lines[1].quantity").
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(AppError::Malformed("the request body is empty; send JSON".to_owned()).into());
    }
    // PostgreSQL cannot store a NUL; name the field that has one. (Raw control bytes are
    // not JSON at all, so only the escape needs looking for.)
    if body.windows(6).any(|w| w == b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(field) = field_with_nul(&value, ".")
    {
        let message = "the text has a NUL character (\\u0000), which cannot be stored".to_owned();
        return Err(ApiError(AppError::Invalid {
            message: format!("{field}: {message}"),
            details: vec![FieldError::new(field, message)],
        }));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        if inner.is_syntax() || inner.is_eof() {
            ApiError(AppError::Malformed(format!(
                "the body is not valid JSON: {message}"
            )))
        } else {
            // serde reports a missing field at its parent; name the field itself.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            let field = match (path.as_str(), missing) {
                (".", Some(name)) => name.to_owned(),
                (_, Some(name)) => format!("{path}.{name}"),
                (".", None) => "body".to_owned(),
                _ => path,
            };
            ApiError(AppError::Invalid {
                message: format!("{field}: {message}"),
                details: vec![FieldError::new(field, message)],
            })
        }
    })
}

/// The path of the first string (or key) holding a NUL, as errors name fields:
/// `customer.name`, `lines[1].sku`.
fn field_with_nul(value: &serde_json::Value, path: &str) -> Option<String> {
    let child = |name: &str| match path {
        "." => name.to_owned(),
        _ => format!("{path}.{name}"),
    };
    match value {
        serde_json::Value::String(text) if text.contains('\0') => Some(match path {
            "." => "body".to_owned(),
            _ => path.to_owned(),
        }),
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let index = format!("[{i}]");
            let at = match path {
                "." => index,
                _ => format!("{path}{index}"),
            };
            field_with_nul(item, &at)
        }),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(child(key))
            } else {
                field_with_nul(item, &child(key))
            }
        }),
        _ => None,
    }
}

/// JSON as the API writes it: `<`, `>` and `&` as `\u` escapes (they occur only inside
/// strings), so no byte of a reply reads as markup, whatever a client does with it.
pub fn to_json(body: &impl Serialize) -> String {
    match serde_json::to_string(body) {
        Ok(text) => text
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
        Err(error) => {
            tracing::error!(%error, "a reply could not be written as JSON");
            r#"{"error":"something went wrong on our side","details":[]}"#.to_owned()
        }
    }
}

pub fn json_response(status: actix_web::http::StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(to_json(body))
}

/// Gathers field errors while checking a request, then fails once with all of them.
#[derive(Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn check<T>(&mut self, field: impl Into<String>, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn into_result(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::invalid_fields(self.0))
        }
    }
}

/// `YYYY-MM-DD`, with a message a programmer can act on.
pub fn parse_date(raw: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        format!(
            "{:?} is not a date like 2026-12-03",
            crate::types::truncate(raw)
        )
    })
}
