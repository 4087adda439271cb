//! `POST /api/v1/restock-subscriptions`: "notify me when it is back".

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::error::{ApiResult, AppError};
use crate::services::subscriptions;
use crate::startup::AppState;
use crate::types::{Email, Sku};
use crate::web::api::{BearerToken, Problems, json_response, parse_json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionBody {
    sku: String,
    email: String,
}

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
