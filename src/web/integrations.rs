//! The Integrations page (admins only): where to point each storefront, the webhook
//! secrets, and the deliveries that wait for a person, with the form that maps an
//! unknown storefront SKU to one of ours and replays the delivery.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::users::Role;
use crate::error::{AppError, AppResult, FieldError};
use crate::services::webhooks::integrations::{self, DeliveryRow, SecretState};
use crate::services::webhooks::{Platform, WebhookError};
use crate::web::orders::Words;
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "pages/admin_integrations.html")]
struct IntegrationsPage {
    frame: Frame,
    public_url: String,
    secrets: Vec<SecretState>,
    waiting: Vec<DeliveryRow>,
    recent: Vec<DeliveryRow>,
    words: Words,
    notice: Option<String>,
    /// A form that failed: the delivery (or the secret's platform) and what was wrong.
    failed: Option<(String, Vec<FieldError>)>,
}

impl IntegrationsPage {
    fn error_for(&self, form: &str, field: &str) -> Option<&str> {
        let (failed_form, errors) = self.failed.as_ref()?;
        if failed_form != form {
            return None;
        }
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    fn delivery_form(id: &i64) -> String {
        format!("delivery-{id}")
    }
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    notice: Option<String>,
    failed: Option<(String, Vec<FieldError>)>,
) -> AppResult<IntegrationsPage> {
    let env = state.settings.webhook_secrets.clone();
    let (secrets, deliveries) =
        crate::db::blocking(&state.pool, move |conn| Ok(integrations::page(conn, &env)?)).await?;
    Ok(IntegrationsPage {
        frame: Frame::new(user, "admin"),
        public_url: state.settings.public_url.clone(),
        secrets,
        waiting: deliveries.waiting,
        recent: deliveries.recent,
        words: Words {
            today: crate::clock::today(),
            currency: String::new(),
        },
        notice,
        failed,
    })
}

#[derive(Deserialize)]
pub struct Shown {
    #[serde(default)]
    saved: String,
    #[serde(default)]
    replayed: String,
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<Shown>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let notice = match (
        Platform::parse(&query.saved),
        query.replayed.parse::<i64>().ok(),
    ) {
        (Some(platform), _) => Some(format!("The {} secret was saved.", platform.label())),
        (None, Some(id)) => Some(format!("Delivery {id} was taken in.")),
        _ => None,
    };
    render::html(&page(&state, &user, notice, None).await?)
}

#[derive(Deserialize)]
pub struct SecretForm {
    #[serde(default)]
    platform: String,
    #[serde(default)]
    secret: String,
}

pub async fn save_secret(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<SecretForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let form = form.into_inner();
    let platform = Platform::parse(&form.platform)
        .ok_or_else(|| AppError::Malformed("choose Shopify or WooCommerce".to_owned()))?;
    let (actor, env) = (user.actor(), state.settings.webhook_secrets.clone());
    let result = crate::db::blocking(&state.pool, move |conn| {
        integrations::set_secret(conn, &actor, &env, platform, &form.secret)
    })
    .await;
    match result {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/admin/integrations?saved={}", platform.as_str()),
            ))
            .finish()),
        Err(AppError::Invalid { details, .. }) => {
            let failed = Some((format!("secret-{}", platform.as_str()), details));
            let body = page(&state, &user, None, failed).await?.render()?;
            Ok(render::form_answer(body, true))
        }
        Err(other) => Err(other),
    }
}

/// Maps the delivery's unknown SKUs (pairs of `storefront_sku` and `sku` fields, in the
/// form's order) and replays it.
pub async fn replay(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    let fields = form.into_inner();
    let storefront = fields.iter().filter(|(k, _)| k == "storefront_sku");
    let ours = fields.iter().filter(|(k, _)| k == "sku");
    let mappings: Vec<(String, String)> = storefront
        .zip(ours)
        .map(|((_, storefront), (_, ours))| (storefront.clone(), ours.clone()))
        .collect();
    let actor = user.actor();
    let result = crate::db::blocking(&state.pool, move |conn| {
        Ok(integrations::map_and_replay(
            conn,
            &actor,
            id,
            &mappings,
            crate::clock::today(),
        ))
    })
    .await?;
    let failed = match result {
        Ok(_) => {
            return Ok(HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/admin/integrations?replayed={id}"),
                ))
                .finish());
        }
        Err(WebhookError::App(AppError::Invalid { details, .. })) => details,
        Err(WebhookError::Refused { message, .. }) => {
            vec![FieldError::new(
                "replay",
                format!("Still not taken in: {message}"),
            )]
        }
        Err(WebhookError::App(other)) => return Err(other),
        Err(other @ (WebhookError::NoSecret(_) | WebhookError::BadSignature)) => {
            return Err(AppError::Internal(anyhow::anyhow!("{other}")));
        }
    };
    let failed = Some((IntegrationsPage::delivery_form(&id), failed));
    let body = page(&state, &user, None, failed).await?.render()?;
    Ok(render::form_answer(body, true))
}

/// The endpoint path of each platform, for the page and the README.
pub fn endpoint(platform: &Platform) -> &'static str {
    match platform {
        Platform::Shopify => "/webhooks/shopify",
        Platform::WooCommerce => "/webhooks/woocommerce",
    }
}

impl IntegrationsPage {
    fn endpoint(&self, platform: &Platform) -> String {
        format!("{}{}", self.public_url, endpoint(platform))
    }

    fn topics(&self, platform: &Platform) -> &'static str {
        match platform {
            Platform::Shopify => {
                "Order creation (orders/create) and Order cancellation (orders/cancelled)"
            }
            Platform::WooCommerce => "Order created (order.created)",
        }
    }
}
