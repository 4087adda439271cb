//! Every page in real Chromium at a laptop's 1366x900 and a phone's 390x844 (issue 16):
//! nothing scrolls sideways, axe-core finds no serious or critical problem (and no
//! duplicate landmark), the order page's first screen holds the whole answer, and each
//! action answers beside its control with the focus on what it said.

use std::time::{Duration, Instant};

use backorder_desk::db::audit::Actor;
use backorder_desk::db::users::Role;
use backorder_desk::email::links::{self, LinkAction, LinkClaim};
use backorder_desk::services::purchasing::purchase_orders;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use fantoccini::Locator;

use crate::browser_helpers::Browser;
use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::shop::{order_of, product, purchase_order, today};

const SIZES: [(u32, u32); 2] = [(1366, 900), (390, 844)];

fn one_text(app: &TestApp, query: &str) -> String {
    diesel::dsl::sql::<Text>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn one_id(app: &TestApp, query: &str) -> i64 {
    diesel::dsl::sql::<BigInt>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

async fn sign_in(browser: &Browser, app: &TestApp, email: &str) {
    sign_in_with(browser, app, email, PASSWORD).await;
}

async fn sign_in_with(browser: &Browser, app: &TestApp, email: &str, password: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill_in("Email", email).await;
    browser.fill_in("Password", password).await;
    browser.press("Sign in").await;
    browser.heading("Daily review").await;
}

/// Waits until `script` returns true on the page (htmx swaps after the click).
async fn wait_until(browser: &Browser, script: &str, what: &str) {
    let start = Instant::now();
    loop {
        let done = browser
            .client
            .execute(script, vec![])
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if done {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} never happened: {}",
            browser.try_text().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page shown fits the width and axe-core finds nothing serious in it; each problem
/// is added to `problems`, named with the page and the width.
async fn check_shown(browser: &Browser, label: &str, width: u32, problems: &mut Vec<String>) {
    let (scroll_width, inner_width) = browser.widths().await;
    if scroll_width > inner_width || inner_width != i64::from(width) {
        problems.push(format!(
            "{label} at {width}px: the page is {scroll_width}px wide in a {inner_width}px window"
        ));
    }
    for (rule, impact, help, targets) in browser.axe().await {
        if matches!(impact.as_str(), "serious" | "critical") || rule == "landmark-unique" {
            problems.push(format!(
                "{label} at {width}px: axe {rule} ({impact}): {help} at {targets:?}"
            ));
        }
    }
}

/// The page at `url`, at both sizes.
async fn check_page(browser: &Browser, url: &str, label: &str, problems: &mut Vec<String>) {
    for (width, height) in SIZES {
        browser.viewport(width, height).await;
        browser.goto(url).await;
        check_shown(browser, label, width, problems).await;
    }
}

#[tokio::test]
async fn no_page_scrolls_sideways_on_a_phone_and_axe_finds_nothing_serious() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    let logins = backorder_desk::seed::load_demo(&mut app.conn(), 150).expect("the demo shop");
    // A waiting three-line order beside the demo's history, whatever the demo's dates.
    three_line_order(&app);
    let admin = logins
        .iter()
        .find(|login| login.role == "admin")
        .expect("a demo admin");
    let number = one_text(
        &app,
        "SELECT o.number FROM orders o JOIN order_lines l ON l.order_id = o.id
          WHERE l.waiting > 0 ORDER BY o.id LIMIT 1",
    );
    let order_id = one_id(
        &app,
        &format!("SELECT id FROM orders WHERE number = '{number}'"),
    );
    let sku = one_text(
        &app,
        &format!(
            "SELECT p.sku FROM products p JOIN order_lines l ON l.product_id = p.id
              JOIN orders o ON o.id = l.order_id WHERE o.number = '{number}' AND l.waiting > 0 LIMIT 1"
        ),
    );
    diesel::sql_query(format!(
        "INSERT INTO restock_subscriptions (product_id, email)
         SELECT id, 'fan@example.com' FROM products WHERE sku = '{sku}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let reference = one_text(
        &app,
        "SELECT reference FROM purchase_orders WHERE status = 'open' ORDER BY id LIMIT 1",
    );
    let po_line = one_id(
        &app,
        &format!(
            "SELECT l.id FROM purchase_order_lines l JOIN purchase_orders p ON p.id = l.purchase_order_id
              WHERE p.reference = '{reference}' ORDER BY l.id LIMIT 1"
        ),
    );
    let message = one_id(&app, "SELECT min(id) FROM messages");
    let key = links::signing_key(&mut app.conn()).expect("the link key");
    let token = links::sign(&key, &LinkClaim::new(LinkAction::Wait, order_id, None));
    let customer = one_text(
        &app,
        &format!(
            "SELECT c.email FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.number = '{number}'"
        ),
    );

    let mut problems = Vec::new();
    // Signed out: the sign-in page, a customer's link page, and a page that is not there.
    check_page(&browser, &app.url("/login"), "sign-in", &mut problems).await;
    check_page(
        &browser,
        &app.url(&format!("/l/{token}")),
        "link",
        &mut problems,
    )
    .await;
    browser.viewport(1366, 900).await;
    sign_in_with(&browser, &app, admin.email, admin.password).await;
    let pages = [
        ("/".to_owned(), "daily review"),
        ("/queue".to_owned(), "queue"),
        ("/orders".to_owned(), "order search"),
        (format!("/orders?q={customer}"), "order search results"),
        (format!("/orders/{number}"), "order"),
        ("/inventory".to_owned(), "inventory"),
        (format!("/inventory/{sku}"), "product"),
        ("/purchase-orders".to_owned(), "purchase orders"),
        ("/purchase-orders/new".to_owned(), "new purchase order"),
        (format!("/purchase-orders/{reference}"), "purchase order"),
        (
            format!("/purchase-orders/{reference}/receive?qty_{po_line}=1"),
            "receipt preview",
        ),
        (
            "/purchase-orders/suggestions".to_owned(),
            "reorder suggestions",
        ),
        ("/messages".to_owned(), "messages"),
        (format!("/messages?q={number}"), "messages of an order"),
        (format!("/messages/{message}"), "message"),
        ("/messages/compose".to_owned(), "compose"),
        ("/messages/compose?mode=bulk".to_owned(), "bulk update"),
        ("/approvals".to_owned(), "approvals"),
        ("/admin/users".to_owned(), "users"),
        ("/admin/tokens".to_owned(), "API tokens"),
        ("/admin/settings".to_owned(), "settings"),
        ("/admin/audit".to_owned(), "audit log"),
        ("/orders/NO-SUCH-ORDER".to_owned(), "not found"),
    ];
    for (path, label) in &pages {
        check_page(&browser, &app.url(path), label, &mut problems).await;
    }
    // The queue's bulk preview is the answer to a form: select a line and ask for it.
    for (width, height) in SIZES {
        browser.viewport(width, height).await;
        browser.goto(&app.url("/queue")).await;
        browser
            .client
            .find(Locator::Css("input[name='line']"))
            .await
            .expect("a line to select")
            .click()
            .await
            .expect("select a line");
        browser.press("Preview").await;
        browser.heading("Email an ETA update").await;
        check_shown(&browser, "bulk preview", width, &mut problems).await;
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // The page that is not there answers 404 on purpose; nothing else may fail.
    let errors: Vec<String> = browser
        .console_errors()
        .await
        .into_iter()
        .filter(|e| !(e.contains("/orders/NO-SUCH-ORDER") && e.contains("404")))
        .collect();
    assert!(errors.is_empty(), "the browser reported: {errors:#?}");
    browser.close().await;
}

/// A three-line order: one line delayed (its delivery moved a week), one with no date
/// (at risk), one on track.
fn three_line_order(app: &TestApp) {
    product(app, "DOCK-USB-C-12", 0, 9_900);
    product(app, "LAMP-DESK-LED", 0, 4_000);
    product(app, "CHAIR-ERGO-PRO", 0, 24_000);
    purchase_order(app, "PO-1042", "DOCK-USB-C-12", 10, 5);
    purchase_order(app, "PO-1043", "LAMP-DESK-LED", 10, 6);
    purchase_order(app, "PO-1044", "CHAIR-ERGO-PRO", 1, 4);
    order_of(
        app,
        "SO-11474",
        "nia.ivanova@example.com",
        "Nia Ivanova",
        &[
            ("LAMP-DESK-LED", 1),
            ("DOCK-USB-C-12", 1),
            ("CHAIR-ERGO-PRO", 2),
        ],
        2,
    );
    purchase_orders::change_expected_date(
        &mut app.conn(),
        &Actor::System,
        "PO-1042",
        today() + chrono::Duration::days(12),
        today(),
    )
    .expect("move the dock's delivery");
}

#[tokio::test]
async fn the_first_screen_holds_the_answer_for_every_waiting_line_of_a_three_line_order() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    three_line_order(&app);
    let rep = app.add_user(Role::Rep);
    sign_in(&browser, &app, &rep).await;

    for (width, height) in SIZES {
        browser.viewport(width, height).await;
        browser.goto(&app.url("/orders/SO-11474")).await;
        browser.heading("Order SO-11474").await;
        let placed: serde_json::Value = browser
            .client
            .execute(
                "window.scrollTo(0, 0);
                 return Array.prototype.map.call(
                   document.querySelectorAll('.answer-lines [data-answer]'),
                   function (e) { var r = e.getBoundingClientRect();
                                  return [e.textContent, r.top, r.bottom, window.innerHeight]; });",
                vec![],
            )
            .await
            .expect("measure the answer");
        let lines = placed.as_array().expect("the answer's sentences");
        assert_eq!(lines.len(), 3, "a sentence for each waiting line: {placed}");
        for line in lines {
            let bottom = line[2].as_f64().unwrap();
            let inner = line[3].as_f64().unwrap();
            assert!(
                bottom <= inner,
                "at {width}x{height} this sentence ends at {bottom}px, below the first screen ({inner}px): {}",
                line[0]
            );
        }
        let first = lines[0][0].as_str().unwrap();
        assert!(
            first.starts_with("The Product DOCK-USB-C-12 ships by"),
            "the delayed line first: {first}"
        );

        // The copy button appears with the script and says what it did.
        let copy = browser
            .client
            .find(Locator::XPath(
                "//button[normalize-space()='Copy the answer']",
            ))
            .await
            .expect("the copy button");
        assert!(copy.is_displayed().await.unwrap(), "the copy button shows");
        copy.click().await.expect("copy");
        wait_until(
            &browser,
            "var s = document.getElementById('copy-status').textContent;
             return s.indexOf('Copied') === 0 || s.indexOf('Selected') === 0;",
            "the copy button's answer",
        )
        .await;
    }
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the browser reported: {errors:#?}");
    browser.close().await;
}

#[tokio::test]
async fn actions_answer_beside_their_control_keep_the_focus_and_the_phone_menu_folds() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    three_line_order(&app);
    let rep = app.add_user(Role::Rep);
    sign_in(&browser, &app, &rep).await;
    browser.goto(&app.url("/orders/SO-11474")).await;

    // Email an ETA update: the answer appears beside the button and takes the focus.
    browser.heading("Order SO-11474").await;
    browser.press("Email the customer an ETA update").await;
    wait_until(
        &browser,
        "return document.activeElement && document.activeElement.id === 'feedback-eta-update';",
        "focus on the ETA update's answer",
    )
    .await;
    let said = browser.text().await;
    assert!(
        said.contains("Queued: the customer gets an email with the dates above")
            && said.contains("An ETA update went to the customer today at"),
        "{said}"
    );

    // Cancelling: a reason that is only a space is refused beside the field, which gets
    // the focus; a real one asks first; confirming cancels and says so.
    let line = one_id(
        &app,
        "SELECT l.id FROM order_lines l JOIN products p ON p.id = l.product_id WHERE p.sku = 'LAMP-DESK-LED'",
    );
    let summary = browser
        .client
        .find(Locator::Css(&format!(
            "#line-{line} .danger-zone > summary"
        )))
        .await
        .expect("the line's cancel summary");
    summary.click().await.expect("open it");
    let press_in_line = |text: &'static str| {
        let browser = &browser;
        async move {
            browser
                .client
                .find(Locator::XPath(&format!(
                    "//article[@id='line-{line}']//button[normalize-space()='{text}']"
                )))
                .await
                .unwrap_or_else(|e| panic!("no button {text:?} in the line: {e}"))
                .click()
                .await
                .expect("press it");
        }
    };
    browser
        .fill_in("Reason to cancel the open units of LAMP-DESK-LED", " ")
        .await;
    press_in_line("Cancel line…").await;
    let field = format!("cancel-reason-{line}");
    wait_until(
        &browser,
        &format!("return document.activeElement && document.activeElement.id === '{field}';"),
        "focus back on the refused reason",
    )
    .await;
    assert!(
        browser
            .text()
            .await
            .contains("give a reason for the cancellation")
    );
    browser
        .fill_in(
            "Reason to cancel the open units of LAMP-DESK-LED",
            "Bought one in a shop",
        )
        .await;
    press_in_line("Cancel line…").await;
    wait_until(
        &browser,
        &format!(
            "return document.activeElement && document.activeElement.id === 'cancel-confirm-{line}';"
        ),
        "focus on the question",
    )
    .await;
    assert_eq!(
        one_id(
            &app,
            "SELECT coalesce(sum(cancelled), 0)::int8 FROM order_lines"
        ),
        0,
        "asking cancels nothing"
    );
    press_in_line("Yes, cancel 1 unit").await;
    wait_until(
        &browser,
        "return document.activeElement && document.activeElement.id === 'feedback-lines';",
        "focus on the cancellation's answer",
    )
    .await;
    assert!(
        browser
            .text()
            .await
            .contains("Cancelled. The units went to the next in line")
    );
    assert_eq!(
        one_id(
            &app,
            "SELECT coalesce(sum(cancelled), 0)::int8 FROM order_lines"
        ),
        1
    );

    // On a phone the main menu is folded behind "Menu", without any page scrolling
    // sideways, and opens on a tap.
    browser.viewport(390, 844).await;
    browser.goto(&app.url("/queue")).await;
    browser.heading("Backorder queue").await;
    let queue_link = browser
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(".nav-links a[href='/queue']"))
        .await
        .expect("the menu's queue link");
    assert!(
        !queue_link.is_displayed().await.unwrap(),
        "folded on a phone"
    );
    browser
        .client
        .find(Locator::XPath("//summary[normalize-space()='Menu']"))
        .await
        .expect("the menu button")
        .click()
        .await
        .expect("open the menu");
    assert!(queue_link.is_displayed().await.unwrap(), "open after a tap");
    // The refused reason's 422 is the one error Chromium logs: it is the answer shown.
    let errors: Vec<String> = browser
        .console_errors()
        .await
        .into_iter()
        .filter(|e| !(e.contains(&format!("/lines/{line}/cancel")) && e.contains("422")))
        .collect();
    assert!(errors.is_empty(), "the browser reported: {errors:#?}");
    browser.close().await;
}
