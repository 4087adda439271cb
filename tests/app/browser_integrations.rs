//! The admin's walk on the Integrations page in real Chromium, by labels and button
//! names: set Shopify's secret, then map the SKU of an order that could not come in and
//! replay it.

use std::time::{Duration, Instant};

use backorder_desk::db::users::Role;
use backorder_desk::services::webhooks::signature;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::browser_helpers::Browser;
use crate::helpers::{PASSWORD, spawn_app};
use crate::shop::product;

async fn wait_for_text(browser: &Browser, expected: &str) -> String {
    let start = Instant::now();
    loop {
        let text = browser.try_text().await.unwrap_or_default();
        if text.contains(expected) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{expected:?} never appeared in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_admin_sets_the_secret_maps_an_unknown_sku_and_replays_the_order() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    product(&app, "SUN-AVIATOR", 4, 8_999);
    let admin = app.add_user(Role::Admin);
    browser.goto(&app.url("/login")).await;
    browser.fill_in("Email", &admin).await;
    browser.fill_in("Password", PASSWORD).await;
    browser.press("Sign in").await;
    browser.heading("Daily review").await;

    browser.goto(&app.url("/admin/integrations")).await;
    browser.heading("Integrations").await;
    let page = browser.text().await;
    assert!(page.contains("No secret is set"), "{page}");
    let secret = "whsec-from-the-shopify-admin";
    browser.fill_in("Shopify webhook secret", secret).await;
    browser.press("Save Shopify secret").await;
    let page = wait_for_text(&browser, "The Shopify secret was saved.").await;
    assert!(
        page.contains("ending in “dmin”") && !page.contains(secret),
        "{page}"
    );

    // Shopify sends an order whose SKU the shop knows by another name.
    let body = crate::webhooks::fixture("shopify/orders_create.json")
        .replace("SKU2006-001", "AV-SUNGLASS");
    let response = app
        .client
        .post(app.url("/webhooks/shopify"))
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Webhook-Id", "b54557e4-browser")
        .header(
            "X-Shopify-Hmac-Sha256",
            signature::sign(secret, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let id: i64 = diesel::dsl::sql::<BigInt>("SELECT max(id) FROM webhook_deliveries")
        .get_result(&mut app.conn())
        .unwrap();

    browser.goto(&app.url("/admin/integrations")).await;
    browser.heading("Deliveries that need attention (1)").await;
    browser
        .fill_in("Our SKU for the storefront's “AV-SUNGLASS”", "SUN-AVIATOR")
        .await;
    browser
        .press(&format!("Map and replay delivery {id}"))
        .await;
    let page = wait_for_text(&browser, &format!("Delivery {id} was taken in.")).await;
    assert!(
        page.contains("Deliveries that need attention (0)"),
        "{page}"
    );
    assert!(page.contains("order 9999 placed"), "{page}");
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the browser reported: {errors:#?}");
    browser.close().await;
}
