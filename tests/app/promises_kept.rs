//! Issue 13, the customer's side: self-service pages offer only choices that apply and
//! say why when a link no longer does; one discount proposal per order and delay, withdrawn
//! when nothing is left to ship; words that match the facts.

use backorder_desk::db::audit::Actor;
use backorder_desk::db::users::Role;
use backorder_desk::email::links::{self, LinkAction, LinkClaim};
use backorder_desk::services::{messages, orders::fulfilment, purchasing};
use backorder_desk::types::Sku;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use reqwest::StatusCode;

use crate::helpers::{Browser, PASSWORD, TestApp, csrf_in, spawn_app};
use crate::shop::{self, order, order_of, product, purchase_order, sql, text_of, today};

fn count(app: &TestApp, query: &str) -> i64 {
    diesel::dsl::sql::<BigInt>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn text(app: &TestApp, query: &str) -> String {
    diesel::dsl::sql::<Text>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn backorder_text(app: &TestApp) -> String {
    text(
        app,
        "SELECT body_text FROM messages WHERE kind = 'backorder_notice'",
    )
}

/// The path of the link on the line labelled `label` of an email's text.
fn link_path(text: &str, label: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label:?} line in {text}"));
    line[line.find("http").expect("a URL")..]
        .trim()
        .trim_start_matches("http://127.0.0.1")
        .to_owned()
}

/// A link as an older email carried it, signed with the shop's key.
fn signed_link(app: &TestApp, action: LinkAction, order_id: i64) -> String {
    let key = links::signing_key(&mut app.conn()).unwrap();
    format!(
        "/l/{}",
        links::sign(&key, &LinkClaim::new(action, order_id, None))
    )
}

/// Opens a link's page, then confirms it as the customer would: (the page, the answer).
async fn open_and_confirm(app: &TestApp, path: &str) -> (String, StatusCode, String) {
    let page = app.get(path).await.text().await.unwrap();
    let token = csrf_in(&app.get("/login").await.text().await.unwrap()).unwrap();
    let response = app
        .client
        .post(app.url(path))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        text_of(&page),
        status,
        text_of(&response.text().await.unwrap()),
    )
}

fn untouched(app: &TestApp) -> (i64, i64, String) {
    (
        count(app, "SELECT count(*) FROM link_uses"),
        count(
            app,
            "SELECT count(*) FROM messages WHERE kind IN ('shipment', 'cancellation')",
        ),
        text(
            app,
            "SELECT string_agg(customer_choice, ',' ORDER BY id) FROM order_lines",
        ),
    )
}

// --- Self-service choices ---

#[tokio::test]
async fn with_nothing_ready_no_ship_now_is_offered_and_an_old_ship_link_changes_nothing() {
    let app = spawn_app().await;
    product(&app, "KETTLE", 0, 2_500);
    purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    order(&app, "W-1", "ada@example.com", "Ada", "KETTLE", 2, 0);

    let email = backorder_text(&app);
    assert!(email.contains("Keep waiting:") && email.contains("Cancel the waiting items:"));
    assert!(
        !email.contains("Ship what is ready now"),
        "nothing is ready, so shipping it now is not offered: {email}"
    );
    let html = text(
        &app,
        "SELECT body_html FROM messages WHERE kind = 'backorder_notice'",
    );
    assert!(!html.contains("Ship what is ready now"), "{html}");

    let order_id = count(&app, "SELECT id FROM orders");
    let before = untouched(&app);
    let (page, status, answer) =
        open_and_confirm(&app, &signed_link(&app, LinkAction::ShipReady, order_id)).await;
    assert!(page.contains("This choice no longer applies"), "{page}");
    assert!(
        page.contains("Nothing on order W-1 is ready to ship yet"),
        "{page}"
    );
    assert!(
        !page.contains("Yes, ship what is ready now"),
        "no button: {page}"
    );
    assert_eq!(status, StatusCode::OK);
    assert!(answer.contains("Nothing was changed"), "{answer}");
    assert_eq!(untouched(&app), before, "nothing changed");
}

