//! What customers are told about dates (issue 13): a new date only when it is later than
//! the last date they were told, with the real cause, in at most one email per order per
//! window, rendered when it is sent. Over a real SMTP sink and PostgreSQL; the worker's due
//! check is given a clock (`now + 25 h`) instead of waiting a day.

use std::time::Duration as StdDuration;

use backorder_desk::db::audit::Actor;
use backorder_desk::domain::human_date;
use backorder_desk::email::worker::{self, WorkerConfig};
use backorder_desk::services::purchasing::{self, ReceiptLine};
use backorder_desk::services::{messages, orders::fulfilment, purchasing::purchase_orders};
use backorder_desk::types::Sku;
use chrono::{Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable};

use crate::helpers::{TestApp, spawn_app};
use crate::shop::{self, today};
use crate::smtp_sink::{Received, Sink};

fn count(app: &TestApp, query: &str) -> i64 {
    diesel::dsl::sql::<BigInt>(query)
        .get_result(&mut app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// The worst-case date of an order's line of `sku` now.
fn worst(app: &TestApp, number: &str, sku: &str) -> NaiveDate {
    diesel::dsl::sql::<Nullable<Date>>(&format!(
        "SELECT l.eta_worst FROM order_lines l JOIN orders o ON o.id = l.order_id
           JOIN products p ON p.id = l.product_id WHERE o.number = '{number}' AND p.sku = '{sku}'"
    ))
    .get_result::<Option<NaiveDate>>(&mut app.conn())
    .unwrap()
    .unwrap_or_else(|| panic!("{number} {sku} has a date"))
}

fn day(date: NaiveDate) -> String {
    human_date(date, today())
}

/// A delivery worker on the sink that runs no periodic jobs of its own: the test says
/// when the window is over.
fn start_worker(app: &TestApp, sink: &Sink) -> tokio::sync::watch::Sender<bool> {
    let mut settings = app.settings.clone();
    settings.smtp_url = Some(sink.url());
    let config = WorkerConfig {
        idle_poll: StdDuration::from_millis(20),
        periodic_every: StdDuration::from_secs(3600),
        periodic: Some(backorder_desk::services::messages::periodic::periodic_jobs),
        render_at_sending: Some(
            backorder_desk::services::messages::restock_mail::render_at_sending,
        ),
        ..WorkerConfig::default()
    };
    worker::spawn(app.pool.clone(), &settings, config)
        .expect("a worker")
        .0
}

/// The worker's periodic job, run as it would be a day and an hour from now.
fn a_day_later(app: &TestApp) -> usize {
    messages::eta_updates::send_due_eta_updates(
        &mut app.conn(),
        Utc::now() + Duration::hours(25),
        today(),
    )
    .unwrap()
}

fn move_po(app: &TestApp, reference: &str, days: i64) {
    purchase_orders::change_expected_date(
        &mut app.conn(),
        &Actor::System,
        reference,
        today() + Duration::days(days),
        today(),
    )
    .unwrap_or_else(|e| panic!("move {reference}: {e}"));
}

pub fn to(received: &[Received], email: &str) -> Vec<Received> {
    received
        .iter()
        .filter(|m| m.to == [email.to_owned()])
        .cloned()
        .collect()
}

/// Waits until `count` emails arrived, then a little longer to see that no more do.
async fn settle(sink: &Sink, count: usize) -> Vec<Received> {
    sink.wait_for(count, 10).await;
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let received = sink.received();
    assert_eq!(received.len(), count, "{:#?}", subjects(&received));
    received
}

fn subjects(received: &[Received]) -> Vec<String> {
    received.iter().map(|m| m.subject()).collect()
}

/// KETTLE has nothing on the shelf; PO-1 brings 10 in 10 days. Ada waits for 2, Ben for 1.
async fn two_waiting_customers(app: &TestApp, sink: &Sink) {
    shop::product(app, "KETTLE", 0, 2_500);
    shop::purchase_order(app, "PO-1", "KETTLE", 10, 10);
    shop::order(app, "W-1", "ada@example.com", "Ada", "KETTLE", 2, 1);
    shop::order(app, "W-2", "ben@example.com", "Ben", "KETTLE", 1, 0);
    settle(sink, 2).await;
}

#[tokio::test]
async fn a_po_moved_earlier_later_and_later_again_in_a_day_sends_each_customer_one_email_with_the_final_date()
 {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let _worker = start_worker(&app, &sink);
    two_waiting_customers(&app, &sink).await;
    let told = [worst(&app, "W-1", "KETTLE"), worst(&app, "W-2", "KETTLE")];

    // Earlier: good news, never a "later" email.
    move_po(&app, "PO-1", 6);
    assert!(worst(&app, "W-1", "KETTLE") < told[0]);
    assert_eq!(count(&app, "SELECT count(*) FROM eta_updates_pending"), 0);
    assert_eq!(a_day_later(&app), 0, "an earlier date is not a delay");
    // Later, then later again, within the day: one email each, with the final date.
    move_po(&app, "PO-1", 20);
    let between = worst(&app, "W-1", "KETTLE");
    move_po(&app, "PO-1", 30);
    let last = [worst(&app, "W-1", "KETTLE"), worst(&app, "W-2", "KETTLE")];
    assert!(last[0] > between && between > told[0]);
    assert_eq!(
        messages::eta_updates::send_due_eta_updates(&mut app.conn(), Utc::now(), today()).unwrap(),
        0,
        "nothing goes out before the window is over"
    );
    assert_eq!(a_day_later(&app), 2);
    assert_eq!(a_day_later(&app), 0, "each once");
    let received = settle(&sink, 4).await;

    for ((email, number), (told, last)) in [("ada@example.com", "W-1"), ("ben@example.com", "W-2")]
        .into_iter()
        .zip(told.into_iter().zip(last))
    {
        let mails = to(&received, email);
        assert_eq!(
            subjects(&mails),
            vec![
                format!("Order {number}: part of it is on its way to us"),
                format!("Order {number}: Product KETTLE will be later than we said, sorry"),
            ]
        );
        let (text, html) = mails[1].parts();
        let days = (last - told).num_days();
        let said = format!(
            "Product KETTLE: now ships by {} instead of {} ({days} days later). Our supplier moved its delivery to a later date.",
            day(last),
            day(told)
        );
        assert!(text.contains(&said), "{said} in {text}");
        assert!(html.contains(&said), "{html}");
        assert!(
            !text.contains(&day(between)),
            "the date in between is not news: {text}"
        );
        assert!(text.contains("Cancel the waiting items:"), "{text}");
    }
    // The order page reads what the customer was told.
    let line_told: NaiveDate = diesel::dsl::sql::<Date>(
        "SELECT t.told_on FROM told_dates t JOIN order_lines l ON l.id = t.order_line_id
           JOIN orders o ON o.id = l.order_id WHERE o.number = 'W-1' ORDER BY t.id DESC LIMIT 1",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(line_told, last[0]);
}

#[tokio::test]
async fn dates_that_move_later_and_back_within_the_window_send_nothing() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let _worker = start_worker(&app, &sink);
    two_waiting_customers(&app, &sink).await;

    move_po(&app, "PO-1", 25);
    assert_eq!(count(&app, "SELECT count(*) FROM eta_updates_pending"), 2);
    move_po(&app, "PO-1", 10);
    assert_eq!(a_day_later(&app), 0);
    assert_eq!(count(&app, "SELECT count(*) FROM eta_updates_pending"), 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE kind = 'delay_notice'"
        ),
        0
    );
    settle(&sink, 2).await;
}

#[tokio::test]
async fn a_cancelled_purchase_order_is_named_as_the_cause_and_a_lost_date_is_said() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let _worker = start_worker(&app, &sink);
    shop::product(&app, "KETTLE", 0, 2_500);
    shop::product(&app, "TEAPOT", 0, 1_500);
    shop::purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    shop::purchase_order(&app, "PO-2", "KETTLE", 10, 30);
    shop::purchase_order(&app, "PO-3", "TEAPOT", 10, 5);
    shop::order(&app, "W-1", "ada@example.com", "Ada", "KETTLE", 2, 0);
    shop::order(&app, "W-2", "ben@example.com", "Ben", "TEAPOT", 1, 0);
    settle(&sink, 2).await;
    let told = [worst(&app, "W-1", "KETTLE"), worst(&app, "W-2", "TEAPOT")];

    for reference in ["PO-1", "PO-3"] {
        purchase_orders::cancel(&mut app.conn(), &Actor::System, reference, today()).unwrap();
    }
    let now = worst(&app, "W-1", "KETTLE");
    assert_eq!(a_day_later(&app), 2);
    let received = settle(&sink, 4).await;
    let (ada, _) = to(&received, "ada@example.com")[1].parts();
    assert!(
        ada.contains(&format!(
            "Product KETTLE: now ships by {} instead of {}",
            day(now),
            day(told[0])
        )) && ada.contains(
            "The delivery we had booked for it was cancelled, so it waits for a later one."
        ),
        "{ada}"
    );
    assert!(!ada.contains("supplier moved"), "{ada}");
    // TEAPOT's supplier gives no lead time: no date any more, and the email says so.
    let (ben, _) = to(&received, "ben@example.com")[1].parts();
    assert!(
        ben.contains(&format!(
            "Product TEAPOT: we no longer have a date for it (we told you {})",
            day(told[1])
        )) && ben.contains("The delivery we had booked for it was cancelled"),
        "{ben}"
    );
}

