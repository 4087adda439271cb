//! Orders straight from the storefront: Shopify's `orders/create` and `orders/cancelled`
//! and WooCommerce's `order.created` webhooks, verified by the platform's signature and
//! taken in through the same intake as the API (same queue, same emails).
//!
//! Each delivery is kept under the platform's own id: a re-delivery stores nothing new.
//! A delivery that cannot be taken in (an unknown SKU, an out-of-stock product) keeps its
//! payload and waits on the Integrations page, where a person maps the SKU and replays it;
//! the platform's own retry of it is a replay too.

pub mod integrations;
pub mod order;
pub mod shopify;
pub mod signature;
pub mod woocommerce;

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

pub use crate::config::WebhookSecrets as EnvSecrets;
use crate::db::audit::Actor;
use crate::db::schema::{
    order_lines, orders, products, storefront_skus, webhook_deliveries, webhook_secrets,
};
use crate::error::{AppError, FieldError};
use crate::services::orders::{self as intake, NewOrder, NewOrderLine, Placed};
use crate::types::{Email, Reference, Sku};
use order::StorefrontOrder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Shopify,
    WooCommerce,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Shopify, Platform::WooCommerce];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::WooCommerce => "woocommerce",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Platform::Shopify => "Shopify",
            Platform::WooCommerce => "WooCommerce",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The environment variable that sets this platform's secret.
    pub fn secret_variable(self) -> &'static str {
        match self {
            Platform::Shopify => "SHOPIFY_WEBHOOK_SECRET",
            Platform::WooCommerce => "WOOCOMMERCE_WEBHOOK_SECRET",
        }
    }

    pub fn secret_from(self, env: &EnvSecrets) -> Option<&str> {
        match self {
            Platform::Shopify => env.shopify.as_deref(),
            Platform::WooCommerce => env.woocommerce.as_deref(),
        }
    }

    fn actor(self) -> Actor {
        Actor::Api {
            token_name: format!("{} webhook", self.as_str()),
        }
    }
}

/// One delivery as it arrived: the headers that matter and the raw body.
pub struct Delivery {
    pub platform: Platform,
    pub topic: Option<String>,
    /// `X-Shopify-Webhook-Id` or `X-WC-Webhook-Delivery-ID`.
    pub id: Option<String>,
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

/// What became of a delivery that was taken in (or rightly ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// `created`, `already_stored`, `cancelled`, `ignored`.
    pub outcome: &'static str,
    pub order: Option<String>,
    pub message: String,
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook secret is set for {}: set {} or the Integrations page", .0.label(), .0.secret_variable())]
    NoSecret(Platform),
    #[error("the webhook signature does not match the body")]
    BadSignature,
    /// The order cannot be taken in as it is; it waits on the Integrations page.
    #[error("{message}")]
    Refused {
        message: String,
        details: Vec<FieldError>,
    },
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<diesel::result::Error> for WebhookError {
    fn from(error: diesel::result::Error) -> Self {
        Self::App(error.into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Cancel,
}

fn action(platform: Platform, topic: &str) -> Option<Action> {
    match (platform, topic) {
        (Platform::Shopify, "orders/create") | (Platform::WooCommerce, "order.created") => {
            Some(Action::Create)
        }
        (Platform::Shopify, "orders/cancelled") => Some(Action::Cancel),
        _ => None,
    }
}

/// WooCommerce checks a new webhook's URL with a form post `webhook_id=N`, unsigned and
/// without a topic; it must answer 2xx or the webhook cannot be saved.
pub fn is_woocommerce_ping(delivery: &Delivery) -> bool {
    delivery.platform == Platform::WooCommerce
        && delivery.topic.is_none()
        && delivery.body.starts_with(b"webhook_id=")
        && delivery.body.len() < 64
}

/// Takes in one delivery: checks its signature, stores it under its id, and places or
/// cancels the order. A refusal is stored (with the payload) before it is returned.
pub fn receive(
    conn: &mut PgConnection,
    env: &EnvSecrets,
    delivery: Delivery,
    today: NaiveDate,
) -> Result<Receipt, WebhookError> {
    let platform = delivery.platform;
    let secret = match platform.secret_from(env) {
        Some(secret) => secret.to_owned(),
        None => stored_secret(conn, platform)?.ok_or(WebhookError::NoSecret(platform))?,
    };
    let signed = delivery
        .signature
        .as_deref()
        .is_some_and(|claimed| signature::verify(&secret, &delivery.body, claimed));
    if !signed {
        return Err(WebhookError::BadSignature);
    }
    let topic = delivery.topic.clone().unwrap_or_default();
    let Some(action) = action(platform, &topic) else {
        return Ok(Receipt {
            outcome: "ignored",
            order: None,
            message: format!("the topic {topic:?} is not one Backorder Desk takes in"),
        });
    };
    // A delivery without an id is known by its body.
    let key = delivery
        .id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(&delivery.body))));
    let payload = String::from_utf8_lossy(&delivery.body).into_owned();
    let outcome = conn.transaction(|conn| -> Result<_, AppError> {
        let inserted: Option<i64> = diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::platform.eq(platform.as_str()),
                webhook_deliveries::delivery_key.eq(&key),
                webhook_deliveries::topic.eq(&topic),
                webhook_deliveries::status.eq("needs_attention"),
                webhook_deliveries::outcome.eq("being taken in"),
                webhook_deliveries::payload.eq(&payload),
            ))
            .on_conflict((
                webhook_deliveries::platform,
                webhook_deliveries::delivery_key,
            ))
            .do_nothing()
            .returning(webhook_deliveries::id)
            .get_result(conn)
            .optional()?;
        let id = match inserted {
            Some(id) => id,
            None => {
                let (id, status, outcome, order): (i64, String, String, Option<String>) =
                    webhook_deliveries::table
                        .filter(webhook_deliveries::platform.eq(platform.as_str()))
                        .filter(webhook_deliveries::delivery_key.eq(&key))
                        .select((
                            webhook_deliveries::id,
                            webhook_deliveries::status,
                            webhook_deliveries::outcome,
                            webhook_deliveries::order_number,
                        ))
                        .for_update()
                        .first(conn)?;
                if status != "needs_attention" {
                    return Ok(Ok(Receipt {
                        outcome: "already_received",
                        order,
                        message: format!("this delivery was received before: {outcome}"),
                    }));
                }
                // Sent again while it waits: take it in if a person has fixed what was
                // wrong meanwhile (the platform's retry works like the replay button).
                id
            }
        };
        take_in(conn, id, platform, action, &payload, today)
    })?;
    outcome.map_err(|(message, details)| WebhookError::Refused { message, details })
}