#[tokio::test]
async fn after_part_has_shipped_keep_waiting_speaks_of_the_rest() {
    let app = spawn_app().await;
    product(&app, "KETTLE", 1, 2_500);
    purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    order(&app, "W-2", "hal@example.com", "Hal", "KETTLE", 3, 0);
    let email = backorder_text(&app);
    let keep = link_path(&email, "Keep waiting:");
    let ship = link_path(&email, "Ship what is ready now:");

    let (_, status, answer) = open_and_confirm(&app, &ship).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer.contains("We are shipping the 1 item ready now"),
        "{answer}"
    );

    let page = text_of(&app.get(&keep).await.text().await.unwrap());
    assert!(
        page.contains("Keep waiting for the rest of order W-2? Part of it has been sent already"),
        "{page}"
    );
    assert!(!page.contains("ship it all together"), "{page}");
    let (_, _, answer) = open_and_confirm(&app, &keep).await;
    assert!(
        answer.contains("send the rest of your order together"),
        "{answer}"
    );
    assert!(!answer.contains("ship everything together"), "{answer}");
}

#[tokio::test]
async fn on_a_cancelled_order_a_link_says_so_offers_nothing_and_changes_nothing() {
    let app = spawn_app().await;
    product(&app, "KETTLE", 0, 2_500);
    purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    order(&app, "W-3", "fay@example.com", "Fay", "KETTLE", 2, 0);
    let email = backorder_text(&app);
    let line_id = count(&app, "SELECT id FROM order_lines");
    fulfilment::cancel_line(
        &mut app.conn(),
        &Actor::System,
        line_id,
        None,
        "the customer phoned",
        today(),
    )
    .unwrap();

    for label in ["Keep waiting:", "Cancel the waiting items:"] {
        let before = untouched(&app);
        let (page, status, answer) = open_and_confirm(&app, &link_path(&email, label)).await;
        assert!(
            page.contains("Order W-3 was cancelled, so there is nothing left to choose."),
            "{label} {page}"
        );
        assert!(!page.contains("keep your place in the queue"), "{page}");
        assert!(!page.contains("Yes,"), "no button: {page}");
        assert_eq!(status, StatusCode::OK);
        assert!(answer.contains("Order W-3 was cancelled"), "{answer}");
        assert_eq!(untouched(&app), before, "{label}: nothing changed");
    }
}

#[tokio::test]
async fn on_a_fully_shipped_order_a_link_says_it_is_finished() {
    let app = spawn_app().await;
    product(&app, "KETTLE", 0, 2_500);
    purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    order(&app, "W-4", "gil@example.com", "Gil", "KETTLE", 2, 0);
    let keep = link_path(&backorder_text(&app), "Keep waiting:");
    purchasing::receive::receive(
        &mut app.conn(),
        &Actor::System,
        "PO-1",
        vec![purchasing::ReceiptLine {
            sku: Sku::parse("KETTLE").unwrap(),
            quantity: 10,
        }],
        None,
        today(),
    )
    .unwrap();
    fulfilment::ship_allocated(&mut app.conn(), &Actor::System, "W-4", today()).unwrap();

    let before = untouched(&app);
    let (page, _, answer) = open_and_confirm(&app, &keep).await;
    assert!(
        page.contains("Everything on order W-4 has been sent, so there is nothing left to choose."),
        "{page}"
    );
    assert!(!page.contains("keep your place in the queue"), "{page}");
    assert!(answer.contains("Nothing was changed"), "{answer}");
    assert_eq!(untouched(&app), before);
}

// --- Discount proposals ---

fn refresh_all(app: &TestApp) {
    let settings = backorder_desk::db::shop_settings::load(&mut app.conn()).unwrap();
    let ctx = backorder_desk::services::engine::Ctx {
        actor: &Actor::System,
        today: today(),
        settings: &settings,
    };
    let ids: Vec<i64> = backorder_desk::db::schema::products::table
        .select(backorder_desk::db::schema::products::id)
        .load(&mut app.conn())
        .unwrap();
    sql(app, "UPDATE order_lines SET eta_worst = NULL");
    purchasing::refresh_products(
        &mut app.conn(),
        &ctx,
        &ids,
        &backorder_desk::domain::EtaCause::SupplyChanged,
    )
    .unwrap();
}

async fn manager(app: &TestApp) -> Browser {
    let email = app.add_user(Role::Manager);
    let browser = Browser::new(app);
    browser.sign_in(&email, PASSWORD).await;
    browser
}

