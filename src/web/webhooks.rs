//! `POST /webhooks/shopify` and `POST /webhooks/woocommerce`: the storefronts' order
//! webhooks. No session and no CSRF token: the platform's signature is the credential.
//! Answers are JSON; 401 for a bad signature, 422 for an order that waits on the
//! Integrations page (so the platform retries it, and a retry after the fix takes it in).

use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::FieldError;
use crate::services::webhooks::{self, Delivery, Platform, WebhookError};
use crate::web::api::json_response;
use crate::web::errors::ApiError;
use crate::web::state::AppState;

/// Far above a real order's payload (a 500-line Shopify order is about 750 KiB).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/webhooks")
            .app_data(web::PayloadConfig::default().limit(MAX_BODY_BYTES))
            .wrap(ErrorHandlers::new().handler(
                StatusCode::PAYLOAD_TOO_LARGE,
                crate::web::api::too_large_as_json,
            ))
            // Reads the body whole first, so a sender of one too large sees the 413.
            .wrap(from_fn(crate::web::input::read_webhook_body))
            .route("/shopify", web::post().to(shopify))
            .route("/woocommerce", web::post().to(woocommerce)),
    );
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The headers that carry a platform's topic, delivery id and signature.
fn headers(platform: Platform) -> [&'static str; 3] {
    match platform {
        Platform::Shopify => [
            "X-Shopify-Topic",
            "X-Shopify-Webhook-Id",
            "X-Shopify-Hmac-Sha256",
        ],
        Platform::WooCommerce => [
            "X-WC-Webhook-Topic",
            "X-WC-Webhook-Delivery-ID",
            "X-WC-Webhook-Signature",
        ],
    }
}

fn delivery(req: &HttpRequest, platform: Platform, body: Bytes) -> Delivery {
    let [topic, id, signature] = headers(platform);
    Delivery {
        platform,
        topic: header(req, topic),
        id: header(req, id),
        signature: header(req, signature),
        body: body.to_vec(),
    }
}

pub async fn shopify(req: HttpRequest, state: web::Data<AppState>, body: Bytes) -> HttpResponse {
    receive(&state, delivery(&req, Platform::Shopify, body)).await
}

pub async fn woocommerce(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Bytes,
) -> HttpResponse {
    receive(&state, delivery(&req, Platform::WooCommerce, body)).await
}

#[derive(Serialize)]
struct Answer<'a> {
    outcome: &'a str,
    order: Option<&'a str>,
    message: &'a str,
}

#[derive(Serialize)]
struct Refusal<'a> {
    error: String,
    details: &'a [FieldError],
}

async fn receive(state: &AppState, delivery: Delivery) -> HttpResponse {
    if webhooks::is_woocommerce_ping(&delivery) {
        return json_response(
            StatusCode::OK,
            &Answer {
                outcome: "pong",
                order: None,
                message: "the endpoint is reachable",
            },
        );
    }
    let platform = delivery.platform;
    let secrets = state.settings.webhook_secrets.clone();
    let result = crate::db::blocking(&state.pool, move |conn| {
        Ok(webhooks::receive(
            conn,
            &secrets,
            delivery,
            crate::clock::today(),
        ))
    })
    .await;
    match result {
        Ok(Ok(receipt)) => json_response(
            StatusCode::OK,
            &Answer {
                outcome: receipt.outcome,
                order: receipt.order.as_deref(),
                message: &receipt.message,
            },
        ),
        Ok(Err(error @ (WebhookError::NoSecret(_) | WebhookError::BadSignature))) => {
            tracing::warn!(platform = platform.as_str(), %error, "refused a webhook");
            json_response(
                StatusCode::UNAUTHORIZED,
                &Refusal {
                    error: error.to_string(),
                    details: &[],
                },
            )
        }
        Ok(Err(WebhookError::Refused { message, details })) => {
            tracing::info!(platform = platform.as_str(), %message, "a webhook's order waits on the Integrations page");
            json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &Refusal {
                    error: message,
                    details: &details,
                },
            )
        }
        Ok(Err(WebhookError::App(error))) | Err(error) => ApiError(error).error_response(),
    }
}
