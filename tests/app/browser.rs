//! Walks through the pages in real Chromium, as a person would.

use crate::browser_helpers::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_demo_manager_signs_in_and_sees_the_daily_review() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    let logins = backorder_desk::seed::load_demo(&mut app.conn(), 0).expect("load the demo");
    let manager = logins
        .iter()
        .find(|login| login.role == "manager")
        .expect("a demo manager");

    browser.goto(&app.url("/login")).await;
    browser.heading("Sign in to Backorder Desk").await;
    browser.fill_in("Email", manager.email).await;
    browser.fill_in("Password", manager.password).await;
    browser.press("Sign in").await;

    browser.heading("Daily review").await;
    let page = browser.text().await;
    assert!(page.contains("Morgan Manager"), "{page}");
    assert!(page.contains("Open backorder lines"), "{page}");
    let htmx = browser
        .client
        .execute("return typeof window.htmx", vec![])
        .await
        .expect("run a script");
    assert_eq!(
        htmx, "object",
        "htmx loaded under the Content-Security-Policy"
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the browser reported: {errors:#?}");
    browser.close().await;
}
