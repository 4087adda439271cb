//! `POST /api/v1/purchase-orders` and `POST /api/v1/purchase-orders/{reference}/receipts`.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::domain::{MAX_UNITS, MAX_UNITS_TEXT};
use crate::error::AppError;
use crate::services::purchasing::{self, NewPurchaseOrder, Outcome, ReceiptLine};
use crate::services::purchasing::{PurchaseOrderView, ReceiptView};
use crate::types::{Reference, Sku, single_line_of};
use crate::web::api::openapi::BodyRefusals;
use crate::web::api::{BearerToken, Problems, json_response, parse_date, parse_json};
use crate::web::errors::ApiErrorBody;
use crate::web::errors::ApiResult;
use crate::web::state::AppState;

/// A purchase order from the purchasing system.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseOrderBody {
    reference: String,
    supplier: String,
    #[schema(format = Date)]
    expected_on: String,
    lines: Vec<LineBody>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = PurchaseOrderLineBody)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    sku: String,
    quantity: i64,
}

/// Goods received against a purchase order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    lines: Vec<LineBody>,
}

fn validate_lines(problems: &mut Problems, lines: &[LineBody]) -> Vec<(Sku, i32)> {
    if lines.is_empty() {
        problems.add("lines", "at least one line is needed");
    }
    if lines.len() > 1000 {
        problems.add("lines", "at most 1000 lines");
    }
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let sku = problems.check(
            format!("lines[{i}].sku"),
            Sku::parse(&line.sku).map_err(|e| e.to_string()),
        );
        if !(1..=i64::from(MAX_UNITS)).contains(&line.quantity) {
            problems.add(
                format!("lines[{i}].quantity"),
                format!("the quantity must be a whole number from 1 to {MAX_UNITS_TEXT}"),
            );
        }
        if let Some(sku) = sku {
            if out.iter().any(|(seen, _): &(Sku, i32)| seen == &sku) {
                problems.add(
                    format!("lines[{i}].sku"),
                    format!("{sku} appears twice; give one line per SKU"),
                );
            }
            out.push((sku, line.quantity.clamp(0, i32::MAX as i64) as i32));
        }
    }
    out
}

/// Creates a purchase order; idempotent by reference.
#[utoipa::path(
    post,
    path = "/api/v1/purchase-orders",
    tag = "purchase orders",
    request_body = PurchaseOrderBody,
    responses(
        (status = 201, description = "Created", body = PurchaseOrderView),
        (status = 200, description = "The same purchase order was stored before", body = PurchaseOrderView),
        (status = 409, description = "A different purchase order has this reference", body = ApiErrorBody),
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
    let parsed = parse_json::<PurchaseOrderBody>(&body);
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        let actor = token.authenticate(conn)?;
        let body = parsed.map_err(|e| e.0)?;
        let mut problems = Problems::default();
        let reference = problems.check("reference", Reference::parse(&body.reference));
        let supplier = problems
            .check(
                "supplier",
                single_line_of(
                    &body.supplier,
                    200,
                    "give the supplier's name (1 to 200 characters)",
                ),
            )
            .unwrap_or_default();
        let expected_on = problems.check("expected_on", parse_date(&body.expected_on));
        let lines = validate_lines(&mut problems, &body.lines);
        problems.into_result()?;
        let (Some(reference), Some(expected_on)) = (reference, expected_on) else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "validated purchase order is missing a field"
            )));
        };
        purchasing::create_purchase_order(
            conn,
            &actor,
            NewPurchaseOrder {
                reference,
                supplier,
                expected_on,
                lines,
            },
            crate::clock::today(),
        )
    })
    .await?;
    Ok(match outcome {
        Outcome::Created(view) => json_response(StatusCode::CREATED, &view),
        Outcome::AlreadyStored(view) => json_response(StatusCode::OK, &view),
    })
}

/// Receives goods (in part or whole) and allocates them down each product's queue; the
/// same `Idempotency-Key` again is received once.
#[utoipa::path(
    post,
    path = "/api/v1/purchase-orders/{reference}/receipts",
    tag = "purchase orders",
    params(
        ("reference" = String, Path, description = "The purchase order's reference"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key again is received once"),
    ),
    request_body = ReceiptBody,
    responses(
        (status = 201, description = "Received", body = ReceiptView),
        (status = 200, description = "This Idempotency-Key was received before", body = ReceiptView),
        (status = 404, description = "No such purchase order", body = ApiErrorBody),
        (status = 409, description = "The purchase order is closed", body = ApiErrorBody),
        BodyRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn receive(
    req: HttpRequest,
    state: web::Data<AppState>,
    reference: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let token = BearerToken::from_request(&req);
    let parsed = parse_json::<ReceiptBody>(&body);
    let idempotency_key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let reference = reference.into_inner();
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        let actor = token.authenticate(conn)?;
        let body = parsed.map_err(|e| e.0)?;
        let mut problems = Problems::default();
        if idempotency_key.as_ref().is_some_and(|k| k.len() > 200) {
            problems.add("Idempotency-Key", "at most 200 characters");
        }
        let lines = validate_lines(&mut problems, &body.lines);
        problems.into_result()?;
        let lines = lines
            .into_iter()
            .map(|(sku, quantity)| ReceiptLine { sku, quantity })
            .collect();
        let key = idempotency_key.map(|k| format!("api:{k}"));
        purchasing::receive::receive(conn, &actor, &reference, lines, key, crate::clock::today())
    })
    .await?;
    Ok(match outcome {
        Outcome::Created(view) => json_response(StatusCode::CREATED, &view),
        Outcome::AlreadyStored(view) => json_response(StatusCode::OK, &view),
    })
}