#[tokio::test]
async fn two_late_lines_of_one_order_get_one_policy_proposal_and_the_database_allows_one_open() {
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    product(&app, "LAMP", 0, 2_500);
    purchase_order(&app, "PO-1", "TENT", 10, 10);
    purchase_order(&app, "PO-2", "LAMP", 10, 12);
    order_of(
        &app,
        "SO-1",
        "ana@example.com",
        "Ana",
        &[("TENT", 1), ("LAMP", 1)],
        3,
    );
    // Two promises, both broken by more than the policy's 7 days.
    sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE - 10 WHERE product_id = (SELECT id FROM products WHERE sku = 'TENT')",
    );
    sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE - 9 WHERE product_id = (SELECT id FROM products WHERE sku = 'LAMP')",
    );
    refresh_all(&app);
    refresh_all(&app);

    assert_eq!(
        count(&app, "SELECT count(*) FROM discount_proposals"),
        1,
        "one proposal for the order, not one per late line"
    );

    // The database itself refuses a second open proposal for the order.
    let second = diesel::sql_query(
        "INSERT INTO discount_proposals (order_id, kind, value, reason) SELECT id, 'percent', 10, 'again' FROM orders",
    )
    .execute(&mut app.conn());
    assert!(second.is_err(), "a second open proposal was stored");

    // A rep proposing on top is told why, beside the form.
    let rep = Browser::new(&app);
    rep.sign_in(&app.add_user(Role::Rep), PASSWORD).await;
    let response = rep
        .post(
            "/orders/SO-1/proposals",
            &[("kind", "percent"), ("value", "10"), ("reason", "late")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        text_of(&response.text().await.unwrap())
            .contains("order SO-1 has a discount proposal waiting for a decision already"),
    );
    assert_eq!(count(&app, "SELECT count(*) FROM discount_proposals"), 1);

    // Approved once, the policy does not propose again for the same order.
    let id = count(&app, "SELECT id FROM discount_proposals");
    let boss = manager(&app).await;
    boss.post("/approvals/bulk-approve", &[("proposal", &id.to_string())])
        .await;
    refresh_all(&app);
    assert_eq!(count(&app, "SELECT count(*) FROM discount_proposals"), 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM discount_proposals WHERE coupon_code IS NOT NULL"
        ),
        1
    );
}

#[tokio::test]
async fn the_policy_reason_says_expected_after_the_promise_while_the_promised_day_is_ahead() {
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    purchase_order(&app, "PO-1", "TENT", 10, 30);
    order(&app, "SO-1", "ana@example.com", "Ana", "TENT", 1, 0);
    // Promised in 2 days; the purchase order comes in 30: weeks after the promise.
    sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE + 2",
    );
    refresh_all(&app);

    let promised_on = today() + chrono::Duration::days(2);
    let worst: chrono::NaiveDate =
        diesel::dsl::sql::<diesel::sql_types::Date>("SELECT eta_worst FROM order_lines")
            .get_result(&mut app.conn())
            .unwrap();
    let late = (worst - promised_on).num_days();
    assert!(late > 7, "{worst}");
    let reason = text(&app, "SELECT reason FROM discount_proposals");
    let expected = format!(
        "Delay policy: expected {late} days after the promised date (promised {}, now expected {})",
        backorder_desk::domain::format::human_date(promised_on, today()),
        backorder_desk::domain::format::human_date(worst, today()),
    );
    assert_eq!(reason, expected);
    let page = text_of(
        &manager(&app)
            .await
            .get("/approvals")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(page.contains(&expected), "{page}");
    assert!(!page.contains("days past the promised date"), "{page}");
}

