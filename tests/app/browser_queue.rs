//! The queue filtered in place (htmx) in real Chromium: the bulk preview and the CSV act
//! on exactly the lines the table shows (issue 13).

use std::time::{Duration, Instant};

use backorder_desk::db::users::Role;
use fantoccini::Locator;

use crate::browser_helpers::Browser;
use crate::helpers::{PASSWORD, TestApp};
use crate::queue_page::two_suppliers;

async fn sign_in(browser: &Browser, app: &TestApp, email: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill_in("Email", email).await;
    browser.fill_in("Password", PASSWORD).await;
    browser.press("Sign in").await;
    browser.heading("Daily review").await;
}

/// Runs `script` until it returns a number that `done` accepts; returns it.
async fn wait_for_number(browser: &Browser, script: &str, done: impl Fn(i64) -> bool) -> i64 {
    let start = Instant::now();
    loop {
        let value = browser
            .client
            .execute(script, vec![])
            .await
            .ok()
            .and_then(|v| v.as_i64());
        if let Some(n) = value.filter(|n| done(*n)) {
            return n;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{script} gave {value:?}: {}",
            browser.try_text().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const ROWS: &str = "return document.querySelectorAll('#queue-table tbody tr').length;";

#[tokio::test]
async fn filtering_the_queue_in_place_then_previewing_touches_exactly_the_lines_shown() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (app, _) = two_suppliers().await;
    let rep = app.add_user(Role::Rep);
    sign_in(&browser, &app, &rep).await;
    browser.goto(&app.url("/queue")).await;
    browser.heading("Backorder queue").await;
    assert_eq!(wait_for_number(&browser, ROWS, |n| n > 0).await, 7);

    // Choose the supplier: htmx swaps the table in place, no page load.
    browser
        .client
        .execute("window.stillTheSamePage = true; return true;", vec![])
        .await
        .expect("mark the page");
    browser
        .field("Supplier")
        .await
        .select_by_label("Borealis")
        .await
        .expect("choose Borealis");
    let shown = wait_for_number(&browser, ROWS, |n| n != 7).await;
    assert_eq!(shown, 4);
    let same = browser
        .client
        .execute("return window.stillTheSamePage === true;", vec![])
        .await
        .expect("read the mark");
    assert_eq!(
        same,
        serde_json::json!(true),
        "the filter reloaded the page"
    );
    let text = browser.text().await;
    assert!(text.contains("4 waiting lines for 4 customers"), "{text}");

    // The CSV link on screen, fetched as the browser would download it.
    let csv = browser
        .client
        .find(Locator::LinkText("Export this view as CSV"))
        .await
        .expect("the CSV link");
    let href = csv.attr("href").await.unwrap().expect("an href");
    let csv_rows = browser
        .client
        .execute_async(
            "var done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(function (r) { return r.text(); })
               .then(function (t) { done(t.trim().split('\\n').length - 1); });",
            vec![serde_json::json!(href)],
        )
        .await
        .expect("fetch the CSV");
    assert_eq!(csv_rows.as_i64(), Some(shown), "CSV rows at {href}");

    // Every line this filter matches, previewed.
    browser
        .client
        .find(Locator::XPath(
            "//label[normalize-space()='Every line this filter matches']",
        ))
        .await
        .expect("the scope choice")
        .click()
        .await
        .expect("choose every line");
    browser.press("Preview").await;
    browser.heading("Email an ETA update").await;
    let preview = browser.text().await;
    assert!(
        preview.contains(&format!("This touches {shown} lines of 4 customers")),
        "{preview}"
    );
    assert!(
        preview.contains("Bob (SO-2)") && !preview.contains("Ann"),
        "{preview}"
    );
}
