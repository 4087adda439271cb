//! `POST /api/v1/orders` (idempotent by order number) and `GET /api/v1/orders/{number}`.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::services::orders::OrderView;
use crate::services::orders::{self, NewOrder, NewOrderLine, Placed};
use crate::types::{Email, Reference, Sku, single_line_of};
use crate::web::api::openapi::{BodyRefusals, ReadRefusals};
use crate::web::api::{BearerToken, Problems, json_response, parse_date, parse_json};
use crate::web::errors::ApiErrorBody;
use crate::web::errors::ApiResult;
use crate::web::state::AppState;

/// A new order from the storefront.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    number: String,
    /// When the storefront took the order; it decides the place in line. Left out: the
    /// server's clock when the order is taken in.
    #[schema(format = DateTime)]
    placed_at: Option<String>,
    customer: CustomerBody,
    lines: Vec<LineBody>,
    #[schema(format = Date)]
    payment_authorized_until: Option<String>,
    #[schema(format = Date)]
    max_wait_until: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    email: String,
    name: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = OrderLineBody)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    sku: String,
    quantity: i64,
    unit_price_cents: i64,
}

/// Checks every field, naming each problem, and builds the order to place.
fn validate(body: OrderBody, request_hash: String) -> Result<NewOrder, AppError> {
    let mut problems = Problems::default();
    let number = problems.check("number", Reference::parse(&body.number));
    // Without a time of its own the order is stamped at intake, under its products' locks.
    let placed_at = match body.placed_at.as_deref() {
        None => Some(None),
        Some(raw) => problems.check(
            "placed_at",
            DateTime::parse_from_rfc3339(raw.trim())
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| {
                    format!(
                        "{:?} is not a time like 2026-11-22T10:30:00Z",
                        crate::types::truncate(raw)
                    )
                }),
        ),
    };
    let email = problems.check("customer.email", Email::parse(&body.customer.email));
    let name = problems
        .check(
            "customer.name",
            single_line_of(
                &body.customer.name,
                200,
                "give the customer's name (1 to 200 characters)",
            ),
        )
        .unwrap_or_default();
    let optional_date = |problems: &mut Problems, field: &str, raw: &Option<String>| {
        raw.as_deref()
            .and_then(|raw| problems.check(field, parse_date(raw)))
    };
    let authorized_until = optional_date(
        &mut problems,
        "payment_authorized_until",
        &body.payment_authorized_until,
    );
    let max_wait_until = optional_date(&mut problems, "max_wait_until", &body.max_wait_until);
    if body.lines.is_empty() {
        problems.add("lines", "an order needs at least one line");
    }
    if body.lines.len() > 500 {
        problems.add("lines", "an order has at most 500 lines");
    }
    let mut lines = Vec::with_capacity(body.lines.len());
    for (i, line) in body.lines.iter().enumerate() {
        let sku = problems.check(
            format!("lines[{i}].sku"),
            Sku::parse(&line.sku).map_err(|e| e.to_string()),
        );
        if !(1..=100_000).contains(&line.quantity) {
            problems.add(
                format!("lines[{i}].quantity"),
                "the quantity must be a whole number from 1 to 100000",
            );
        }
        if !(0..=10_000_000_000).contains(&line.unit_price_cents) {
            problems.add(
                format!("lines[{i}].unit_price_cents"),
                "the price must be 0 or more cents",
            );
        }
        if let Some(sku) = sku {
            lines.push(NewOrderLine {
                sku,
                quantity: line.quantity as i32,
                unit_price_cents: line.unit_price_cents,
            });
        }
    }
    problems.into_result()?;
    match (number, placed_at, email) {
        (Some(number), Some(placed_at), Some(customer_email)) => Ok(NewOrder {
            number,
            placed_at,
            customer_email,
            customer_name: name,
            lines,
            payment_authorized_until: authorized_until,
            max_wait_until,
            request_hash,
        }),
        _ => Err(AppError::Internal(anyhow::anyhow!(
            "validated order is missing a field"
        ))),
    }
}

/// Places an order: free stock first, the rest queued; idempotent by order number.
#[utoipa::path(
    post,
    path = "/api/v1/orders",
    tag = "orders",
    request_body = OrderBody,
    responses(
        (status = 201, description = "Placed", body = OrderView),
        (status = 200, description = "The same order was stored before", body = OrderView),
        (status = 409, description = "A different order has this number", body = ApiErrorBody),
        BodyRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let token = BearerToken::from_request(&req);
    let parsed = parse_json::<OrderBody>(&body);
    let request_hash = request_digest(&body);
    let actor = token.actor(&state).await?;
    let order = validate(parsed.map_err(|e| e.0)?, request_hash)?;
    // Placed with the orders that arrive with it, in one transaction (group commit); the
    // request waits for its answer without holding a connection.
    let placed = state.order_lanes.place(actor, order).await?;
    Ok(match placed {
        Placed::Created(view) => json_response(StatusCode::CREATED, &view),
        Placed::AlreadyStored(view) => json_response(StatusCode::OK, &view),
    })
}

/// A digest of what the request says, not how it is spelled: the same order sent again
/// with other spacing or key order is the same order.
fn request_digest(body: &Bytes) -> String {
    fn canonical(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                    map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
                serde_json::Value::Object(sorted.into_iter().collect())
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(canonical).collect())
            }
            other => other,
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => hex::encode(Sha256::digest(canonical(value).to_string().as_bytes())),
        Err(_) => hex::encode(Sha256::digest(body)),
    }
}

/// An order's status, and per line what waits and when it ships.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{number}",
    tag = "orders",
    params(("number" = String, Path, description = "The order number")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        ReadRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    number: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let token = BearerToken::from_request(&req);
    let number = number.into_inner();
    let view = crate::db::blocking(&state.pool, move |conn| {
        token.authenticate(conn)?;
        orders::order_view(conn, &number, crate::clock::today())?
            .ok_or_else(|| AppError::NotFound(format!("order {}", crate::types::truncate(&number))))
    })
    .await?;
    Ok(json_response(StatusCode::OK, &view))
}
