//! The customer's live status page (issue 18, part 4): the "Follow your order" link in
//! the emails a real SMTP server receives, what the page shows a customer (and what it
//! never shows), that viewing it changes nothing, forged links, how long it works, and the
//! page in real Chromium on a phone.

use std::time::Duration;

use backorder_desk::db::audit::Actor;
use backorder_desk::domain::human_date;
use backorder_desk::email::worker::{self, WorkerConfig};
use backorder_desk::services::orders::fulfilment;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text};
use fantoccini::Locator;
use reqwest::StatusCode;

use crate::browser_helpers::Browser;
use crate::helpers::{TestApp, spawn_app};
use crate::shop::{self, order, order_of, product, purchase_order, sql, text_of, today};
use crate::smtp_sink::Sink;

fn count(app: &TestApp, query: &str) -> i64 {
    diesel::dsl::sql::<BigInt>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn one_text(app: &TestApp, query: &str) -> String {
    diesel::dsl::sql::<Text>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn one_date(app: &TestApp, query: &str) -> NaiveDate {
    diesel::dsl::sql::<Date>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn link_in(text: &str, label: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label:?} line in {text}"));
    line[line.find("http").expect("a URL")..].trim().to_owned()
}

/// The link's path, answered by this app (emails carry PUBLIC_URL, which has no port here).
fn path_of(link: &str) -> String {
    link.trim_start_matches("http://127.0.0.1").to_owned()
}

/// The "Follow your order" link of the latest email of `kind` for order `number`.
fn status_link(app: &TestApp, kind: &str, number: &str) -> String {
    let body = one_text(
        app,
        &format!(
            "SELECT m.body_text FROM messages m JOIN orders o ON o.id = m.order_id
              WHERE m.kind = '{kind}' AND o.number = '{number}' ORDER BY m.id DESC LIMIT 1"
        ),
    );
    link_in(&body, "Follow your order:")
}

/// KETTLE: none on the shelf, PO-1 brings 10 from supplier Acme in 5 days; MUG: 5 on the
/// shelf. W-199 waits for 1 kettle; W-200 (Ada) waits for 2 kettles behind it and has a
/// mug reserved.
fn two_waiting_orders(app: &TestApp) {
    product(app, "KETTLE", 0, 2_500);
    product(app, "MUG", 5, 900);
    purchase_order(app, "PO-1", "KETTLE", 10, 5);
    order(
        app,
        "W-199",
        "bo@example.com",
        "Bo Lindqvist",
        "KETTLE",
        1,
        3,
    );
    order_of(
        app,
        "W-200",
        "ada@example.com",
        "Ada Lovelace",
        &[("KETTLE", 2), ("MUG", 1)],
        1,
    );
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.get(path).await;
    let status = response.status();
    (status, response.text().await.expect("the page"))
}

#[tokio::test]
async fn the_email_links_to_a_status_page_with_place_dates_countdown_and_the_choices_that_apply() {
    let app = spawn_app().await;
    two_waiting_orders(&app);
    let sink = Sink::start().await;
    let mut settings = app.settings.clone();
    settings.smtp_url = Some(sink.url());
    let config = WorkerConfig {
        idle_poll: Duration::from_millis(20),
        periodic_every: Duration::from_secs(3600),
        periodic: Some(backorder_desk::services::messages::periodic::periodic_jobs),
        render_at_sending: Some(
            backorder_desk::services::messages::restock_mail::render_at_sending,
        ),
        ..WorkerConfig::default()
    };
    let (_stop, _worker) = worker::spawn(app.pool.clone(), &settings, config).expect("a worker");

    // The backorder notice, as the SMTP server received it, carries the status link in
    // both parts.
    let received = sink.wait_for(2, 10).await;
    let mail = received
        .iter()
        .find(|m| m.to == vec!["ada@example.com".to_owned()])
        .expect("Ada's backorder notice");
    assert_eq!(
        mail.subject(),
        "Order W-200: part of it is on its way to us"
    );
    let (plain, html) = mail.parts();
    let link = link_in(&plain, "Follow your order:");
    assert!(link.starts_with("http://127.0.0.1/s/"), "{link}");
    assert!(
        html.contains(&format!("Follow your order: <a href=\"{link}\">")),
        "{html}"
    );

    let (status, body) = page(&app, &path_of(&link)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Small: the page is plain HTML (and one small stylesheet), no script.
    eprintln!("status page: {} bytes of HTML", body.len());
    assert!(body.len() < 12_000, "{} bytes", body.len());
    assert!(!body.contains("<script"), "{body}");
    let text = text_of(&body);
    let kettle = "SELECT l.{} FROM order_lines l JOIN orders o ON o.id = l.order_id
                   JOIN products p ON p.id = l.product_id WHERE o.number = 'W-200' AND p.sku = 'KETTLE'";
    let likely = one_date(&app, &kettle.replace("{}", "eta_likely"));
    let worst = one_date(&app, &kettle.replace("{}", "eta_worst"));
    let days = (worst - today()).num_days();
    assert!(days > 1, "the kettle ships in {days} days");
    for expected in [
        "Order W-200".to_owned(),
        "Product KETTLE (× 2)".to_owned(),
        "2 waiting for stock".to_owned(),
        "Place in line 2nd in line".to_owned(),
        format!("Countdown ships within {days} days"),
        format!("Likely to ship {}", human_date(likely, today())),
        format!("Ships by at the latest {}", human_date(worst, today())),
        format!(
            "Waiting for the next delivery, due {}",
            human_date(today() + chrono::Duration::days(5), today())
        ),
        "Product MUG (× 1) 1 reserved for you, ships soon".to_owned(),
        "What you can do now".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected:?} in {text}");
    }
    // The choices are the one-use self-service links, each for this order.
    for label in [
        "Keep waiting",
        "Ship what is ready now",
        "Cancel the waiting items",
    ] {
        let anchor = format!("\">{label}</a>");
        let at = body
            .find(&anchor)
            .unwrap_or_else(|| panic!("a link {label:?} in {body}"));
        let href_at = body[..at].rfind("href=\"").expect("its href") + 6;
        let href = &body[href_at..at];
        assert!(href.starts_with("http://127.0.0.1/l/"), "{href}");
        let (status, confirm) = page(&app, &path_of(href)).await;
        assert_eq!(status, StatusCode::OK, "{confirm}");
        assert!(text_of(&confirm).contains("W-200"), "{confirm}");
    }
    // Nothing internal: no supplier, purchase order, reliability or the stored reason.
    let reason = one_text(&app, &kettle.replace("{}", "eta_reason"));
    assert!(
        reason.contains("PO-1"),
        "the stored reason is internal: {reason}"
    );
    for internal in [
        "Acme",
        "PO-1",
        "on time",
        "reliab",
        "supplier",
        reason.as_str(),
    ] {
        assert!(!body.contains(internal), "{internal:?} shown in {body}");
    }

    // Viewing changed nothing and used nothing up: the page shows again, the same.
    assert_eq!(count(&app, "SELECT count(*) FROM link_uses"), 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM order_lines WHERE customer_choice <> 'wait' OR shipped > 0 OR cancelled > 0"
        ),
        0
    );
    let (again, body_again) = page(&app, &path_of(&link)).await;
    assert_eq!(again, StatusCode::OK);
    assert!(text_of(&body_again).contains("Place in line 2nd in line"));
}

#[tokio::test]
async fn only_choices_that_apply_are_offered() {
    let app = spawn_app().await;
    product(&app, "KETTLE", 0, 2_500);
    purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    order(&app, "W-300", "ada@example.com", "Ada", "KETTLE", 1, 0);
    let (status, body) = page(
        &app,
        &path_of(&status_link(&app, "backorder_notice", "W-300")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = text_of(&body);
    assert!(text.contains("Place in line 1st in line"), "{text}");
    assert!(text.contains("Keep waiting"), "{text}");
    assert!(text.contains("Cancel the waiting items"), "{text}");
    // Nothing is ready, so there is nothing to ship now.
    assert!(!text.contains("Ship what is ready now"), "{text}");
}

#[tokio::test]
async fn a_tampered_or_other_orders_token_is_refused() {
    let app = spawn_app().await;
    two_waiting_orders(&app);
    let ada = path_of(&status_link(&app, "backorder_notice", "W-200"));
    let bo = path_of(&status_link(&app, "backorder_notice", "W-199"));
    let (ada_payload, ada_signature) = ada["/s/".len()..].split_once('.').unwrap();
    let (bo_payload, _) = bo["/s/".len()..].split_once('.').unwrap();
    let mut flipped = ada_signature.to_owned();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let choice = link_in(
        &one_text(
            &app,
            "SELECT m.body_text FROM messages m JOIN orders o ON o.id = m.order_id
              WHERE o.number = 'W-200' AND m.kind = 'backorder_notice'",
        ),
        "Keep waiting:",
    );
    let choice_token = path_of(&choice)["/l/".len()..].to_owned();
    for (what, path) in [
        ("a changed signature", format!("/s/{ada_payload}.{flipped}")),
        (
            "another order's claim with this signature",
            format!("/s/{bo_payload}.{ada_signature}"),
        ),
        ("a choice link's token", format!("/s/{choice_token}")),
        ("a cut link", ada[..ada.len() - 10].to_owned()),
    ] {
        let (status, body) = page(&app, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
        let text = text_of(&body);
        assert!(text.contains("This link does not work"), "{what}: {text}");
        assert!(
            !text.contains("W-200") && !text.contains("KETTLE"),
            "{what}: {text}"
        );
    }
    // A status token does not act as a choice link either.
    let status_token = &ada["/s/".len()..];
    let (status, body) = page(&app, &format!("/l/{status_token}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Each genuine link shows its own order.
    let (_, body) = page(&app, &bo).await;
    assert!(text_of(&body).contains("Order W-199"));
}

#[tokio::test]
async fn a_finished_order_shows_for_thirty_days_then_the_link_has_expired() {
    let app = spawn_app().await;
    product(&app, "MUG", 5, 900);
    for number in ["W-401", "W-402"] {
        order(&app, number, "ada@example.com", "Ada", "MUG", 1, 40);
        fulfilment::ship_allocated(&mut app.conn(), &Actor::System, number, today())
            .unwrap_or_else(|e| panic!("ship {number}: {e}"));
    }
    // The shipment email carries the link too.
    let recent = path_of(&status_link(&app, "shipment", "W-401"));
    let old = path_of(&status_link(&app, "shipment", "W-402"));
    sql(
        &app,
        "UPDATE order_lines l SET completed_at = now() - interval '29 days' FROM orders o
          WHERE o.id = l.order_id AND o.number = 'W-401'",
    );
    sql(
        &app,
        "UPDATE order_lines l SET completed_at = now() - interval '31 days' FROM orders o
          WHERE o.id = l.order_id AND o.number = 'W-402'",
    );

    let (status, body) = page(&app, &recent).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = text_of(&body);
    assert!(text.contains("Order W-401"), "{text}");
    assert!(text.contains("This order is finished"), "{text}");
    assert!(text.contains("1 sent"), "{text}");
    let until = human_date(today() + chrono::Duration::days(1), today());
    assert!(text.contains(&format!("It works until {until}")), "{text}");
    assert!(!text.contains("What you can do now"), "{text}");

    let (status, body) = page(&app, &old).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    let text = text_of(&body);
    assert!(text.contains("This link has expired"), "{text}");
    assert!(text.contains("reply to any of our emails"), "{text}");
    assert!(!text.contains("W-402"), "{text}");
}

#[tokio::test]
async fn on_a_phone_the_status_page_fits_reads_by_headings_and_axe_finds_nothing_serious() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    shop::product(
        &app,
        "CHAIR-ERGONOMIC-PROFESSIONAL-EXTRA-LONG-NAME",
        0,
        24_000,
    );
    two_waiting_orders(&app);
    purchase_order(
        &app,
        "PO-2",
        "CHAIR-ERGONOMIC-PROFESSIONAL-EXTRA-LONG-NAME",
        3,
        9,
    );
    order_of(
        &app,
        "W-500",
        "ada@example.com",
        "Ada Lovelace",
        &[
            ("KETTLE", 1),
            ("MUG", 1),
            ("CHAIR-ERGONOMIC-PROFESSIONAL-EXTRA-LONG-NAME", 1),
        ],
        0,
    );
    let link = status_link(&app, "backorder_notice", "W-500");
    browser.viewport(390, 844).await;
    browser.goto(&app.url(&path_of(&link))).await;
    browser.heading("Order W-500").await;
    browser.heading("Your items").await;
    browser.heading("What you can do now").await;

    // Each line is read by its heading, then its labelled facts.
    let fact = |product: &str, label: &str| {
        format!(
            "//h3[starts-with(normalize-space(), 'Product {product} ')]/following-sibling::dl//dt[normalize-space()='{label}']/following-sibling::dd[1]"
        )
    };
    for (product, place) in [
        ("KETTLE", "3rd in line"),
        (
            "CHAIR-ERGONOMIC-PROFESSIONAL-EXTRA-LONG-NAME",
            "1st in line",
        ),
    ] {
        let shown = browser
            .client
            .find(Locator::XPath(&fact(product, "Place in line")))
            .await
            .unwrap_or_else(|e| panic!("{product}'s place: {e}"))
            .text()
            .await
            .unwrap();
        assert_eq!(shown, place, "{product}");
        let countdown = browser
            .client
            .find(Locator::XPath(&fact(product, "Countdown")))
            .await
            .unwrap_or_else(|e| panic!("{product}'s countdown: {e}"))
            .text()
            .await
            .unwrap();
        assert!(countdown.starts_with("ships within "), "{countdown}");
    }
    let chair_waits = browser
        .client
        .find(Locator::XPath(&fact(
            "CHAIR-ERGONOMIC-PROFESSIONAL-EXTRA-LONG-NAME",
            "Waiting for",
        )))
        .await
        .expect("what the chair waits for")
        .text()
        .await
        .unwrap();
    assert_eq!(
        chair_waits,
        format!(
            "the next delivery, due {}",
            human_date(today() + chrono::Duration::days(9), today())
        )
    );
    // The mug is reserved: no place in line.
    assert!(
        browser
            .client
            .find(Locator::XPath(&fact("MUG", "Place in line")))
            .await
            .is_err()
    );

    let (scroll_width, inner_width) = browser.widths().await;
    assert_eq!(inner_width, 390);
    assert!(
        scroll_width <= inner_width,
        "the page is {scroll_width}px wide in a {inner_width}px window"
    );
    let serious: Vec<_> = browser
        .axe()
        .await
        .into_iter()
        .filter(|(rule, impact, ..)| {
            matches!(impact.as_str(), "serious" | "critical") || rule == "landmark-unique"
        })
        .collect();
    assert!(serious.is_empty(), "axe: {serious:#?}");
    // No script on the page, and none needed: the choices are plain links.
    assert_eq!(
        browser
            .client
            .execute("return document.scripts.length;", vec![])
            .await
            .unwrap(),
        serde_json::json!(0)
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the browser reported: {errors:#?}");

    // The page for a broken link fits too.
    browser
        .goto(&app.url(&path_of(&link[..link.len() - 10])))
        .await;
    browser.heading("This link does not work").await;
    let (scroll_width, inner_width) = browser.widths().await;
    assert!(scroll_width <= inner_width);
    browser.close().await;
}