/// What `take_in` answers: the receipt, or the refusal (message and fields) that was
/// stored on the delivery.
type Taken = Result<Receipt, (String, Vec<FieldError>)>;

/// Places or cancels the order of a stored delivery and records the outcome on it. A
/// refusal leaves nothing of the order behind (a savepoint), only the delivery's note.
fn take_in(
    conn: &mut PgConnection,
    id: i64,
    platform: Platform,
    action: Action,
    payload: &str,
    today: NaiveDate,
) -> Result<Taken, AppError> {
    let actor = platform.actor();
    let attempt = match action {
        Action::Create => create(conn, &actor, platform, payload.as_bytes(), today),
        Action::Cancel => cancel(conn, &actor, platform, payload.as_bytes(), today),
    }?;
    match &attempt {
        Ok(receipt) => {
            diesel::update(webhook_deliveries::table.find(id))
                .set((
                    webhook_deliveries::status.eq(if receipt.outcome == "ignored" {
                        "ignored"
                    } else {
                        "processed"
                    }),
                    webhook_deliveries::outcome.eq(&receipt.message),
                    webhook_deliveries::order_number.eq(&receipt.order),
                    webhook_deliveries::payload.eq(None::<String>),
                    webhook_deliveries::unknown_skus.eq(Vec::<String>::new()),
                    webhook_deliveries::processed_at.eq(Some(Utc::now())),
                ))
                .execute(conn)?;
        }
        Err(refusal) => {
            diesel::update(webhook_deliveries::table.find(id))
                .set((
                    webhook_deliveries::status.eq("needs_attention"),
                    webhook_deliveries::outcome.eq(&refusal.message),
                    webhook_deliveries::order_number.eq(&refusal.order),
                    webhook_deliveries::unknown_skus.eq(&refusal.unknown_skus),
                ))
                .execute(conn)?;
        }
    }
    Ok(attempt.map_err(|refusal| (refusal.message, refusal.details)))
}

struct Refusal {
    message: String,
    details: Vec<FieldError>,
    order: Option<String>,
    unknown_skus: Vec<String>,
}

impl Refusal {
    fn new(message: impl Into<String>, details: Vec<FieldError>) -> Self {
        Self {
            message: message.into(),
            details,
            order: None,
            unknown_skus: Vec::new(),
        }
    }

    fn of_payload(problems: Vec<FieldError>) -> Self {
        let message = match problems.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields of the payload need attention", problems.len()),
        };
        Self::new(message, problems)
    }
}

fn parse(platform: Platform, body: &[u8]) -> Result<StorefrontOrder, Vec<FieldError>> {
    match platform {
        Platform::Shopify => shopify::parse(body),
        Platform::WooCommerce => woocommerce::parse(body),
    }
}