#[tokio::test]
async fn urgent_facts_go_out_at_once_and_carry_the_news_so_the_update_is_not_sent_twice() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let _worker = start_worker(&app, &sink);
    shop::product(&app, "KETTLE", 0, 2_500);
    shop::product(&app, "TEAPOT", 0, 1_500);
    shop::purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    shop::purchase_order(&app, "PO-2", "TEAPOT", 10, 3);
    shop::order_of(
        &app,
        "W-1",
        "ada@example.com",
        "Ada",
        &[("KETTLE", 1), ("TEAPOT", 1)],
        0,
    );
    settle(&sink, 1).await;
    let told = worst(&app, "W-1", "KETTLE");
    move_po(&app, "PO-1", 20);
    let now = worst(&app, "W-1", "KETTLE");
    assert_eq!(count(&app, "SELECT count(*) FROM eta_updates_pending"), 1);

    // The teapot arrives: the reservation email goes out now, not after the window, and
    // says the kettle's news with its cause.
    purchasing::receive::receive(
        &mut app.conn(),
        &Actor::System,
        "PO-2",
        vec![ReceiptLine {
            sku: Sku::parse("TEAPOT").unwrap(),
            quantity: 10,
        }],
        None,
        today(),
    )
    .unwrap();
    let received = settle(&sink, 2).await;
    assert_eq!(
        received[1].subject(),
        "Order W-1: good news, your items are reserved"
    );
    let (text, _) = received[1].parts();
    assert!(
        text.contains("Later than we told you, sorry:")
            && text.contains(&format!(
                "Product KETTLE: now ships by {} instead of {}",
                day(now),
                day(told)
            ))
            && text.contains("Our supplier moved its delivery to a later date."),
        "{text}"
    );
    // The customer knows: the pending update has nothing left to say.
    assert_eq!(a_day_later(&app), 0);
    assert_eq!(count(&app, "SELECT count(*) FROM eta_updates_pending"), 0);

    // A cancellation goes out at once too.
    let line: i64 = count(
        &app,
        "SELECT l.id FROM order_lines l JOIN products p ON p.id = l.product_id WHERE p.sku = 'KETTLE'",
    );
    fulfilment::cancel_line(
        &mut app.conn(),
        &Actor::System,
        line,
        Some(1),
        "asked",
        today(),
    )
    .unwrap();
    let received = settle(&sink, 3).await;
    assert_eq!(received[2].subject(), "Order W-1: Product KETTLE cancelled");
}

