//! Orders straight from the storefront: Shopify's and WooCommerce's published example
//! payloads (tests/fixtures), signed in the test with the shop's secret as the platforms
//! sign them, sent over HTTP. Checked through the database (orders, lines, the outbox)
//! and the admin's Integrations page.

use backorder_desk::db::users::Role;
use base64::Engine;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, spawn_app_with};
use crate::shop::{self, text_of};

const SHOPIFY_SECRET: &str = "shpss_a-shopify-app-secret-for-tests";
const WOO_SECRET: &str = "a WooCommerce webhook secret";

/// A published example as the platform would send it today: its times moved to two days
/// ago (the shop refuses orders placed long ago), all else as published.
pub fn fixture(path: &str) -> String {
    let published = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("fixture {path}: {e}"));
    let recent = chrono::Utc::now() - chrono::Duration::days(2);
    published
        .replace(
            "2021-12-31T19:00:00-05:00",
            &recent.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        )
        .replace(
            "2017-03-22T19:28:02",
            &recent.format("%Y-%m-%dT%H:%M:%S").to_string(),
        )
}

/// What the platform sends: base64 of HMAC-SHA256 over the raw body.
fn sign(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn start() -> TestApp {
    let app = spawn_app_with(|settings| {
        settings.webhook_secrets.shopify = Some(SHOPIFY_SECRET.to_owned());
    })
    .await;
    // The example's product, out of stock with a purchase order coming: it backorders.
    shop::product(&app, "SKU2006-001", 0, 8_999);
    shop::purchase_order(&app, "PO-SUN-1", "SKU2006-001", 20, 10);
    app
}

async fn send_shopify(
    app: &TestApp,
    topic: &str,
    webhook_id: &str,
    body: &str,
    signature: &str,
) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/webhooks/shopify"))
        .header("Content-Type", "application/json")
        .header("X-Shopify-Topic", topic)
        .header("X-Shopify-Hmac-Sha256", signature)
        .header("X-Shopify-Shop-Domain", "jsmith.myshopify.com")
        .header("X-Shopify-Webhook-Id", webhook_id)
        .body(body.to_owned())
        .send()
        .await
        .expect("POST the webhook");
    let status = response.status();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("a JSON answer with {status}, got {text:?}"));
    (status, json)
}

async fn shopify(app: &TestApp, topic: &str, webhook_id: &str, body: &str) -> (StatusCode, Value) {
    send_shopify(app, topic, webhook_id, body, &sign(SHOPIFY_SECRET, body)).await
}

async fn woocommerce(app: &TestApp, delivery_id: &str, body: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/webhooks/woocommerce"))
        .header("Content-Type", "application/json")
        .header("X-WC-Webhook-Source", "https://example.com/")
        .header("X-WC-Webhook-Topic", "order.created")
        .header("X-WC-Webhook-Resource", "order")
        .header("X-WC-Webhook-Event", "created")
        .header("X-WC-Webhook-Signature", sign(WOO_SECRET, body))
        .header("X-WC-Webhook-ID", "31")
        .header("X-WC-Webhook-Delivery-ID", delivery_id)
        .body(body.to_owned())
        .send()
        .await
        .expect("POST the webhook");
    let status = response.status();
    (status, response.json().await.expect("a JSON answer"))
}

fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<Count>(&mut app.conn())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

