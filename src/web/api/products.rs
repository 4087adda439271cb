//! `PUT` and `GET /api/v1/products/{sku}` (GET answers the product as PUT takes it) and
//! `GET /api/v1/products/{sku}/availability`.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::domain::{MAX_UNITS, MAX_UNITS_TEXT};
use crate::error::AppError;
use crate::services::inventory::alternatives;
use crate::services::inventory::catalog::{self, ProductChanges, Upserted};
use crate::services::inventory::catalog::{Availability, ProductDocument, ProductView};
use crate::services::purchasing::sourcing::{self, SupplierEntry};
use crate::types::{Sku, single_line_of};
use crate::web::api::openapi::{BodyRefusals, ReadRefusals};
use crate::web::api::{BearerToken, Problems, json_response, parse_json};
use crate::web::errors::ApiResult;
use crate::web::reads::Reads;
use crate::web::state::AppState;

/// A product's fields to set; `name` is required when the SKU is new.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    /// The path's SKU again (as `GET` answers it); another SKU is refused.
    sku: Option<String>,
    name: Option<String>,
    supplier: Option<String>,
    on_hand: Option<i64>,
    backorderable: Option<bool>,
    reorder_point: Option<i64>,
    safety_stock: Option<i64>,
    unit_price_cents: Option<i64>,
    /// Replaces the product's suppliers, in order; the first is the primary (`supplier`).
    suppliers: Option<Vec<SupplierBody>>,
    /// A pre-order's release day, `YYYY-MM-DD`; null clears it (no longer a pre-order).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Date)]
    preorder_release_on: Option<Option<String>>,
    /// Replaces the product's alternatives: other existing SKUs, in order of preference,
    /// offered to waiting customers when one ships sooner. `[]` clears them.
    alternatives: Option<Vec<String>>,
}

/// A field that may be null: `Some(None)` when it is sent as null, `None` when absent.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// One supplier of the product with its terms; an unknown name is created.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierBody {
    name: String,
    lead_time_days: Option<i32>,
    unit_cost_cents: Option<i64>,
    /// Where purchase orders to this supplier are emailed; null clears it, absent leaves
    /// it as it is. One address per supplier, shared by all its products.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Email)]
    contact_email: Option<Option<String>>,
}

fn validate(sku: &str, body: ProductBody) -> Result<ProductChanges, AppError> {
    let mut problems = Problems::default();
    let sku = problems.check("sku", Sku::parse(sku).map_err(|e| e.to_string()));
    if let (Some(path_sku), Some(body_sku)) = (&sku, &body.sku)
        && path_sku.as_str() != body_sku.trim()
    {
        problems.add(
            "sku",
            format!(
                "the body names SKU {} but the address is for {path_sku}; the SKU cannot be changed",
                crate::types::truncate(body_sku)
            ),
        );
    }
    if let (Some(own), Some(list)) = (&sku, &body.alternatives) {
        for problem in alternatives::check_entries(own.as_str(), list) {
            problems.add(problem.field, problem.message);
        }
    }
    let name = body.name.and_then(|name| {
        problems.check(
            "name",
            single_line_of(&name, 300, "the name must be 1 to 300 characters"),
        )
    });
    let supplier = body.supplier.and_then(|supplier| {
        problems.check(
            "supplier",
            single_line_of(
                &supplier,
                200,
                "the supplier's name must be 1 to 200 characters",
            ),
        )
    });
    let mut count = |field: &str, value: Option<i64>| -> Option<i32> {
        let value = value?;
        if (0..=i64::from(MAX_UNITS)).contains(&value) {
            Some(value as i32)
        } else {
            problems.add(
                field,
                format!("must be a whole number from 0 to {MAX_UNITS_TEXT}"),
            );
            None
        }
    };
    let on_hand = count("on_hand", body.on_hand);
    let reorder_point = count("reorder_point", body.reorder_point);
    let safety_stock = count("safety_stock", body.safety_stock);
    if let Some(price) = body.unit_price_cents
        && !(0..=10_000_000_000).contains(&price)
    {
        problems.add("unit_price_cents", "must be 0 or more cents");
    }
    let suppliers = body.suppliers.map(|list| {
        list.into_iter()
            .map(|entry| SupplierEntry {
                name: entry.name,
                lead_time_days: entry.lead_time_days,
                unit_cost_cents: entry.unit_cost_cents,
                contact_email: entry.contact_email,
            })
            .collect::<Vec<_>>()
    });
    if let Some(list) = &suppliers {
        for problem in sourcing::check_entries("suppliers", list) {
            problems.add(&problem.field, problem.message);
        }
        if let (Some(primary), Some(first)) = (&supplier, list.first())
            && !primary.eq_ignore_ascii_case(first.name.trim())
        {
            problems.add(
                "supplier",
                "the primary supplier must be the first of suppliers",
            );
        }
    }
    let preorder_release_on = match body.preorder_release_on {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => problems
            .check("preorder_release_on", super::parse_date(&raw))
            .map(Some),
    };
    problems.into_result()?;
    let sku = sku.ok_or_else(|| AppError::invalid("sku", "the SKU is not valid"))?;
    Ok(ProductChanges {
        sku,
        name,
        supplier,
        on_hand,
        backorderable: body.backorderable,
        reorder_point,
        safety_stock,
        unit_price_cents: body.unit_price_cents,
        suppliers,
        preorder_release_on,
        alternatives: body.alternatives,
    })
}

