//! Arranging a small shop for page tests, through the same services the API uses.

use backorder_desk::db::audit::Actor;
use backorder_desk::services::inventory::catalog::{self, ProductChanges};
use backorder_desk::services::orders::{self, NewOrder, NewOrderLine};
use backorder_desk::services::purchasing::{self, NewPurchaseOrder};
use backorder_desk::types::{Email, Reference, Sku};
use chrono::{Duration, NaiveDate, Utc};

use crate::helpers::TestApp;

pub fn today() -> NaiveDate {
    backorder_desk::clock::today()
}

/// A product of supplier "Acme" (lead time unknown) with `on_hand` units at `price_cents`.
pub fn product(app: &TestApp, sku: &str, on_hand: i32, price_cents: i64) {
    catalog::upsert_product(
        &mut app.conn(),
        &Actor::System,
        ProductChanges {
            sku: Sku::parse(sku).unwrap(),
            name: Some(format!("Product {sku}")),
            supplier: Some("Acme".to_owned()),
            on_hand: Some(on_hand),
            backorderable: Some(true),
            reorder_point: Some(2),
            safety_stock: None,
            unit_price_cents: Some(price_cents),
            suppliers: None,
            preorder_release_on: None,
            alternatives: None,
        },
        today(),
    )
    .unwrap_or_else(|e| panic!("product {sku}: {e}"));
}

/// An open purchase order bringing `quantity` of `sku`, expected in `days` days.
pub fn purchase_order(app: &TestApp, reference: &str, sku: &str, quantity: i32, days: i64) {
    purchasing::create_purchase_order(
        &mut app.conn(),
        &Actor::System,
        NewPurchaseOrder {
            reference: Reference::parse(reference).unwrap(),
            supplier: "Acme".to_owned(),
            expected_on: today() + Duration::days(days),
            lines: vec![(Sku::parse(sku).unwrap(), quantity)],
        },
        today(),
    )
    .unwrap_or_else(|e| panic!("purchase order {reference}: {e}"));
}

/// An order for `quantity` of `sku`, placed `days_ago` days ago.
pub fn order(
    app: &TestApp,
    number: &str,
    email: &str,
    name: &str,
    sku: &str,
    quantity: i32,
    days_ago: i64,
) {
    let placed_at = Utc::now() - Duration::days(days_ago);
    orders::place_order(
        &mut app.conn(),
        &Actor::System,
        NewOrder {
            number: Reference::parse(number).unwrap(),
            placed_at: Some(placed_at),
            customer_email: Email::parse(email).unwrap(),
            customer_name: name.to_owned(),
            lines: vec![NewOrderLine {
                sku: Sku::parse(sku).unwrap(),
                quantity,
                unit_price_cents: 2_500,
            }],
            payment_authorized_until: None,
            max_wait_until: None,
            request_hash: format!("test-{number}"),
        },
        today(),
    )
    .unwrap_or_else(|e| panic!("order {number}: {e}"));
}

/// An order of several lines (`(sku, quantity)`), placed `days_ago` days ago.
pub fn order_of(
    app: &TestApp,
    number: &str,
    email: &str,
    name: &str,
    lines: &[(&str, i32)],
    days_ago: i64,
) {
    orders::place_order(
        &mut app.conn(),
        &Actor::System,
        NewOrder {
            number: Reference::parse(number).unwrap(),
            placed_at: Some(Utc::now() - Duration::days(days_ago)),
            customer_email: Email::parse(email).unwrap(),
            customer_name: name.to_owned(),
            lines: lines
                .iter()
                .map(|(sku, quantity)| NewOrderLine {
                    sku: Sku::parse(sku).unwrap(),
                    quantity: *quantity,
                    unit_price_cents: 2_500,
                })
                .collect(),
            payment_authorized_until: None,
            max_wait_until: None,
            request_hash: format!("test-{number}"),
        },
        today(),
    )
    .unwrap_or_else(|e| panic!("order {number}: {e}"));
}

/// Runs SQL against the test database (for arranging states that take days to happen).
pub fn sql(app: &TestApp, statement: &str) {
    use diesel::RunQueryDsl;
    diesel::sql_query(statement)
        .execute(&mut app.conn())
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// The text of an HTML page without its tags, whitespace collapsed: what a person reads.
pub fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
}
