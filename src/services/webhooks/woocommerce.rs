//! WooCommerce's order payload (`order.created`): the REST API's order resource. Only the
//! fields the intake needs are read; the rest is ignored.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::order::{
    PayloadProblems, StorefrontLine, StorefrontOrder, cents_of, full_name, parse_json,
    storefront_sku,
};
use crate::error::FieldError;

#[derive(Debug, Deserialize)]
struct Order {
    id: Option<u64>,
    number: Option<serde_json::Value>,
    date_created_gmt: Option<String>,
    date_created: Option<String>,
    billing: Option<Billing>,
    #[serde(default)]
    line_items: Vec<LineItem>,
}

#[derive(Debug, Deserialize)]
struct Billing {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LineItem {
    name: Option<String>,
    product_id: Option<u64>,
    variation_id: Option<u64>,
    quantity: i64,
    subtotal: Option<serde_json::Value>,
    price: Option<serde_json::Value>,
    sku: Option<String>,
}

/// `date_created_gmt` ("2017-03-22T19:28:02", UTC without a zone); the site's local
/// `date_created` when it is missing.
fn placed_at(order: &Order) -> Result<DateTime<Utc>, FieldError> {
    let (field, raw) = match (&order.date_created_gmt, &order.date_created) {
        (Some(gmt), _) => ("date_created_gmt", gmt),
        (None, Some(local)) => ("date_created", local),
        (None, None) => return Ok(Utc::now()),
    };
    let raw = raw.trim();
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S").map(|t| t.and_utc()))
        .map_err(|_| {
            FieldError::new(
                field,
                format!("{raw:?} is not a time like 2017-03-22T19:28:02"),
            )
        })
}

pub fn parse(body: &[u8]) -> Result<StorefrontOrder, PayloadProblems> {
    let order: Order = parse_json(body)?;
    let mut problems = Vec::new();
    let number = match &order.number {
        Some(serde_json::Value::String(text)) if !text.trim().is_empty() => text.trim().to_owned(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => order.id.map(|id| id.to_string()).unwrap_or_else(|| {
            problems.push(FieldError::new("number", "the order has no number"));
            String::new()
        }),
    };
    let placed_at = placed_at(&order).unwrap_or_else(|problem| {
        problems.push(problem);
        Utc::now()
    });
    let billing = order.billing.as_ref();
    let email = billing.and_then(|b| b.email.clone()).unwrap_or_default();
    let name = billing
        .map(|b| full_name(b.first_name.as_deref(), b.last_name.as_deref()))
        .unwrap_or_default();
    let mut lines = Vec::with_capacity(order.line_items.len());
    for (i, item) in order.line_items.iter().enumerate() {
        // `subtotal` is the line's amount before coupons, as text; `price` a float that
        // may carry a long tail of digits. The unit price is the one over the quantity.
        let unit_price_cents = match (item.subtotal.as_ref().and_then(cents_of), &item.price) {
            (Some(subtotal), _) if item.quantity > 0 => {
                (subtotal + item.quantity / 2) / item.quantity
            }
            (_, Some(price)) => cents_of(price).unwrap_or_else(|| {
                problems.push(FieldError::new(
                    format!("line_items[{i}].price"),
                    "the price is not an amount like 12.00",
                ));
                0
            }),
            _ => 0,
        };
        lines.push(StorefrontLine {
            sku: storefront_sku(
                item.sku.as_deref(),
                [
                    ("variation", item.variation_id),
                    ("product", item.product_id),
                ],
            ),
            title: item.name.clone().unwrap_or_default(),
            quantity: item.quantity,
            unit_price_cents,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(StorefrontOrder {
        number,
        placed_at,
        email,
        name,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_published_example() {
        let body = include_bytes!("../../../tests/fixtures/woocommerce/order_created.json");
        let order = parse(body).unwrap();
        assert_eq!(order.number, "727");
        assert_eq!(order.email, "john.doe@example.com");
        assert_eq!(order.name, "John Doe");
        assert_eq!(order.placed_at.to_rfc3339(), "2017-03-22T19:28:02+00:00");
        assert_eq!(
            order.lines,
            vec![
                StorefrontLine {
                    sku: "product 93".to_owned(),
                    title: "Woo Single #1".to_owned(),
                    quantity: 2,
                    unit_price_cents: 300,
                },
                StorefrontLine {
                    sku: "Bar3".to_owned(),
                    title: "Ship Your Idea &ndash; Color: Black, Size: M Test".to_owned(),
                    quantity: 1,
                    unit_price_cents: 1200,
                },
            ]
        );
    }
}