/// Creates or updates a product; a rise in `on_hand` allocates down the queue.
#[utoipa::path(
    put,
    path = "/api/v1/products/{sku}",
    tag = "products",
    params(("sku" = String, Path, description = "The product's SKU")),
    request_body = ProductBody,
    responses(
        (status = 201, description = "Created", body = ProductView),
        (status = 200, description = "Updated", body = ProductView),
        BodyRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn upsert(
    req: HttpRequest,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let token = BearerToken::from_request(&req);
    let parsed = parse_json::<ProductBody>(&body);
    let sku = sku.into_inner();
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        let actor = token.authenticate(conn)?;
        let changes = validate(&sku, parsed.map_err(|e| e.0)?)?;
        catalog::upsert_product(conn, &actor, changes, crate::clock::today())
    })
    .await?;
    Ok(match outcome {
        Upserted::Created(view) => json_response(StatusCode::CREATED, &view),
        Upserted::Updated(view) => json_response(StatusCode::OK, &view),
    })
}

/// The product as `PUT` takes it (same fields), so a read, an edit and a write back work.
#[utoipa::path(
    get,
    path = "/api/v1/products/{sku}",
    tag = "products",
    params(("sku" = String, Path, description = "The product's SKU")),
    responses(
        (status = 200, description = "The product", body = ProductDocument),
        ReadRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    sku: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let token = BearerToken::from_request(&req);
    let sku = sku.into_inner();
    let document = crate::db::blocking(&state.pool, move |conn| {
        token.authenticate(conn)?;
        catalog::document(conn, &sku)?
            .ok_or_else(|| AppError::NotFound(format!("product {}", crate::types::truncate(&sku))))
    })
    .await?;
    Ok(json_response(StatusCode::OK, &document))
}

/// Can the SKU be sold now, and when would a new order for one unit ship?
#[utoipa::path(
    get,
    path = "/api/v1/products/{sku}/availability",
    tag = "products",
    params(("sku" = String, Path, description = "The product's SKU")),
    responses(
        (status = 200, description = "The product's availability", body = Availability),
        ReadRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn availability(
    req: HttpRequest,
    state: web::Data<AppState>,
    sku: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let token = BearerToken::from_request(&req);
    let sku = sku.into_inner();
    let shared = state.clone();
    // The storefront asks this for every product page it shows: the answer (and the
    // token's check) is shared between requests for a moment (`web::recent`).
    let view = if state.reads.replica.is_none() {
        crate::db::blocking(&state.pool, move |conn| {
            token.authenticate_recent(conn, &shared.api_tokens)?;
            availability_of(conn, &shared, &sku)
        })
        .await?
    } else {
        // The token's check notes when it was last used: a write, the primary's. The
        // answer is read from the replica (`web::reads`).
        token.actor(&state).await?;
        Reads::for_program(&state)
            .blocking(move |conn| availability_of(conn, &shared, &sku))
            .await?
    };
    Ok(json_response(StatusCode::OK, view.as_ref()))
}

fn availability_of(
    conn: &mut diesel::PgConnection,
    state: &AppState,
    sku: &str,
) -> Result<std::sync::Arc<catalog::Availability>, AppError> {
    let today = crate::clock::today();
    state.availability.get(&(sku.to_owned(), today), || {
        catalog::availability(conn, sku, today)?
            .ok_or_else(|| AppError::NotFound(format!("product {}", crate::types::truncate(sku))))
    })
}
