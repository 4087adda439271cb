//! The rep's first screen (issue 16), over HTTP: the answer in sentences, search that
//! forgives, one history per order, a choice phoned in, messages found by order or email,
//! the notify-me list and the daily review's order and words.

use backorder_desk::db::audit::Actor;
use backorder_desk::db::users::Role;
use backorder_desk::email::links::{LinkAction, LinkClaim};
use backorder_desk::services::approvals::proposals::{self, Decision};
use backorder_desk::services::inventory::{self, AdjustmentReason};
use backorder_desk::services::links::self_service;
use backorder_desk::services::purchasing::{self, ReceiptLine};
use backorder_desk::services::{inventory::subscriptions, purchasing::purchase_orders};
use backorder_desk::types::{Email, Sku};
use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::helpers::{TestApp, spawn_app};
use crate::shop::{order, order_of, product, purchase_order, sql, text_of, today};

fn count(app: &TestApp, query: &str) -> i64 {
    diesel::dsl::sql::<BigInt>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn texts(app: &TestApp, query: &str) -> Vec<String> {
    diesel::dsl::sql::<Text>(query)
        .load(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn user_actor(app: &TestApp, email: &str) -> Actor {
    let id = count(
        app,
        &format!("SELECT id FROM users WHERE email = '{email}'"),
    );
    Actor::User {
        id,
        email: email.to_owned(),
    }
}

async fn page_text(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    text_of(&response.text().await.unwrap())
}

/// `q=` with `typed` encoded.
fn query(typed: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", typed)
        .finish()
}

/// The text of the page between two headings.
fn between<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let start = text
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} not in {text}"));
    let rest = &text[start..];
    let end = rest.find(to).unwrap_or(rest.len());
    &rest[..end]
}

#[tokio::test]
async fn search_forgives_the_way_people_type_numbers_names_and_emails() {
    let app = spawn_app().await;
    product(&app, "KET-1", 0, 2_500);
    purchase_order(&app, "PO-1", "KET-1", 100, 10);
    order(
        &app,
        "SO-11474",
        "nia.ivanova@example.com",
        "Nia Ivanova",
        "KET-1",
        1,
        3,
    );
    order(
        &app,
        "SO-11475",
        "ben@example.com",
        "Ben Baker",
        "KET-1",
        1,
        2,
    );
    order(&app, "SO-2", "cy@example.com", "Cy Costa", "KET-1", 1, 1);
    app.login_as(Role::Rep).await;

    for typed in [
        "SO-11474",
        "11474",
        "#SO-11474",
        "so11474",
        "Order SO-11474",
        "order #11474",
        " so 11474 ",
        "NIA.IVANOVA@EXAMPLE.COM",
        "Ivanova Nia",
        "nia ivanova",
        "ivan ni",
    ] {
        let response = app.get(&format!("/orders?{}", query(typed))).await;
        assert_eq!(response.status(), 303, "{typed:?} did not open one order");
        assert_eq!(
            response.headers()["location"],
            "/orders/SO-11474",
            "{typed:?}"
        );
    }

    // Letters and digits that are no order number are tried as the start of an email.
    order(
        &app,
        "SO-11476",
        "anna1985@example.com",
        "Anna Berg",
        "KET-1",
        1,
        1,
    );
    let response = app.get("/orders?q=Anna1985").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/orders/SO-11476");

    // Counts are exact and pages go on: no silent cap at 25.
    for i in 0..30 {
        order(
            &app,
            &format!("SO-3{i:03}"),
            "nia.ivanova@example.com",
            "Nia Ivanova",
            "KET-1",
            1,
            0,
        );
    }
    let first = app
        .get_htmx("/orders?q=ivanova")
        .await
        .text()
        .await
        .unwrap();
    let words = text_of(&first);
    assert!(
        words.contains("31 orders match “ivanova”, showing 1–25"),
        "{words}"
    );
    assert_eq!(first.matches("href=\"/orders/SO-").count(), 25);
    let next = first
        .split("href=\"")
        .find(|part| part.contains("after="))
        .and_then(|part| part.split('"').next())
        .expect("a link to the next page")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let second = app.get(&next).await.text().await.unwrap();
    let words = text_of(&second);
    assert!(
        words.contains("31 orders match “ivanova”, showing 26–31"),
        "{words}"
    );
    assert!(
        second.contains("href=\"/orders/SO-11474\""),
        "the oldest comes last"
    );
    // A number that matches nothing says so and how to try again.
    let none = text_of(&app.get_htmx("/orders?q=SO-99").await.text().await.unwrap());
    assert!(
        none.contains("No order matches “SO-99”. Numbers are looked up from their start"),
        "{none}"
    );
}

/// The worker's periodic job as it runs once the date-change window (24 h) is over.
fn send_due_updates(app: &TestApp) -> usize {
    backorder_desk::services::messages::eta_updates::send_due_eta_updates(
        &mut app.conn(),
        chrono::Utc::now() + chrono::Duration::hours(25),
        today(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_answer_says_each_waiting_line_in_a_sentence_delayed_and_at_risk_first() {
    let app = spawn_app().await;
    product(&app, "DOCK", 0, 9_900);
    product(&app, "LAMP", 0, 4_000);
    product(&app, "CHAIR", 0, 12_000);
    purchase_order(&app, "PO-1", "DOCK", 10, 5);
    purchase_order(&app, "PO-2", "LAMP", 10, 6);
    // CHAIR's one booked unit covers half the line, and its supplier gives no lead time:
    // no date.
    purchase_order(&app, "PO-3", "CHAIR", 1, 4);
    order_of(
        &app,
        "SO-77",
        "ana@example.com",
        "Ana López",
        &[("LAMP", 1), ("DOCK", 1), ("CHAIR", 2)],
        1,
    );
    // The dock's delivery moves a week later: the promise slips, and once the order's
    // date-change window is over a delay email is queued (issue 13: coalesced).
    purchase_orders::change_expected_date(
        &mut app.conn(),
        &Actor::System,
        "PO-1",
        today() + Duration::days(12),
        today(),
    )
    .unwrap();
    app.login_as(Role::Rep).await;
    let pending = page_text(&app, "/orders/SO-77").await;
    assert!(
        pending.contains("an email with the new date and why goes out"),
        "the rep sees that the customer will hear of it: {pending}"
    );
    send_due_updates(&app);

    let page = page_text(&app, "/orders/SO-77").await;
    let answer = between(&page, "What to tell the customer", "Actions");
    let delayed = answer
        .find("Delayed The Product DOCK ships by")
        .expect(answer);
    let at_risk = answer
        .find("At risk We do not have a date for the Product CHAIR (2 units) yet")
        .expect(answer);
    let on_track = answer
        .find("On track The Product LAMP ships by")
        .expect(answer);
    assert!(delayed < at_risk && at_risk < on_track, "{answer}");
    assert!(
        answer.contains("It is first in line for the next delivery, due")
            && answer.contains("we told the customer"),
        "{answer}"
    );
    assert!(
        answer.contains("so they have had a delay email")
            || answer.contains("a delay email with the new date is on its way"),
        "the customer was told: {answer}"
    );
    assert!(
        answer.contains("that is the date we told the customer"),
        "{answer}"
    );
    // The internal reason is on the page, but a click away and not in the answer.
    assert!(!answer.contains("PO-1"), "{answer}");
    let html = app.get("/orders/SO-77").await.text().await.unwrap();
    assert!(html.contains("<summary>Why (internal)</summary>"));
    // The copy button copies the sentences marked as the answer; it needs the script.
    assert!(html.contains("data-copy-from=\"answer-text\"") && html.contains(" hidden>"));
    assert_eq!(html.matches("data-answer>").count(), 3);
}

#[tokio::test]
async fn the_history_has_every_kind_of_entry_newest_first_and_emails_open() {
    let app = spawn_app().await;
    product(&app, "DOCK", 0, 9_900);
    product(&app, "CABLE", 5, 900);
    purchase_order(&app, "PO-1", "DOCK", 10, 5);
    order_of(
        &app,
        "SO-5",
        "ana@example.com",
        "Ana López",
        &[("DOCK", 1), ("CABLE", 1)],
        1,
    );
    purchase_orders::change_expected_date(
        &mut app.conn(),
        &Actor::System,
        "PO-1",
        today() + Duration::days(12),
        today(),
    )
    .unwrap();
    // The date-change window is over before the shipment (issue 13: coalesced).
    send_due_updates(&app);
    let rep = app.login_as(Role::Rep).await;
    let manager = app.add_user(Role::Manager);
    assert_eq!(app.post_form("/orders/SO-5/ship", &[]).await.status(), 303);
    let note = app
        .post_form("/orders/SO-5/notes", &[("body", "Called: happy to wait")])
        .await;
    assert_eq!(note.status(), 303);
    let choice = app
        .post_form("/orders/SO-5/choice", &[("choice", "wait")])
        .await;
    assert_eq!(choice.status(), 303);
    let proposal = app
        .post_form(
            "/orders/SO-5/proposals",
            &[
                ("kind", "percent"),
                ("value", "10"),
                ("reason", "A week late"),
            ],
        )
        .await;
    assert_eq!(proposal.status(), 303);
    let proposal_id = count(&app, "SELECT max(id) FROM discount_proposals");
    proposals::decide(
        &mut app.conn(),
        &user_actor(&app, &manager),
        Role::Manager,
        proposal_id,
        Decision::Approve { value: None },
    )
    .unwrap();

    let html = app.get("/orders/SO-5").await.text().await.unwrap();
    let page = text_of(&html);
    let history = between(&page, "History", "Notes Add a note");
    for entry in [
        "Placed Order placed",
        "Reserved 1 unit of Product CABLE reserved",
        "Shipped Part of the order shipped — Test Customer-service rep 1 × Product CABLE (partial, no extra shipping charge)",
        "New date Product DOCK: ships by",
        "Because PO-1 is now expected",
        "Email Delay notice email",
        "Email Shipment email",
        "Note Note — Test Customer-service rep Called: happy to wait",
        "Customer's choice The customer chose: Wait for everything",
        "Recorded by Test Customer-service rep for the customer",
        "Discount Discount proposed: 10% off — Test Customer-service rep A week late",
        "Discount Discount approved: 10% off, coupon",
    ] {
        assert!(history.contains(entry), "{entry:?} missing from: {history}");
    }
    let newest = history.find("Discount approved").unwrap();
    let oldest = history.find("Order placed").unwrap();
    assert!(newest < oldest, "newest first: {history}");
    let _ = rep;

    // Each email opens its rendered text and HTML.
    let delay_id = count(&app, "SELECT id FROM messages WHERE kind = 'delay_notice'");
    assert!(
        html.contains(&format!("href=\"/messages/{delay_id}\"")),
        "the delay email is a link"
    );
    let message = app
        .get(&format!("/messages/{delay_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(message.contains(&format!("src=\"/messages/{delay_id}/body.html\"")));
    assert!(message.contains("sandbox"));
    let body_text = texts(
        &app,
        &format!("SELECT body_text FROM messages WHERE id = {delay_id}"),
    );
    let first_line = body_text[0].lines().next().unwrap().trim();
    assert!(
        text_of(&message).contains(first_line),
        "the text part is shown"
    );
    assert!(
        message.contains("href=\"/orders/SO-5#timeline\""),
        "back to the order"
    );
}

#[tokio::test]
async fn a_choice_phoned_in_runs_through_the_engine_and_is_audited_with_who_recorded_it() {
    let app = spawn_app().await;
    product(&app, "TENT", 1, 2_500);
    purchase_order(&app, "PO-3", "TENT", 10, 9);
    order(&app, "SO-8", "bo@example.com", "Bo Baker", "TENT", 3, 2);
    let rep = app.login_as(Role::Rep).await;
    let token = app.csrf().await;

    // Ship what is ready, with htmx: the answer says so beside the choice form.
    let response = app
        .client
        .post(app.url("/orders/SO-8/choice"))
        .header("HX-Request", "true")
        .form(&[("choice", "ship_partial"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let fragment = response.text().await.unwrap();
    assert!(!fragment.contains("<html"));
    assert!(
        fragment.contains("id=\"feedback-choice\"")
            && text_of(&fragment).contains("Recorded and shipped what was ready"),
        "{fragment}"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM shipments"), 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE kind = 'shipment'"
        ),
        1
    );
    let audited = texts(
        &app,
        "SELECT actor || ' ' || (after->>'choice') || ' ' || (after->>'channel') || ' ' || (after->>'outcome')
           FROM audit_log WHERE action = 'customer_choice'",
    );
    assert_eq!(
        audited,
        vec![format!(
            "{rep} ship_partial rep 1 unit shipped now; the rest follows when it arrives"
        )]
    );

    // Cancelling asks first and changes nothing until confirmed.
    let asked = app
        .post_form("/orders/SO-8/choice", &[("choice", "cancel")])
        .await;
    assert_eq!(asked.status(), 200);
    let question = text_of(&asked.text().await.unwrap());
    assert!(
        question.contains("Cancel the 2 units still waiting on this order?"),
        "{question}"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM order_lines WHERE cancelled > 0"),
        0
    );
    let done = app
        .post_form(
            "/orders/SO-8/choice",
            &[("choice", "cancel"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status(), 303);
    let back = done.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, "/orders/SO-8?done=choice-cancel#feedback-choice");
    assert_eq!(
        count(&app, "SELECT sum(cancelled) FROM order_lines"),
        2,
        "the waiting units are cancelled"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE kind = 'cancellation'"
        ),
        1
    );
    let page = page_text(&app, &back).await;
    assert!(
        page.contains("Recorded and cancelled the waiting items"),
        "{page}"
    );
    assert!(
        page.contains("The customer chose: Cancel the waiting items")
            && page.contains("Recorded by Test Customer-service rep for the customer"),
        "{page}"
    );

    // A customer's own link goes the same way and reads as words in the audit log.
    product(&app, "MUG", 0, 900);
    purchase_order(&app, "PO-4", "MUG", 10, 9);
    order(&app, "SO-9", "cy@example.com", "Cy Costa", "MUG", 2, 1);
    let order_id = count(&app, "SELECT id FROM orders WHERE number = 'SO-9'");
    let claim = LinkClaim::new(LinkAction::CancelWaiting, order_id, None);
    self_service::use_link(&mut app.conn(), &claim, today()).unwrap();
    let admin = app.add_user(Role::Admin);
    app.client.post(app.url("/logout")).send().await.unwrap();
    app.login(&admin, crate::helpers::PASSWORD).await;
    let audit = page_text(&app, "/admin/audit?action=customer_choice").await;
    assert!(
        audit.contains(
            "Order SO-9: the customer chose “Cancel the waiting items” (by the link in an email); 2 units cancelled"
        ),
        "{audit}"
    );
    assert!(
        audit.contains("Order SO-8: the customer chose “Ship what is ready” (recorded by a rep)"),
        "{audit}"
    );
    assert!(
        !audit.contains("Cancelled {") && !audit.contains("{\""),
        "{audit}"
    );
}

#[tokio::test]
async fn messages_are_found_by_order_number_email_kind_and_status_in_words() {
    let app = spawn_app().await;
    product(&app, "KETTLE", 0, 4_500);
    purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    order(&app, "W-1", "Pia@Example.com", "Pia", "KETTLE", 1, 1);
    order(&app, "W-2", "quinn@example.com", "Quinn", "KETTLE", 1, 0);
    sql(
        &app,
        "UPDATE messages SET status = 'dead' WHERE order_id = (SELECT id FROM orders WHERE number = 'W-2')",
    );
    app.login_as(Role::Rep).await;

    for typed in ["W-1", "w1", "#W-1", "Order W-1"] {
        let page = page_text(&app, &format!("/messages?{}", query(typed))).await;
        let list = between(&page, "1 message about order W-1", "The outbox");
        assert!(
            list.contains("pia@example.com") || list.contains("Pia@Example.com"),
            "{typed:?}: {list}"
        );
        assert!(!list.contains("quinn@example.com"), "{typed:?}: {list}");
    }
    let page = page_text(&app, "/messages?q=PIA%40EXAMPLE.COM").await;
    let list = between(&page, "1 message to addresses starting", "The outbox");
    assert!(list.contains("Backorder notice"), "{list}");
    let page = page_text(&app, "/messages?status=dead&kind=backorder_notice").await;
    let list = between(&page, "Gave up Backorder notice messages", "The outbox");
    assert!(
        list.contains("quinn@example.com") && !list.contains("Pia@"),
        "{list}"
    );
    assert!(!page.to_lowercase().contains("dead"), "{page}");
}

#[tokio::test]
async fn the_notify_me_list_shows_who_since_when_and_whether_emailed_and_removes_with_audit() {
    let app = spawn_app().await;
    product(&app, "LAMP", 0, 4_000);
    for email in ["ada@example.com", "ben@example.com"] {
        subscriptions::subscribe(
            &mut app.conn(),
            &Actor::System,
            &Sku::parse("LAMP").unwrap(),
            &Email::parse(email).unwrap(),
        )
        .unwrap();
    }
    let rep = app.login_as(Role::Rep).await;
    let page = page_text(&app, "/inventory/LAMP").await;
    let list = between(&page, "Who is on the list", "Stock ledger");
    assert!(list.contains("2 waiting for stock"), "{list}");
    assert!(
        list.contains("ada@example.com") && list.contains("ben@example.com"),
        "{list}"
    );
    assert_eq!(list.matches("Not notified yet").count(), 2, "{list}");

    let ben = count(
        &app,
        "SELECT id FROM restock_subscriptions WHERE email = 'ben@example.com'",
    );
    let removed = app
        .post_form(&format!("/inventory/LAMP/notify-me/{ben}/remove"), &[])
        .await;
    assert_eq!(removed.status(), 303);
    let again = app
        .post_form(&format!("/inventory/LAMP/notify-me/{ben}/remove"), &[])
        .await;
    assert_eq!(again.status(), 422, "removed once");
    assert_eq!(
        texts(
            &app,
            "SELECT actor || ' ' || (before->>'email') FROM audit_log WHERE action = 'restock_subscription_removed'"
        ),
        vec![format!("{rep} ben@example.com")]
    );

    // Stock comes back: only the one still on the list is emailed.
    inventory::adjust_stock(
        &mut app.conn(),
        &Actor::System,
        "LAMP",
        5,
        AdjustmentReason::FoundStock,
        "",
        today(),
    )
    .unwrap();
    assert_eq!(
        texts(
            &app,
            "SELECT recipient FROM messages WHERE kind = 'back_in_stock'"
        ),
        vec!["ada@example.com".to_owned()]
    );
    let page = page_text(&app, "/inventory/LAMP").await;
    let list = between(&page, "Who is on the list", "Stock ledger");
    assert!(list.contains("Emailed"), "{list}");
    assert!(list.contains("Off the list since"), "{list}");
    assert!(!list.contains("Not notified yet"), "{list}");
}

#[tokio::test]
async fn the_review_puts_what_needs_someone_first_and_explains_a_big_receipt() {
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    purchase_order(&app, "PO-9", "TENT", 20, 3);
    for i in 0..12 {
        order(
            &app,
            &format!("SO-{i}"),
            &format!("c{i}@example.com"),
            &format!("Customer {i}"),
            "TENT",
            1,
            3,
        );
    }
    purchasing::receive::receive(
        &mut app.conn(),
        &Actor::System,
        "PO-9",
        vec![ReceiptLine {
            sku: Sku::parse("TENT").unwrap(),
            quantity: 20,
        }],
        None,
        today(),
    )
    .unwrap();
    app.login_as(Role::Manager).await;

    let html = app.get("/").await.text().await.unwrap();
    let page = text_of(&html);
    let needs = page.find("Needs someone today").unwrap();
    let glance = page.find("Today at a glance").unwrap();
    let trend = page.find("Open backorder lines, last 30 days").unwrap();
    assert!(needs < glance && glance < trend, "{page}");
    // Nothing is overdue: said in words, not a link to an empty list.
    assert!(page.contains("No line is past its promise"), "{page}");
    assert!(
        !html.contains("href=\"/queue?overdue=1\""),
        "zeros are not links"
    );
    let explained = format!(
        "{}: open lines fell from 12 to 0. PO-9 arrived with 20 units and filled 12 waiting lines.",
        backorder_desk::domain::human_date(today(), today())
    );
    assert!(page.contains(&explained), "{page}");
}

#[tokio::test]
async fn every_setting_says_what_it_changes() {
    let app = spawn_app().await;
    app.login_as(Role::Admin).await;
    let html = app.get("/admin/settings").await.text().await.unwrap();
    for field in [
        "shop_name",
        "currency",
        "queue_tier_first",
        "queue_lapsing_first",
        "handling_days",
        "eta_worst_percentile",
        "delay_discount_percent",
        "delay_discount_after_days",
        "expiry_limit_days",
        "expiry_offers_cancel",
        "status_update_after_days",
        "placed_at_max_age_days",
        "eta_update_window_hours",
        "bulk_cancel_max_lines",
    ] {
        assert!(
            html.contains(&format!("aria-describedby=\"h-{field}")),
            "{field} is not described"
        );
        assert!(html.contains(&format!("<small id=\"h-{field}\" class=\"help\">")));
    }
    assert!(text_of(&html).contains(
        "How sure the date we tell customers must be, in percent: at 90 it is kept about nine times in ten."
    ));
}