#[tokio::test]
async fn a_proposal_for_an_order_the_customer_cancelled_is_withdrawn_with_the_reason() {
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    purchase_order(&app, "PO-1", "TENT", 10, 10);
    order(&app, "SO-1", "ana@example.com", "Ana", "TENT", 2, 3);
    sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE - 10",
    );
    refresh_all(&app);
    assert_eq!(
        text(&app, "SELECT status FROM discount_proposals"),
        "proposed"
    );

    // The customer cancels through the link in their email.
    let cancel = link_path(&backorder_text(&app), "Cancel the waiting items:");
    let (_, status, answer) = open_and_confirm(&app, &cancel).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer.contains("We have cancelled the 2 waiting items"),
        "{answer}"
    );

    assert_eq!(
        text(&app, "SELECT status FROM discount_proposals"),
        "withdrawn"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'discount_withdrawn'"
        ),
        1
    );
    let boss = manager(&app).await;
    let history = text_of(&boss.get("/orders/SO-1").await.text().await.unwrap());
    assert!(history.contains("Discount withdrawn: 10% off"), "{history}");
    assert!(!history.contains("Discount rejected"), "{history}");
    let page = text_of(&boss.get("/approvals").await.text().await.unwrap());
    assert!(page.contains("Waiting for a decision (0)"), "{page}");
    assert!(page.contains("Withdrawn: nothing left to ship"), "{page}");
    assert!(
        page.contains("SO-1 Ana 10% off withdrawn: the order was cancelled"),
        "{page}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE kind = 'discount_offer'"
        ),
        0
    );
}

#[tokio::test]
async fn approving_a_proposal_for_an_order_shipped_in_full_withdraws_it_instead() {
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    purchase_order(&app, "PO-1", "TENT", 10, 10);
    order(&app, "SO-1", "ana@example.com", "Ana", "TENT", 2, 3);
    sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE - 10",
    );
    refresh_all(&app);
    let id = count(&app, "SELECT id FROM discount_proposals");
    // Shipped by a path that does not know about proposals (an import, a fix by hand).
    sql(&app, "UPDATE order_lines SET shipped = qty");

    let boss = manager(&app).await;
    let response = boss
        .post(
            &format!("/approvals/{id}/decide"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = text_of(&response.text().await.unwrap());
    assert!(
        page.contains(
            "Not approved: withdrawn: everything on the order has shipped; no coupon was issued."
        ),
        "{page}"
    );
    assert_eq!(
        text(&app, "SELECT status FROM discount_proposals"),
        "withdrawn"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM discount_proposals WHERE coupon_code IS NOT NULL"
        ),
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE kind = 'discount_offer'"
        ),
        0
    );
}

// --- Words ---

#[tokio::test]
async fn a_status_update_marks_only_the_waiting_items_with_words_for_one_or_several() {
    let app = spawn_app().await;
    product(&app, "TENT", 5, 2_500);
    product(&app, "LAMP", 0, 2_500);
    product(&app, "STOVE", 0, 2_500);
    purchase_order(&app, "PO-1", "LAMP", 10, 10);
    purchase_order(&app, "PO-2", "STOVE", 10, 10);
    order_of(
        &app,
        "SO-1",
        "ana@example.com",
        "Ana",
        &[("TENT", 1), ("LAMP", 1), ("STOVE", 1)],
        0,
    );
    order_of(
        &app,
        "SO-2",
        "bo@example.com",
        "Bo",
        &[("TENT", 1), ("LAMP", 1)],
        0,
    );
    let ids: Vec<i64> = diesel::dsl::sql::<BigInt>("SELECT id FROM orders ORDER BY id")
        .load(&mut app.conn())
        .unwrap();
    for id in &ids {
        assert!(
            messages::triggers::queue_eta_update(&mut app.conn(), &Actor::System, *id, today())
                .unwrap()
        );
    }
    let update = |number: &str| {
        text(
            &app,
            &format!(
                "SELECT m.body_text FROM messages m JOIN orders o ON o.id = m.order_id WHERE m.kind = 'status_update' AND o.number = '{number}'"
            ),
        )
    };

    let two = update("SO-1");
    let marked: Vec<&str> = two.lines().filter(|l| l.contains("<--")).collect();
    assert_eq!(marked.len(), 2, "{two}");
    assert!(
        marked
            .iter()
            .all(|l| l.ends_with("<-- this email is about these items")),
        "{two}"
    );
    assert!(
        marked.iter().all(|l| !l.contains("TENT")),
        "the ready item is not what this is about: {two}"
    );

    let one = update("SO-2");
    let marked: Vec<&str> = one.lines().filter(|l| l.contains("<--")).collect();
    assert_eq!(marked.len(), 1, "{one}");
    assert!(
        marked[0].contains("LAMP") && marked[0].ends_with("<-- this email is about this item"),
        "{one}"
    );
    let _ = shop::today();
}
