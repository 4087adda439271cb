//! `POST /api/v1/restock-subscriptions`: "notify me when it is back".

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::error::AppError;
use crate::services::inventory::subscriptions;
use crate::services::inventory::subscriptions::SubscriptionView;
use crate::types::{Email, Sku};
use crate::web::api::openapi::BodyRefusals;
use crate::web::api::{BearerToken, Problems, json_response, parse_json};
use crate::web::errors::ApiErrorBody;
use crate::web::errors::ApiResult;
use crate::web::state::AppState;

/// A "notify me when it is back" sign-up.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionBody {
    sku: String,
    email: String,
}

/// Signs an email up for one back-in-stock email about a SKU.
#[utoipa::path(
    post,
    path = "/api/v1/restock-subscriptions",
    tag = "products",
    request_body = SubscriptionBody,
    responses(
        (status = 201, description = "Signed up", body = SubscriptionView),
        (status = 200, description = "Signed up before", body = SubscriptionView),
        (status = 404, description = "No such product", body = ApiErrorBody),
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
    let parsed = parse_json::<SubscriptionBody>(&body);
    let (view, created) = crate::db::blocking(&state.pool, move |conn| {
        let actor = token.authenticate(conn)?;
        let body = parsed.map_err(|e| e.0)?;
        let mut problems = Problems::default();
        let sku = problems.check("sku", Sku::parse(&body.sku).map_err(|e| e.to_string()));
        let email = problems.check("email", Email::parse(&body.email));
        problems.into_result()?;
        let (Some(sku), Some(email)) = (sku, email) else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "validated subscription is missing a field"
            )));
        };
        subscriptions::subscribe(conn, &actor, &sku, &email)
    })
    .await?;
    Ok(json_response(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &view,
    ))
}