#[tokio::test]
async fn several_lines_of_one_order_later_make_one_email_naming_each_and_good_news_is_said() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let _worker = start_worker(&app, &sink);
    for sku in ["KETTLE", "TEAPOT", "MUG"] {
        shop::product(&app, sku, 0, 1_500);
    }
    shop::purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    shop::purchase_order(&app, "PO-2", "TEAPOT", 10, 6);
    shop::purchase_order(&app, "PO-3", "MUG", 10, 12);
    shop::order_of(
        &app,
        "W-1",
        "ada@example.com",
        "Ada",
        &[("KETTLE", 1), ("TEAPOT", 1), ("MUG", 1)],
        0,
    );
    settle(&sink, 1).await;
    let mug_told = worst(&app, "W-1", "MUG");
    move_po(&app, "PO-1", 15);
    move_po(&app, "PO-2", 16);
    move_po(&app, "PO-3", 4);
    assert_eq!(a_day_later(&app), 1);
    let received = settle(&sink, 2).await;
    assert_eq!(
        received[1].subject(),
        "Order W-1: 2 items will be later than we said, sorry"
    );
    let (text, _) = received[1].parts();
    for sku in ["KETTLE", "TEAPOT"] {
        assert!(
            text.contains(&format!(
                "Product {sku}: now ships by {} instead of",
                day(worst(&app, "W-1", sku))
            )),
            "{sku}: {text}"
        );
    }
    assert!(
        text.contains("Good news, sooner than we told you:")
            && text.contains(&format!(
                "Product MUG: now ships by {}",
                day(worst(&app, "W-1", "MUG"))
            ))
            && text.contains(&format!("sooner than the {} we told you", day(mug_told))),
        "{text}"
    );
    assert!(
        !text.contains("this email is about this item"),
        "no single item is singled out: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sending_due_updates_at_once_queue_each_once() {
    let app = spawn_app().await;
    shop::product(&app, "KETTLE", 0, 2_500);
    shop::purchase_order(&app, "PO-1", "KETTLE", 100, 5);
    for i in 0..20 {
        shop::order(
            &app,
            &format!("W-{i}"),
            &format!("c{i}@example.com"),
            "Customer",
            "KETTLE",
            1,
            0,
        );
    }
    move_po(&app, "PO-1", 25);
    assert_eq!(count(&app, "SELECT count(*) FROM eta_updates_pending"), 20);
    let start = std::sync::Arc::new(std::sync::Barrier::new(3));
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let (pool, start) = (app.pool.clone(), start.clone());
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                start.wait();
                messages::eta_updates::send_due_eta_updates(
                    &mut conn,
                    Utc::now() + Duration::hours(25),
                    today(),
                )
                .unwrap()
            })
        })
        .collect();
    let queued: usize = runs.into_iter().map(|r| r.join().unwrap()).sum();
    assert_eq!(queued, 20);
    assert_eq!(
        count(
            &app,
            "SELECT count(DISTINCT order_id) FROM messages WHERE kind = 'delay_notice'"
        ),
        20
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE kind = 'delay_notice'"
        ),
        20
    );
}

