//! The pictures in `docs/`: the order page and the daily review at 1366x900 and 390x844,
//! from the demo shop, in real Chromium. Not a check (ignored in `cargo test`): remake
//! them with `docs/screenshots`.

use std::path::PathBuf;

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::browser_helpers::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
#[ignore = "makes docs/*.png; run docs/screenshots"]
async fn screenshots_of_the_order_page_and_the_daily_review() {
    let browser = Browser::start()
        .await
        .expect("Chromium and chromedriver are needed for the screenshots");
    let dir = std::env::var_os("SCREENSHOTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs"));
    std::fs::create_dir_all(&dir).expect("the screenshots' folder");
    let app = spawn_app().await;
    let logins = backorder_desk::seed::load_demo(&mut app.conn(), 1500).expect("the demo shop");
    // A three-line order with two lines or more waiting, a delayed one if there is one.
    let number: String = diesel::sql_query(
        "SELECT o.number AS value FROM orders o JOIN order_lines l ON l.order_id = o.id
          GROUP BY o.id
         HAVING count(*) = 3 AND count(*) FILTER (WHERE l.waiting > 0) >= 2
          ORDER BY bool_or(l.waiting > 0 AND l.eta_worst > l.promised_on) DESC, o.id DESC
          LIMIT 1",
    )
    .get_result::<Value>(&mut app.conn())
    .expect("a three-line order with waiting lines in the demo")
    .value;

    for (role, path, name) in [
        ("rep", format!("/orders/{number}"), "order"),
        ("manager", "/".to_owned(), "daily-review"),
    ] {
        let login = logins
            .iter()
            .find(|l| l.role == role)
            .expect("a demo login");
        browser.viewport(1366, 900).await;
        browser.goto(&app.url("/login")).await;
        browser.fill_in("Email", login.email).await;
        browser.fill_in("Password", login.password).await;
        browser.press("Sign in").await;
        browser.heading("Daily review").await;
        for (width, height) in [(1366, 900), (390, 844)] {
            browser.viewport(width, height).await;
            browser.goto(&app.url(&path)).await;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let file = dir.join(format!("{name}-{width}x{height}.png"));
            browser.screenshot(&file).await;
            println!("wrote {}", file.display());
        }
        browser.viewport(1366, 900).await;
        browser.press("Sign out").await;
    }
    browser.close().await;
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}