/// Rows a delivery could have left: orders, lines, emails, deliveries.
fn stored(app: &TestApp) -> [i64; 4] {
    [
        count(app, "SELECT count(*) AS n FROM orders"),
        count(app, "SELECT count(*) AS n FROM order_lines"),
        count(app, "SELECT count(*) AS n FROM messages"),
        count(app, "SELECT count(*) AS n FROM webhook_deliveries"),
    ]
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Line {
    #[diesel(sql_type = Text)]
    sku: String,
    #[diesel(sql_type = Integer)]
    qty: i32,
    #[diesel(sql_type = Integer)]
    waiting: i32,
    #[diesel(sql_type = Integer)]
    cancelled: i32,
    #[diesel(sql_type = BigInt)]
    unit_price_cents: i64,
}

fn lines_of(app: &TestApp, number: &str) -> Vec<Line> {
    diesel::sql_query(
        "SELECT p.sku, l.qty, l.waiting, l.cancelled, l.unit_price_cents
           FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN products p ON p.id = l.product_id
          WHERE o.number = $1 ORDER BY l.id",
    )
    .bind::<Text, _>(number)
    .load(&mut app.conn())
    .unwrap()
}

fn emails_to(app: &TestApp, recipient: &str, kind: &str) -> i64 {
    count(
        app,
        &format!(
            "SELECT count(*) AS n FROM messages WHERE recipient = '{recipient}' AND kind = '{kind}'"
        ),
    )
}

#[tokio::test]
async fn a_shopify_order_joins_the_queue_once_however_often_it_is_delivered() {
    let app = start().await;
    let body = fixture("shopify/orders_create.json");

    let (status, answer) = shopify(&app, "orders/create", "b54557e4-bdd9-4b37", &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "created");
    assert_eq!(answer["order"], "9999");
    assert_eq!(
        lines_of(&app, "9999"),
        vec![Line {
            sku: "SKU2006-001".to_owned(),
            qty: 1,
            waiting: 1,
            cancelled: 0,
            unit_price_cents: 8_999,
        }]
    );
    // The customer of the example, told of the backorder like any other customer.
    assert_eq!(emails_to(&app, "john@example.com", "backorder_notice"), 1);
    let after_first = stored(&app);

    // Shopify delivers again under the same id (a retry): nothing new.
    let (status, answer) = shopify(&app, "orders/create", "b54557e4-bdd9-4b37", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["outcome"], "already_received");
    assert_eq!(stored(&app), after_first);

    // The same order under another delivery id: the order is not stored twice.
    let (status, answer) = shopify(&app, "orders/create", "0b8c1e2a-second", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["outcome"], "already_stored");
    let [orders, lines, emails, _] = stored(&app);
    assert_eq!([orders, lines, emails], after_first[..3]);

    // The order page shows it like an order from the API.
    app.login_as(Role::Rep).await;
    let page = text_of(&app.get("/orders/9999").await.text().await.unwrap());
    assert!(page.contains("John Smith"), "{page}");
    assert!(page.contains("SKU2006-001"), "{page}");
}

#[tokio::test]
async fn a_bad_signature_is_401_and_stores_nothing() {
    let app = start().await;
    let body = fixture("shopify/orders_create.json");
    let before = stored(&app);

    let forged = sign("someone else's secret", &body);
    let (status, answer) = send_shopify(&app, "orders/create", "w-1", &body, &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(answer["error"].as_str().unwrap().contains("signature"));

    // A body changed after signing.
    let signature = sign(SHOPIFY_SECRET, &body);
    let tampered = body.replace("\"quantity\": 1", "\"quantity\": 100");
    let (status, _) = send_shopify(&app, "orders/create", "w-2", &tampered, &signature).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _) = send_shopify(&app, "orders/create", "w-3", &body, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(stored(&app), before);
}

#[tokio::test]
async fn an_unknown_sku_waits_on_the_integrations_page_until_it_is_mapped_and_replayed() {
    let app = start().await;
    shop::product(&app, "SUN-AVIATOR", 5, 8_999);
    let body = fixture("shopify/orders_create.json")
        .replace("SKU2006-001", "AV-SUNGLASS")
        .replace("#9999", "#1001");
    let before = stored(&app);

    let (status, answer) = shopify(&app, "orders/create", "d-unknown", &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["details"][0]["field"], "line_items[0].sku");
    assert!(answer["error"].as_str().unwrap().contains("AV-SUNGLASS"));
    // Only the delivery is kept: no order, no line, no email.
    let [orders, lines, emails, deliveries] = stored(&app);
    assert_eq!([orders, lines, emails], before[..3]);
    assert_eq!(deliveries, before[3] + 1);

    // A rep cannot see the page; an admin sees the delivery with its payload.
    app.login_as(Role::Rep).await;
    assert_eq!(
        app.get("/admin/integrations").await.status(),
        StatusCode::FORBIDDEN
    );
    app.login_as(Role::Admin).await;
    let html = app.get("/admin/integrations").await.text().await.unwrap();
    let page = text_of(&html);
    assert!(
        page.contains("Deliveries that need attention (1)"),
        "{page}"
    );
    assert!(page.contains("order 1001"), "{page}");
    assert!(page.contains("Aviator sunglasses"), "the payload: {page}");
    assert!(
        page.contains("Our SKU for the storefront's “AV-SUNGLASS”"),
        "{page}"
    );
    let id = count(&app, "SELECT max(id) AS n FROM webhook_deliveries").to_string();
    let replay = format!("/admin/integrations/deliveries/{id}/replay");

    // A SKU of ours that does not exist: said next to the field, nothing changes.
    let response = app
        .post_form(
            &replay,
            &[("storefront_sku", "AV-SUNGLASS"), ("sku", "SUN-NOPE")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = text_of(&response.text().await.unwrap());
    assert!(
        page.contains("there is no product with SKU \"SUN-NOPE\""),
        "{page}"
    );
    assert_eq!(count(&app, "SELECT count(*) AS n FROM storefront_skus"), 0);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM orders"), before[0]);

    let response = app
        .post_form(
            &replay,
            &[("storefront_sku", "AV-SUNGLASS"), ("sku", "SUN-AVIATOR")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        lines_of(&app, "1001"),
        vec![Line {
            sku: "SUN-AVIATOR".to_owned(),
            qty: 1,
            waiting: 0,
            cancelled: 0,
            unit_price_cents: 8_999,
        }]
    );
    let page = text_of(
        &app.get("/admin/integrations?replayed=1")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(
        page.contains("Deliveries that need attention (0)"),
        "{page}"
    );
    assert!(page.contains("order 1001 placed"), "{page}");

    // The mapping stays: the next order with that storefront SKU goes straight in.
    let next = body.replace("#1001", "#1002");
    let (status, answer) = shopify(&app, "orders/create", "d-next", &next).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(lines_of(&app, "1002")[0].sku, "SUN-AVIATOR");
    // And Shopify's retry of the first delivery stores nothing new.
    let settled = stored(&app);
    let (status, answer) = shopify(&app, "orders/create", "d-unknown", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["outcome"], "already_received");
    assert_eq!(stored(&app), settled);
}

#[tokio::test]
async fn a_platform_retry_after_the_fix_takes_the_order_in() {
    let app = start().await;
    let body = fixture("shopify/orders_create.json").replace("SKU2006-001", "LATE-SKU");
    let (status, _) = shopify(&app, "orders/create", "d-retry", &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Someone adds the product under the storefront's SKU.
    shop::product(&app, "LATE-SKU", 3, 1_000);
    let (status, answer) = shopify(&app, "orders/create", "d-retry", &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "created");
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM webhook_deliveries"),
        1
    );
    assert_eq!(lines_of(&app, "9999")[0].sku, "LATE-SKU");
}

#[tokio::test]
async fn a_shopify_cancellation_cancels_the_lines_through_the_order_page_path() {
    let app = start().await;
    shop::order(
        &app,
        "OLDER-1",
        "first@example.com",
        "First",
        "SKU2006-001",
        1,
        5,
    );
    let (status, _) = shopify(
        &app,
        "orders/create",
        "c-create",
        &fixture("shopify/orders_create.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let cancelled = fixture("shopify/orders_cancelled.json");
    let (status, answer) = shopify(&app, "orders/cancelled", "c-cancel", &cancelled).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "cancelled");
    let line = &lines_of(&app, "9999")[0];
    assert_eq!((line.cancelled, line.waiting), (1, 0));
    assert_eq!(emails_to(&app, "john@example.com", "cancellation"), 1);
    // The line left the queue: the product waits for the older order's unit only.
    assert_eq!(
        count(
            &app,
            "SELECT waiting_units::int8 AS n FROM products WHERE sku = 'SKU2006-001'"
        ),
        1
    );

    // Delivered again: nothing new; a cancellation of an unknown order changes nothing.
    let settled = stored(&app);
    let (status, _) = shopify(&app, "orders/cancelled", "c-cancel", &cancelled).await;
    assert_eq!(status, StatusCode::OK);
    let other = cancelled.replace("#9999", "#4242");
    let (status, answer) = shopify(&app, "orders/cancelled", "c-other", &other).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["outcome"], "ignored");
    let [orders, lines, emails, _] = stored(&app);
    assert_eq!([orders, lines, emails], settled[..3]);
}

#[tokio::test]
async fn a_woocommerce_order_comes_in_with_the_secret_set_on_the_page() {
    let app = start().await;
    shop::product(&app, "Bar3", 4, 1_200);
    shop::product(&app, "WOO-SINGLE", 10, 300);
    let body = fixture("woocommerce/order_created.json");

    // No secret yet: refused, nothing stored.
    let (status, answer) = woocommerce(&app, "1001", &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("WOOCOMMERCE_WEBHOOK_SECRET")
    );
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM webhook_deliveries"),
        0
    );

    // WooCommerce's ping when the webhook is saved: answered, nothing stored.
    let ping = app
        .client
        .post(app.url("/webhooks/woocommerce"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("webhook_id=31")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::OK);

    app.login_as(Role::Admin).await;
    let response = app
        .post_form(
            "/admin/integrations/secrets",
            &[("platform", "woocommerce"), ("secret", WOO_SECRET)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = app.get("/admin/integrations").await.text().await.unwrap();
    assert!(!html.contains(WOO_SECRET), "the secret is never shown back");
    let page = text_of(&html);
    assert!(page.contains("ending in “cret”"), "{page}");
    // Shopify's comes from the environment: said so, and not changeable here.
    assert!(page.contains("set by SHOPIFY_WEBHOOK_SECRET"), "{page}");
    let response = app
        .post_form(
            "/admin/integrations/secrets",
            &[("platform", "shopify"), ("secret", "another-secret-value")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The example's first line has no SKU: it waits until it is mapped.
    let (status, answer) = woocommerce(&app, "1002", &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["details"][0]["field"], "line_items[0].sku");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM orders"), 0);
    let id = count(&app, "SELECT max(id) AS n FROM webhook_deliveries").to_string();
    let response = app
        .post_form(
            &format!("/admin/integrations/deliveries/{id}/replay"),
            &[("storefront_sku", "product 93"), ("sku", "WOO-SINGLE")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        lines_of(&app, "727"),
        vec![
            Line {
                sku: "WOO-SINGLE".to_owned(),
                qty: 2,
                waiting: 0,
                cancelled: 0,
                unit_price_cents: 300,
            },
            Line {
                sku: "Bar3".to_owned(),
                qty: 1,
                waiting: 0,
                cancelled: 0,
                unit_price_cents: 1_200,
            },
        ]
    );
    // Placed when WooCommerce says (date_created_gmt, UTC), not when it arrived.
    let placed: f64 = diesel::dsl::sql::<diesel::sql_types::Double>(
        "SELECT extract(epoch FROM placed_at)::float8 FROM orders WHERE number = '727'",
    )
    .get_result(&mut app.conn())
    .unwrap();
    let two_days_ago = (chrono::Utc::now() - chrono::Duration::days(2)).timestamp() as f64;
    assert!(
        (placed - two_days_ago).abs() < 300.0,
        "{placed} vs {two_days_ago}"
    );
}

/// The example with one change made at a JSON pointer (`None` removes the value).
fn changed(pointer: &str, value: Option<Value>) -> String {
    let mut body: Value = serde_json::from_str(&fixture("shopify/orders_create.json")).unwrap();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = body.pointer_mut(parent).unwrap();
    match (value, parent) {
        (Some(value), Value::Array(items)) => items[key.parse::<usize>().unwrap()] = value,
        (Some(value), Value::Object(map)) => {
            map.insert(key.to_owned(), value);
        }
        (None, Value::Object(map)) => {
            map.remove(key);
        }
        (value, node) => panic!("cannot set {pointer} to {value:?} in {node}"),
    }
    body.to_string()
}

#[tokio::test]
async fn bad_payloads_are_refused_naming_the_field() {
    let app = start().await;
    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "{\"name\": \"#9999\", ".to_owned(), "body"),
        ("JSON that is not an order", "[1, 2, 3]".to_owned(), "body"),
        (
            "a word for a quantity",
            changed("/line_items/0/quantity", Some(json!("twelve"))),
            "line_items[0].quantity",
        ),
        (
            "a negative quantity",
            changed("/line_items/0/quantity", Some(json!(-1))),
            "line_items[0].quantity",
        ),
        (
            "a quantity too big for any column",
            changed("/line_items/0/quantity", Some(json!(1e20))),
            "line_items[0].quantity",
        ),
        (
            "a price that is not an amount",
            changed(
                "/line_items/0/price",
                Some(json!("<script>alert(1)</script>")),
            ),
            "line_items[0].price",
        ),
        (
            "a time that is not one",
            changed("/created_at", Some(json!("yesterday"))),
            "created_at",
        ),
        (
            "an order placed years ago",
            changed("/created_at", Some(json!("2021-12-31T19:00:00-05:00"))),
            "created_at",
        ),
        (
            "no customer email anywhere",
            changed("/customer/email", Some(json!("'; DROP TABLE orders; --")))
                .replace("jon@example.com", ""),
            "email",
        ),
        (
            "no lines",
            changed("/line_items", Some(json!([]))),
            "line_items",
        ),
        (
            "a line without a SKU or ids",
            changed("/line_items/0/sku", None),
            "line_items[0].sku",
        ),
    ];
    for (i, (label, body, field)) in cases.iter().enumerate() {
        let before = stored(&app);
        let (status, answer) = shopify(&app, "orders/create", &format!("bad-{i}"), body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{label}: {answer}"
        );
        assert_eq!(answer["details"][0]["field"], *field, "{label}: {answer}");
        // No order, line or email; the delivery is kept for a person to see.
        let [orders, lines, emails, deliveries] = stored(&app);
        assert_eq!([orders, lines, emails], before[..3], "{label}");
        assert_eq!(deliveries, before[3] + 1, "{label}");
    }
    // A body too large for any order: refused before it is read, nothing kept.
    let before = stored(&app);
    let huge = changed("/note", Some(json!("x".repeat(3 * 1024 * 1024))));
    let (status, answer) = shopify(&app, "orders/create", "bad-huge", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(stored(&app), before);
    // Unsigned, any of these stores nothing at all.
    let (status, _) = send_shopify(&app, "orders/create", "bad-unsigned", &cases[2].1, "x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(stored(&app), before);
}