/// Issue 13: "in the demo shop 71 order-days got two or more delay notices, seconds
/// apart". The demo replays its history through the services, with the worker's job run
/// each day: no customer (nor order) gets two date-change emails within one window, and
/// every one of them states a date later than the one its customer was told before.
#[tokio::test]
async fn the_demo_shop_sends_no_customer_two_eta_change_emails_in_one_window() {
    let app = spawn_app().await;
    backorder_desk::seed::load_demo(&mut app.conn(), 400).expect("the demo shop");
    let emails = count(
        &app,
        "SELECT count(*) FROM messages WHERE kind = 'delay_notice'",
    );
    assert!(emails > 10, "the demo has dates that move: {emails}");
    for who in ["customer_id", "order_id"] {
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT count(*) FROM (
                       SELECT created_at - lag(created_at) OVER (PARTITION BY {who} ORDER BY created_at) AS gap
                         FROM messages WHERE kind = 'delay_notice') g
                      WHERE gap < interval '24 hours'"
                ),
            ),
            0,
            "two date-change emails to one {who} within 24 hours"
        );
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages m WHERE m.kind = 'delay_notice' AND NOT EXISTS (
               SELECT 1 FROM told_dates t WHERE t.message_id = m.id AND t.told_on > (
                 SELECT p.told_on FROM told_dates p
                  WHERE p.order_line_id = t.order_line_id AND p.id < t.id
                  ORDER BY p.id DESC LIMIT 1))
               AND m.body_text NOT LIKE '%no longer have a date%'"
        ),
        0,
        "every date-change email tells a date later than the last one told"
    );
}