/// Our product for each storefront SKU: a person's mapping first, else the same SKU.
fn resolve_skus(
    conn: &mut PgConnection,
    platform: Platform,
    storefront: &[String],
) -> QueryResult<HashMap<String, String>> {
    let mut resolved: HashMap<String, String> = storefront_skus::table
        .inner_join(products::table)
        .filter(storefront_skus::platform.eq(platform.as_str()))
        .filter(storefront_skus::storefront_sku.eq_any(storefront))
        .select((storefront_skus::storefront_sku, products::sku))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let unmapped: Vec<String> = storefront
        .iter()
        .filter(|sku| !resolved.contains_key(*sku))
        .cloned()
        .collect();
    let ours: Vec<String> = products::table
        .filter(products::sku.eq_any(&unmapped))
        .select(products::sku)
        .load(conn)?;
    resolved.extend(ours.into_iter().map(|sku| (sku.clone(), sku)));
    Ok(resolved)
}

/// A digest of the order as taken in: the same order delivered again under another id is
/// the same order; a different one under a stored number is a conflict.
fn order_digest(platform: Platform, order: &NewOrder) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "webhook:{}:{}:{}:{}",
        platform.as_str(),
        order.number,
        order.customer_email.as_str().to_lowercase(),
        order.placed_at.map_or(0, |t| t.timestamp())
    ));
    for line in &order.lines {
        hasher.update(format!(
            ":{}x{}@{}",
            line.sku, line.quantity, line.unit_price_cents
        ));
    }
    hex::encode(hasher.finalize())
}

fn create(
    conn: &mut PgConnection,
    actor: &Actor,
    platform: Platform,
    body: &[u8],
    today: NaiveDate,
) -> Result<Result<Receipt, Refusal>, AppError> {
    let order = match parse(platform, body) {
        Ok(order) => order,
        Err(problems) => return Ok(Err(Refusal::of_payload(problems))),
    };
    let storefront: Vec<String> = order.lines.iter().map(|l| l.sku.clone()).collect();
    let resolved = resolve_skus(conn, platform, &storefront)?;
    let mut problems = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let number = Reference::parse(&order.number)
        .map_err(|message| problems.push(FieldError::new("number", message)))
        .ok();
    let email = Email::parse(&order.email)
        .map_err(|message| problems.push(FieldError::new("email", message)))
        .ok();
    if order.lines.is_empty() || order.lines.len() > 500 {
        problems.push(FieldError::new("line_items", "an order has 1 to 500 lines"));
    }
    let mut lines = Vec::with_capacity(order.lines.len());
    for (i, line) in order.lines.iter().enumerate() {
        if !(1..=100_000).contains(&line.quantity) {
            problems.push(FieldError::new(
                format!("line_items[{i}].quantity"),
                "the quantity must be a whole number from 1 to 100000",
            ));
        }
        match resolved.get(&line.sku).map(|sku| Sku::parse(sku)) {
            Some(Ok(sku)) => lines.push(NewOrderLine {
                sku,
                quantity: line.quantity.clamp(1, 100_000) as i32,
                unit_price_cents: line.unit_price_cents,
            }),
            _ => {
                problems.push(FieldError::new(
                    format!("line_items[{i}].sku"),
                    format!(
                        "no product has the SKU {:?} ({}); map it to one of ours on the Integrations page",
                        line.sku, line.title
                    ),
                ));
                if !unknown.contains(&line.sku) {
                    unknown.push(line.sku.clone());
                }
            }
        }
    }
    let (Some(number), Some(customer_email), true) = (number, email, problems.is_empty()) else {
        let mut refusal = Refusal::new(refusal_message(&problems, &unknown), problems);
        refusal.order = Some(order.number.clone()).filter(|n| !n.is_empty());
        refusal.unknown_skus = unknown;
        return Ok(Err(refusal));
    };
    let customer_name = match order.name.trim() {
        "" => customer_email.as_str().to_owned(),
        name => name.chars().take(200).collect(),
    };
    let mut new_order = NewOrder {
        number,
        placed_at: Some(order.placed_at),
        customer_email,
        customer_name,
        lines,
        payment_authorized_until: None,
        max_wait_until: None,
        request_hash: String::new(),
    };
    new_order.request_hash = order_digest(platform, &new_order);
    let number = new_order.number.to_string();
    // A savepoint: an order the intake refuses leaves nothing behind but the note.
    match conn.transaction(|conn| intake::place_order(conn, actor, new_order, today)) {
        Ok(Placed::Created(view)) => Ok(Ok(Receipt {
            outcome: "created",
            message: format!("order {number} placed ({})", view.status.replace('_', " ")),
            order: Some(number),
        })),
        Ok(Placed::AlreadyStored(_)) => Ok(Ok(Receipt {
            outcome: "already_stored",
            message: format!("order {number} was stored before"),
            order: Some(number),
        })),
        Err(AppError::Invalid { message, details }) => {
            // The intake names its own fields; the platform's payload names them so.
            let placed_at = match platform {
                Platform::Shopify => "created_at",
                Platform::WooCommerce => "date_created_gmt",
            };
            let details = details
                .into_iter()
                .map(|d| {
                    let field = match d.field.as_str() {
                        "placed_at" => placed_at.to_owned(),
                        other => other.replace("lines[", "line_items["),
                    };
                    FieldError::new(field, d.message)
                })
                .collect();
            let mut refusal = Refusal::new(message, details);
            refusal.order = Some(number);
            Ok(Err(refusal))
        }
        Err(AppError::Conflict(message)) => {
            let mut refusal =
                Refusal::new(message.clone(), vec![FieldError::new("number", message)]);
            refusal.order = Some(number);
            Ok(Err(refusal))
        }
        Err(other) => Err(other),
    }
}

