//! Shopify's order payload (`orders/create`, `orders/cancelled`): the REST Admin API's
//! order resource. Only the fields the intake needs are read; the rest is ignored.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::order::{
    PayloadProblems, StorefrontLine, StorefrontOrder, cents, full_name, parse_json, storefront_sku,
};
use crate::error::FieldError;

#[derive(Debug, Deserialize)]
struct Order {
    id: Option<u64>,
    name: Option<String>,
    order_number: Option<u64>,
    email: Option<String>,
    contact_email: Option<String>,
    created_at: Option<String>,
    customer: Option<Person>,
    billing_address: Option<Person>,
    #[serde(default)]
    line_items: Vec<LineItem>,
}

#[derive(Debug, Deserialize)]
struct Person {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LineItem {
    sku: Option<String>,
    quantity: i64,
    price: Option<String>,
    title: Option<String>,
    name: Option<String>,
    product_id: Option<u64>,
    variant_id: Option<u64>,
}

/// The order's number as the shop shows it: `name` without its `#` ("#1001" is 1001).
fn number(order: &Order) -> Option<String> {
    order
        .name
        .as_deref()
        .map(|name| name.trim().trim_start_matches('#').to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| order.order_number.map(|n| n.to_string()))
        .or_else(|| order.id.map(|id| id.to_string()))
}

/// The number of the order a payload is about (for `orders/cancelled`).
pub fn order_number(body: &[u8]) -> Result<String, PayloadProblems> {
    let order: Order = parse_json(body)?;
    number(&order).ok_or_else(|| vec![FieldError::new("name", "the order has no name or number")])
}

pub fn parse(body: &[u8]) -> Result<StorefrontOrder, PayloadProblems> {
    let order: Order = parse_json(body)?;
    let mut problems = Vec::new();
    let number = number(&order).unwrap_or_else(|| {
        problems.push(FieldError::new("name", "the order has no name or number"));
        String::new()
    });
    let placed_at = match order.created_at.as_deref() {
        Some(raw) => DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| {
                problems.push(FieldError::new(
                    "created_at",
                    format!("{raw:?} is not a time like 2021-12-31T19:00:00-05:00"),
                ));
                Utc::now()
            }),
        None => Utc::now(),
    };
    let customer = order.customer.as_ref();
    let email = [
        customer.and_then(|c| c.email.clone()),
        order.email.clone(),
        order.contact_email.clone(),
    ]
    .into_iter()
    .flatten()
    .find(|email| !email.trim().is_empty())
    .unwrap_or_default();
    let mut name = customer
        .map(|c| full_name(c.first_name.as_deref(), c.last_name.as_deref()))
        .unwrap_or_default();
    if name.is_empty()
        && let Some(billing) = &order.billing_address
    {
        name = billing.name.clone().unwrap_or_else(|| {
            full_name(billing.first_name.as_deref(), billing.last_name.as_deref())
        });
    }
    let mut lines = Vec::with_capacity(order.line_items.len());
    for (i, item) in order.line_items.iter().enumerate() {
        let unit_price_cents = match item.price.as_deref().map(cents) {
            Some(Some(cents)) => cents,
            Some(None) => {
                problems.push(FieldError::new(
                    format!("line_items[{i}].price"),
                    "the price is not an amount like 89.99",
                ));
                0
            }
            None => 0,
        };
        lines.push(StorefrontLine {
            sku: storefront_sku(
                item.sku.as_deref(),
                [("variant", item.variant_id), ("product", item.product_id)],
            ),
            title: item
                .title
                .clone()
                .or_else(|| item.name.clone())
                .unwrap_or_default(),
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
        let body = include_bytes!("../../../tests/fixtures/shopify/orders_create.json");
        let order = parse(body).unwrap();
        assert_eq!(order.number, "9999");
        assert_eq!(order.email, "john@example.com");
        assert_eq!(order.name, "John Smith");
        assert_eq!(order.placed_at.to_rfc3339(), "2022-01-01T00:00:00+00:00");
        assert_eq!(
            order.lines,
            vec![StorefrontLine {
                sku: "SKU2006-001".to_owned(),
                title: "Aviator sunglasses".to_owned(),
                quantity: 1,
                unit_price_cents: 8999,
            }]
        );
        assert_eq!(order_number(body).unwrap(), "9999");
    }

    #[test]
    fn a_line_without_a_sku_is_named_by_its_variant() {
        let body = br##"{"name":"#1001","line_items":[{"sku":"","quantity":2,"price":"5.00","variant_id":42}]}"##;
        assert_eq!(parse(body).unwrap().lines[0].sku, "variant 42");
    }

    #[test]
    fn names_the_field_that_does_not_fit() {
        let problems = parse(br##"{"name":"#1","line_items":[{"quantity":"two"}]}"##).unwrap_err();
        assert_eq!(problems[0].field, "line_items[0].quantity");
    }
}
