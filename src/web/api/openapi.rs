//! `GET /api/v1/openapi.json`: the API's contract as an OpenAPI 3.1 document, derived
//! (`utoipa`) from the very types the handlers read and write and from each handler's
//! `#[utoipa::path]`, so clients can be generated from it. No token: the document says
//! nothing about the shop.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::web::api::json_response;
use crate::web::errors::ApiErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Backorder Desk API",
        description = "For the storefront and the purchasing or warehouse system: orders, products and their availability, purchase orders and receipts, restock sign-ups. Bearer-token auth (`backorder-desk api-token create`); dates `YYYY-MM-DD`, times RFC 3339; errors `{\"error\", \"details\": [{\"field\", \"message\"}]}`.",
    ),
    paths(
        super::orders::create,
        super::orders::show,
        super::products::upsert,
        super::products::show,
        super::products::availability,
        super::purchase_orders::create,
        super::purchase_orders::receive,
        super::subscriptions::create,
        document,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `backorder-desk api-token create` or Admin → API tokens",
                    ))
                    .build(),
            ),
        );
    }
}

/// The refusals every route with a JSON body may answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, reason = "describes answers; never built")]
pub enum BodyRefusals {
    #[response(status = 400, description = "The body is not JSON")]
    Malformed(#[to_schema] ApiErrorBody<'static>),
    #[response(status = 401, description = "No valid API token")]
    Unauthorized(#[to_schema] ApiErrorBody<'static>),
    #[response(status = 413, description = "The body is over 256 KiB")]
    TooLarge(#[to_schema] ApiErrorBody<'static>),
    #[response(
        status = 422,
        description = "A field is wrong; each is named in `details`"
    )]
    Invalid(#[to_schema] ApiErrorBody<'static>),
    #[response(status = 503, description = "The database is not reachable; try again")]
    Unavailable(#[to_schema] ApiErrorBody<'static>),
}

/// The refusals every read may answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, reason = "describes answers; never built")]
pub enum ReadRefusals {
    #[response(status = 401, description = "No valid API token")]
    Unauthorized(#[to_schema] ApiErrorBody<'static>),
    #[response(status = 404, description = "Not found")]
    NotFound(#[to_schema] ApiErrorBody<'static>),
    #[response(status = 503, description = "The database is not reachable; try again")]
    Unavailable(#[to_schema] ApiErrorBody<'static>),
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "contract",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn document() -> HttpResponse {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    json_response(StatusCode::OK, &doc)
}