fn refusal_message(problems: &[FieldError], unknown: &[String]) -> String {
    match (problems, unknown) {
        (_, [one]) if problems.len() == 1 => format!("unknown SKU {one:?}"),
        (_, [_, ..]) if problems.len() == unknown.len() => {
            format!("unknown SKUs {}", quoted_list(unknown))
        }
        ([one], _) => format!("{}: {}", one.field, one.message),
        _ => format!("{} fields of the order need attention", problems.len()),
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("{item:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `orders/cancelled`: cancels every open line of the order through the same path as the
/// order page's "Cancel line" (units released down the queue, the customer told).
fn cancel(
    conn: &mut PgConnection,
    actor: &Actor,
    platform: Platform,
    body: &[u8],
    today: NaiveDate,
) -> Result<Result<Receipt, Refusal>, AppError> {
    let number = match shopify::order_number(body) {
        Ok(number) => number,
        Err(problems) => return Ok(Err(Refusal::of_payload(problems))),
    };
    let open_lines: Vec<i64> = order_lines::table
        .inner_join(orders::table)
        .filter(orders::number.eq(&number))
        .filter(order_lines::qty.gt(order_lines::shipped + order_lines::cancelled))
        .order(order_lines::id)
        .select(order_lines::id)
        .load(conn)?;
    let known = open_lines.is_empty()
        && orders::table
            .filter(orders::number.eq(&number))
            .count()
            .get_result::<i64>(conn)?
            > 0;
    if open_lines.is_empty() {
        return Ok(Ok(Receipt {
            outcome: "ignored",
            message: if known {
                format!("order {number} has nothing left to cancel")
            } else {
                format!("there is no order {number} here to cancel")
            },
            order: Some(number),
        }));
    }
    let reason = format!("cancelled in {}", platform.label());
    for line_id in &open_lines {
        crate::services::orders::fulfilment::cancel_line(
            conn, actor, *line_id, None, &reason, today,
        )?;
    }
    Ok(Ok(Receipt {
        outcome: "cancelled",
        message: format!(
            "order {number}: {} line{} cancelled",
            open_lines.len(),
            if open_lines.len() == 1 { "" } else { "s" }
        ),
        order: Some(number),
    }))
}

/// Takes in a stored delivery again (the Integrations page's "Replay"), with the SKU
/// mappings as they are now.
pub fn replay(conn: &mut PgConnection, id: i64, today: NaiveDate) -> Result<Receipt, WebhookError> {
    let outcome = conn.transaction(|conn| replay_in(conn, id, today))?;
    outcome.map_err(|(message, details)| WebhookError::Refused { message, details })
}

/// The secret (`integrations` sets it) set on the page for `platform`, if any.
pub fn stored_secret(conn: &mut PgConnection, platform: Platform) -> QueryResult<Option<String>> {
    webhook_secrets::table
        .find(platform.as_str())
        .select(webhook_secrets::secret)
        .first(conn)
        .optional()
}

/// `replay` inside the caller's transaction.
fn replay_in(conn: &mut PgConnection, id: i64, today: NaiveDate) -> Result<Taken, AppError> {
    let (platform, topic, status, payload): (String, String, String, Option<String>) =
        webhook_deliveries::table
            .find(id)
            .select((
                webhook_deliveries::platform,
                webhook_deliveries::topic,
                webhook_deliveries::status,
                webhook_deliveries::payload,
            ))
            .for_update()
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("the delivery"))?;
    let (Some(platform), Some(payload), "needs_attention") =
        (Platform::parse(&platform), payload, status.as_str())
    else {
        return Err(AppError::Conflict(
            "this delivery was taken in already".to_owned(),
        ));
    };
    let action = action(platform, &topic)
        .ok_or_else(|| AppError::Conflict(format!("the topic {topic:?} is not taken in")))?;
    take_in(conn, id, platform, action, &payload, today)
}
