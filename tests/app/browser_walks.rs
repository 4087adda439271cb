//! The rep's and the manager's everyday walks, in real Chromium, by labels and button
//! names as a person would.

use std::time::{Duration, Instant};

use backorder_desk::db::users::Role;
use diesel::prelude::*;

use crate::browser_helpers::Browser;
use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::shop::{order, product, purchase_order};

/// Waits until the page's text contains `expected` (htmx swaps happen after the click).
async fn wait_for_text(browser: &Browser, expected: &str) -> String {
    let start = Instant::now();
    loop {
        // A page being replaced as it is read is read again on the next round.
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

async fn sign_in(browser: &Browser, app: &TestApp, email: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill_in("Email", email).await;
    browser.fill_in("Password", PASSWORD).await;
    browser.press("Sign in").await;
    browser.heading("Daily review").await;
}

#[tokio::test]
async fn a_rep_finds_an_order_by_email_reads_the_eta_and_ships_the_allocated_part() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    product(&app, "KETTLE", 1, 4_500);
    purchase_order(&app, "PO-1042", "KETTLE", 40, 9);
    order(
        &app,
        "SO-2001",
        "ana.lopez@example.com",
        "Ana López",
        "KETTLE",
        3,
        2,
    );
    let rep = app.add_user(Role::Rep);
    sign_in(&browser, &app, &rep).await;

    // The search box in the header, reached by its label; Enter opens the one match.
    let search = browser
        .field("Find an order by number, email or name")
        .await;
    search.send_keys("ana.lopez@EXAMPLE").await.expect("type");
    search.send_keys("\u{E007}").await.expect("press Enter");

    browser.heading("Order SO-2001").await;
    let page = browser.text().await;
    assert!(
        page.contains("1 allocated") && page.contains("2 waiting"),
        "{page}"
    );
    assert!(page.contains("Ships by (told to the customer)"), "{page}");
    // The internal reason (purchase order, supplier record) is a click away (issue 16).
    assert!(
        !page.contains("1st in line for KETTLE; PO-1042 brings 40 units on"),
        "{page}"
    );
    browser
        .client
        .find(fantoccini::Locator::XPath(
            "//summary[normalize-space()='Why (internal)']",
        ))
        .await
        .expect("the reason's summary")
        .click()
        .await
        .expect("open the reason");
    wait_for_text(
        &browser,
        "1st in line for KETTLE; PO-1042 brings 40 units on",
    )
    .await;

    browser.press("Ship what is allocated").await;
    let after = wait_for_text(&browser, "1 shipped").await;
    assert!(
        after.contains("2 waiting"),
        "the rest stays queued: {after}"
    );
    assert!(
        after.contains("partial, no extra shipping charge"),
        "{after}"
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the browser reported: {errors:#?}");
    browser.close().await;
}

#[tokio::test]
async fn a_rep_proposes_a_manager_approves_and_the_offer_is_queued_with_the_coupon() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    purchase_order(&app, "PO-1", "TENT", 10, 12);
    order(&app, "SO-7", "bo@example.com", "Bo Baker", "TENT", 2, 4);
    let rep = app.add_user(Role::Rep);
    let manager = app.add_user(Role::Manager);

    sign_in(&browser, &app, &rep).await;
    browser.goto(&app.url("/orders/SO-7")).await;
    browser.heading("Order SO-7").await;
    let summary = browser
        .client
        .find(fantoccini::Locator::XPath(
            "//summary[normalize-space()='Propose a discount']",
        ))
        .await
        .expect("the proposal form's summary");
    summary.click().await.expect("open the proposal form");
    browser
        .fill_in(
            "Value (percent, or amount in EUR; none for free shipping)",
            "15",
        )
        .await;
    browser
        .fill_in("Reason", "Waited since last week for a tent")
        .await;
    browser.press("Propose discount").await;
    wait_for_text(&browser, "15% off: proposed").await;
    browser.press("Sign out").await;

    sign_in(&browser, &app, &manager).await;
    browser.goto(&app.url("/approvals")).await;
    browser.heading("Discount approvals").await;
    assert!(
        browser
            .text()
            .await
            .contains("Waited since last week for a tent")
    );
    browser.press("Approve 15% off").await;
    let text = wait_for_text(&browser, "Approved: coupon").await;

    let coupon: String = {
        use backorder_desk::db::schema::discount_proposals::dsl as d;
        d::discount_proposals
            .select(d::coupon_code.assume_not_null())
            .first(&mut app.conn())
            .unwrap()
    };
    assert!(text.contains(&coupon), "{text}");
    let offers: Vec<(String, String)> = {
        use backorder_desk::db::schema::messages::dsl as m;
        m::messages
            .filter(m::kind.eq("discount_offer"))
            .select((m::recipient, m::body_text))
            .load(&mut app.conn())
            .unwrap()
    };
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].0, "bo@example.com");
    assert!(offers[0].1.contains(&coupon), "{}", offers[0].1);
    browser.close().await;
}