/// The demo replays its history and shows past days' emails as sent: each restock email
/// (queued unrendered by a receipt) was rendered when the day's worker would have sent
/// it, so every message shown as sent holds the words that went, and one still waiting
/// for its rendering is not shown as sent.
#[tokio::test]
async fn every_email_the_demo_shop_shows_as_sent_holds_what_was_sent() {
    let app = spawn_app().await;
    backorder_desk::seed::load_demo(&mut app.conn(), 400).expect("the demo shop");
    let sent_restocks = count(
        &app,
        "SELECT count(*) FROM messages WHERE kind = 'restock' AND status = 'sent'",
    );
    assert!(
        sent_restocks > 10,
        "receipts filled waiting orders: {sent_restocks}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE status = 'sent'
                AND (body_text = '' OR body_html = '' OR facts IS NOT NULL)"
        ),
        0,
        "a message shown as sent without the words that went"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM messages WHERE kind = 'restock' AND status = 'sent'
                AND body_text NOT LIKE '%reserved for you%'"
        ),
        0,
        "each sent restock email says what was reserved"
    );
}

/// The window is a shop setting on the admin page: labelled, described, checked by the
/// field, and what the next pending update is due by.
#[tokio::test]
async fn the_window_is_a_labelled_setting_checked_by_its_field_and_used_for_the_due_time() {
    let app = spawn_app().await;
    app.login_as(backorder_desk::db::users::Role::Admin).await;
    let page = app.get("/admin/settings").await.text().await.unwrap();
    assert!(page.contains(
        "<label for=\"s-eta_update_window_hours\">Send at most one date-change email per order in (hours)</label>"
    ));
    assert!(
        page.contains("name=\"eta_update_window_hours\" inputmode=\"numeric\" value=\"24\""),
        "24 hours by default"
    );
    let mut form: Vec<(String, String)> = Vec::new();
    for name in [
        "shop_name",
        "currency",
        "handling_days",
        "eta_worst_percentile",
        "delay_discount_percent",
        "delay_discount_after_days",
        "expiry_limit_days",
        "status_update_after_days",
        "placed_at_max_age_days",
    ] {
        let marker = format!("name=\"{name}\" ");
        let at = page.find(&marker).unwrap_or_else(|| panic!("no {name}"));
        let value_at = page[at..].find("value=\"").unwrap() + at + "value=\"".len();
        let end = page[value_at..].find('"').unwrap() + value_at;
        form.push((name.to_owned(), page[value_at..end].to_owned()));
    }
    let app = &app;
    let post = |hours: &'static str| {
        let mut fields = form.clone();
        fields.push(("eta_update_window_hours".to_owned(), hours.to_owned()));
        async move {
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            app.post_form("/admin/settings", &fields).await
        }
    };
    for bad in ["0", "169", "a day"] {
        let refused = post(bad).await;
        assert_eq!(refused.status(), 422, "{bad}");
        let html = refused.text().await.unwrap();
        assert!(
            html.contains("id=\"e-eta_update_window_hours\" class=\"field-error\">enter a whole number from 1 to 168"),
            "{bad}: the message is by the field"
        );
    }
    assert_eq!(
        count(
            app,
            "SELECT eta_update_window_hours::int8 FROM shop_settings"
        ),
        24,
        "nothing changed"
    );
    assert_eq!(post("2").await.status(), 303);

    shop::product(app, "KETTLE", 0, 2_500);
    shop::purchase_order(app, "PO-1", "KETTLE", 10, 10);
    shop::order(app, "W-1", "ada@example.com", "Ada", "KETTLE", 1, 0);
    move_po(app, "PO-1", 25);
    assert_eq!(
        count(
            app,
            "SELECT round(extract(epoch FROM due_at - first_changed_at))::int8 FROM eta_updates_pending"
        ),
        2 * 3600
    );
    let in_three_hours = Utc::now() + Duration::hours(3);
    assert_eq!(
        messages::eta_updates::send_due_eta_updates(&mut app.conn(), in_three_hours, today())
            .unwrap(),
        1
    );
}
