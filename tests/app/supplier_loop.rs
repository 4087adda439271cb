//! Suppliers in the loop (issue 18, part 5): the supplier's contact address through the
//! API, a purchase order previewed then emailed to it (caught by the SMTP sink, with its
//! CSV file and link), and the supplier's page behind the link: confirming the date,
//! giving a later one (customers' dates move and they are told why), refusals that change
//! nothing, and a link that dies with its order. The browser test is at the end.

use std::time::Duration as StdDuration;

use backorder_desk::db::users::Role;
use backorder_desk::email::worker::{self, WorkerConfig};
use backorder_desk::services::messages;
use chrono::{Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Date, Nullable};
use reqwest::StatusCode;
use serde_json::json;

use crate::api::{Api, assert_error, date_json, in_days, today};
use crate::browser_helpers::Browser as Chromium;
use crate::helpers::{Browser, csrf_in};
use crate::smtp_sink::{Received, Sink};
use crate::told::to;

const CONTACT: &str = "orders@acme.example.com";

fn fast() -> WorkerConfig {
    WorkerConfig {
        idle_poll: StdDuration::from_millis(20),
        periodic_every: StdDuration::from_secs(3600),
        render_at_sending: Some(
            backorder_desk::services::messages::restock_mail::render_at_sending,
        ),
        ..WorkerConfig::default()
    }
}

/// A shop of one product, KETTLE, from "Acme Supply" (contact address set, unit cost
/// 12.50); PO-1 brings 10 in 10 days; W-1 and W-2 wait for it. A delivery worker sends
/// to `sink`; the customers' backorder notices have arrived; a manager is signed in.
/// The worker's stop switch comes back with the shop: keep it for the test's length.
async fn shop_with_a_waiting_po(sink: &Sink) -> (Api, tokio::sync::watch::Sender<bool>) {
    let api = Api::start().await;
    let mut settings = api.app.settings.clone();
    settings.smtp_url = Some(sink.url());
    let (stop, _worker) = worker::spawn(api.app.pool.clone(), &settings, fast()).unwrap();
    api.product(
        "KETTLE",
        json!({ "name": "Kettle", "on_hand": 0, "backorderable": true,
                "suppliers": [{ "name": "Acme Supply", "lead_time_days": 10,
                                "unit_cost_cents": 1250, "contact_email": CONTACT }] }),
    )
    .await;
    api.purchase_order(
        "PO-1",
        in_days(10),
        json!([{ "sku": "KETTLE", "quantity": 10 }]),
    )
    .await;
    api.order("W-1", "KETTLE", 2, 20).await;
    api.order("W-2", "KETTLE", 1, 10).await;
    sink.wait_for(2, 10).await;
    api.app.login_as(Role::Manager).await;
    (api, stop)
}

/// The same shop with PO-1 emailed to Acme by a signed-in manager; the link's path.
async fn with_po_1_emailed(sink: &Sink) -> (Api, tokio::sync::watch::Sender<bool>, String) {
    let (api, worker) = shop_with_a_waiting_po(sink).await;
    let link = supplier_path(&send_po_1(&api, sink).await.parts().0);
    (api, worker, link)
}

/// The path of the supplier's link in an email's text ("/supplier/<token>").
fn supplier_path(text: &str) -> String {
    let at = text
        .find("/supplier/")
        .expect("a supplier link in the email");
    text[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(['.', ')', '>'])
        .to_owned()
}

/// Previews then sends PO-1 as a signed-in manager; returns the email the sink caught.
async fn send_po_1(api: &Api, sink: &Sink) -> Received {
    let before = sink.received().len();
    let preview = api.app.post_form("/purchase-orders/PO-1/send", &[]).await;
    assert_eq!(preview.status(), StatusCode::OK);
    let page = preview.text().await.unwrap();
    assert!(
        page.contains(&format!("Send to {CONTACT}"))
            || page.contains(&format!("Send again to {CONTACT}")),
        "{page}"
    );
    let sent = api
        .app
        .post_form("/purchase-orders/PO-1/send", &[("confirm", "yes")])
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let received = sink.wait_for(before + 1, 10).await;
    to(&received, CONTACT)
        .pop()
        .expect("the purchase order's email")
}

/// A staff page's HTML, as the signed-in manager sees it.
async fn page_of(api: &Api, path: &str) -> String {
    api.app.get(path).await.text().await.unwrap()
}

fn expected_on(api: &Api, reference: &str) -> NaiveDate {
    diesel::dsl::sql::<Date>(&format!(
        "SELECT expected_on FROM purchase_orders WHERE reference = '{reference}'"
    ))
    .get_result(&mut api.app.conn())
    .unwrap()
}

fn worst(api: &Api, number: &str) -> Option<NaiveDate> {
    diesel::dsl::sql::<Nullable<Date>>(&format!(
        "SELECT l.eta_worst FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.number = '{number}'"
    ))
    .get_result(&mut api.app.conn())
    .unwrap()
}

/// Posts a form on the supplier's page, with the CSRF token of that page's session.
async fn supplier_post(
    browser: &Browser,
    path: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    browser.get(path).await;
    browser.post(&format!("{path}/{action}"), fields).await
}

#[tokio::test]
async fn the_contact_email_round_trips_through_the_api_and_a_malformed_one_is_refused() {
    let api = Api::start().await;
    let created = api
        .product(
            "SKU-C1",
            json!({ "name": "Lamp", "suppliers": [
                { "name": "Acme Supply", "lead_time_days": 5, "contact_email": "orders@acme.example.com" },
                { "name": "Beta Parts" },
            ] }),
        )
        .await;
    assert_eq!(
        created["suppliers"][0]["contact_email"],
        "orders@acme.example.com"
    );
    assert_eq!(
        created["suppliers"][1].get("contact_email"),
        None,
        "{created}"
    );

    // Absent leaves the address; the supplier's address is the same on every product.
    let other = api
        .product(
            "SKU-C2",
            json!({ "name": "Shade", "suppliers": [{ "name": "Acme Supply" }] }),
        )
        .await;
    assert_eq!(
        other["suppliers"][0]["contact_email"],
        "orders@acme.example.com"
    );

    let before =
        api.count("SELECT count(*) FROM suppliers WHERE email = 'orders@acme.example.com'");
    for bad in ["not an address", "orders@", "a@b@example.com"] {
        let (status, body) = api
            .put(
                "/api/v1/products/SKU-C1",
                &json!({ "suppliers": [{ "name": "Acme Supply", "contact_email": bad }] }),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("suppliers[0].contact_email"),
        );
    }
    assert_eq!(
        api.count("SELECT count(*) FROM suppliers WHERE email = 'orders@acme.example.com'"),
        before,
        "a refused address changes nothing"
    );

    // The product page's Suppliers form sets it too (a manager), and lists it.
    api.app.login_as(Role::Manager).await;
    let saved = api
        .app
        .post_form(
            "/inventory/SKU-C2/suppliers",
            &[
                ("name", "Beta Parts"),
                ("contact_email", "sales@beta.example.com"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let page = page_of(&api, "/inventory/SKU-C2").await;
    assert!(page.contains("sales@beta.example.com"), "{page}");
    let refused = api
        .app
        .post_form(
            "/inventory/SKU-C2/suppliers",
            &[("name", "Beta Parts"), ("contact_email", "sales at beta")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains(r#"aria-describedby="supplier-contact-email-error""#),
        "{page}"
    );
    assert_eq!(
        api.count("SELECT count(*) FROM suppliers WHERE email = 'sales@beta.example.com'"),
        1
    );

    // null clears it.
    let cleared = api
        .product(
            "SKU-C1",
            json!({ "suppliers": [{ "name": "Acme Supply", "contact_email": null }] }),
        )
        .await;
    assert_eq!(
        cleared["suppliers"][0].get("contact_email"),
        None,
        "{cleared}"
    );
}

#[tokio::test]
async fn a_purchase_order_is_previewed_then_emailed_with_its_lines_a_csv_file_and_a_link() {
    let sink = Sink::start().await;
    let (api, _worker) = shop_with_a_waiting_po(&sink).await;

    // The preview says to whom and what, and sends nothing.
    let page = api
        .app
        .post_form("/purchase-orders/PO-1/send", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("To <strong>{CONTACT}</strong>")),
        "{page}"
    );
    assert!(page.contains("KETTLE") && page.contains("12.50"), "{page}");
    assert_eq!(
        api.count("SELECT count(*) FROM messages WHERE kind = 'purchase_order'"),
        0
    );

    let mail = send_po_1(&api, &sink).await;
    assert!(
        mail.subject().starts_with("Purchase order PO-1 from "),
        "{}",
        mail.subject()
    );
    let (text, html) = mail.parts();
    assert!(text.contains("- 10 x KETTLE, Kettle, "), "{text}");
    assert!(text.contains("12.50"), "{text}");
    assert!(html.contains("KETTLE"), "{html}");
    let attachments = mail.attachments();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    let (name, csv) = &attachments[0];
    assert_eq!(name, "PO-1.csv");
    let csv = csv.replace("\r\n", "\n");
    assert_eq!(
        csv.trim_end(),
        "po_number,sku,name,quantity,unit_cost,currency\nPO-1,KETTLE,Kettle,10,12.50,EUR"
            .replace("EUR", &currency(&api))
    );
    let link = supplier_path(&text);
    assert!(html.contains(&link), "the HTML part has the link too");
    let token = link.trim_start_matches("/supplier/");
    assert_eq!(
        api.count(&format!(
            "SELECT count(*) FROM purchase_order_sends WHERE token_hash = '{token}'"
        )),
        0,
        "only the token's hash is stored"
    );

    // The purchase order's page says when and to whom; sending again asks again.
    let po_page = page_of(&api, "/purchase-orders/PO-1").await;
    assert!(po_page.contains(&format!("to {CONTACT}")), "{po_page}");
    let again = api
        .app
        .post_form("/purchase-orders/PO-1/send", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(again.contains("It was sent before"), "{again}");
    assert!(
        again.contains(&format!("Send again to {CONTACT}")),
        "{again}"
    );
    assert_eq!(api.count("SELECT count(*) FROM purchase_order_sends"), 1);
}

fn currency(api: &Api) -> String {
    backorder_desk::db::shop_settings::load(&mut api.app.conn())
        .unwrap()
        .currency
}

#[tokio::test]
async fn the_supplier_confirms_the_date_and_it_counts_in_its_reliability() {
    let sink = Sink::start().await;
    let (api, _worker) = shop_with_a_waiting_po(&sink).await;
    let product_page = page_of(&api, "/inventory/KETTLE").await;
    assert!(!product_page.contains("answered"), "nothing emailed yet");
    let link = supplier_path(&send_po_1(&api, &sink).await.parts().0);

    let supplier = Browser::new(&api.app);
    let page = supplier.get(&link).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Purchase order PO-1") && page.contains("Kettle"),
        "{page}"
    );
    // Nothing internal: no reliability, no customers, no sign-in.
    for internal in ["on time", "w-1@example.com", "Ada Buyer", "W-1", "Sign out"] {
        assert!(
            !page.contains(internal),
            "{internal:?} on the supplier's page"
        );
    }
    assert!(csrf_in(&page).is_some());

    let confirmed = supplier_post(&supplier, &link, "confirm", &[]).await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    let location = confirmed.headers()["location"].to_str().unwrap().to_owned();
    let done = supplier.get(&location).await.text().await.unwrap();
    assert!(done.contains("You confirmed delivery on"), "{done}");
    assert_eq!(
        api.count("SELECT count(*) FROM supplier_answers WHERE answer = 'confirmed'"),
        1
    );
    assert_eq!(
        expected_on(&api, "PO-1"),
        in_days(10),
        "a confirmation moves nothing"
    );

    let product_page = page_of(&api, "/inventory/KETTLE").await;
    assert!(
        product_page.contains("answered 1 of 1 purchase order emailed (100%)"),
        "{product_page}"
    );
    let po_page = page_of(&api, "/purchase-orders/PO-1").await;
    assert!(po_page.contains("confirmed"), "{po_page}");
}

#[tokio::test]
async fn a_later_date_from_the_supplier_moves_customers_dates_and_tells_them_why() {
    let sink = Sink::start().await;
    let (api, _worker, link) = with_po_1_emailed(&sink).await;
    let told = worst(&api, "W-1").expect("a date");

    let supplier = Browser::new(&api.app);
    let new_date = in_days(24);
    let answered = supplier_post(
        &supplier,
        &link,
        "date",
        &[
            ("expected_on", date_json(new_date).as_str().unwrap()),
            ("note", "Port strike in Rotterdam"),
        ],
    )
    .await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    let location = answered.headers()["location"].to_str().unwrap().to_owned();
    let done = supplier.get(&location).await.text().await.unwrap();
    assert!(done.contains("Your new delivery date"), "{done}");
    assert!(done.contains("Port strike in Rotterdam"), "{done}");

    assert_eq!(expected_on(&api, "PO-1"), new_date);
    assert!(
        worst(&api, "W-1").expect("a date") > told,
        "the customer's date moved"
    );

    // The coalesced date-change email, when the window is over, names the cause.
    let before = sink.received().len();
    let sent = messages::eta_updates::send_due_eta_updates(
        &mut api.app.conn(),
        Utc::now() + Duration::hours(25),
        today(),
    )
    .unwrap();
    assert_eq!(sent, 2, "one email per waiting order");
    let received = sink.wait_for(before + 2, 10).await;
    let mails = to(&received, "w-1@example.com");
    let delay = mails.last().expect("W-1's date-change email");
    assert!(
        delay.subject().contains("later than we said"),
        "{}",
        delay.subject()
    );
    let (text, _) = delay.parts();
    assert!(
        text.contains("Our supplier moved its delivery to a later date."),
        "{text}"
    );

    // The purchase order's page and the order's timeline say the supplier moved it.
    let po_page = page_of(&api, "/purchase-orders/PO-1").await;
    assert!(po_page.contains("by the supplier via link"), "{po_page}");
    assert!(po_page.contains("Port strike in Rotterdam"), "{po_page}");
    let order_page = page_of(&api, "/orders/W-1").await;
    assert!(
        order_page.contains("the supplier gave the new date"),
        "{order_page}"
    );

    let product_page = page_of(&api, "/inventory/KETTLE").await;
    assert!(
        product_page.contains("answered 1 of 1 purchase order emailed"),
        "{product_page}"
    );
}

#[tokio::test]
async fn a_bad_or_past_date_is_refused_beside_the_field_and_changes_nothing() {
    let sink = Sink::start().await;
    let (api, _worker, link) = with_po_1_emailed(&sink).await;
    let told = worst(&api, "W-1");
    let supplier = Browser::new(&api.app);
    let yesterday = date_json(today() - Duration::days(1));
    let cases: [(&str, &str); 3] = [
        ("soon", "enter the new delivery date"),
        (yesterday.as_str().unwrap(), "is in the past"),
        ("", "enter the new delivery date"),
    ];
    for (typed, error) in cases {
        let refused = supplier_post(
            &supplier,
            &link,
            "date",
            &[("expected_on", typed), ("note", "x")],
        )
        .await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{typed:?}"
        );
        let page = refused.text().await.unwrap();
        assert!(page.contains(error), "{typed:?}: {page}");
        assert!(
            page.contains(r#"aria-describedby="new-date-error""#),
            "{page}"
        );
    }
    let long_note = "n".repeat(1001);
    let refused = supplier_post(
        &supplier,
        &link,
        "date",
        &[
            ("expected_on", date_json(in_days(20)).as_str().unwrap()),
            ("note", &long_note),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("note-error"));

    assert_eq!(expected_on(&api, "PO-1"), in_days(10));
    assert_eq!(worst(&api, "W-1"), told);
    assert_eq!(api.count("SELECT count(*) FROM supplier_answers"), 0);
    assert_eq!(
        api.count("SELECT count(*) FROM purchase_order_date_changes"),
        0
    );
}

#[tokio::test]
async fn the_link_is_dead_once_its_order_is_received_or_cancelled() {
    let sink = Sink::start().await;
    let (api, _worker, link) = with_po_1_emailed(&sink).await;
    let supplier = Browser::new(&api.app);

    let (status, body) = api
        .receive(
            "PO-1",
            "delivery-1",
            json!([{ "sku": "KETTLE", "quantity": 10 }]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let page = supplier.get(&link).await;
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("PO-1 is received"));
    let refused = supplier.post(&format!("{link}/confirm"), &[]).await;
    assert_eq!(refused.status(), StatusCode::GONE);
    assert_eq!(api.count("SELECT count(*) FROM supplier_answers"), 0);

    // Cancelled: the same.
    api.purchase_order(
        "PO-2",
        in_days(12),
        json!([{ "sku": "KETTLE", "quantity": 5 }]),
    )
    .await;
    let before = sink.received().len();
    let preview = api
        .app
        .post_form("/purchase-orders/PO-2/send", &[("confirm", "yes")])
        .await;
    assert_eq!(preview.status(), StatusCode::SEE_OTHER);
    let received = sink.wait_for(before + 1, 10).await;
    let second = supplier_path(&to(&received, CONTACT).pop().unwrap().parts().0);
    let cancelled = api
        .app
        .post_form("/purchase-orders/PO-2/cancel", &[("confirm", "yes")])
        .await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    let refused = supplier
        .post(
            &format!("{second}/date"),
            &[("expected_on", date_json(in_days(30)).as_str().unwrap())],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::GONE);
    assert_eq!(expected_on(&api, "PO-2"), in_days(12));

    // A token never sent: not found, nothing said about any order.
    let unknown = supplier.get("/supplier/not-a-token").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_supplier_gives_a_new_date_in_a_browser_from_the_email() {
    let Some(browser) = Chromium::start().await else {
        return;
    };
    let sink = Sink::start().await;
    let (api, _worker) = shop_with_a_waiting_po(&sink).await;
    let mail = send_po_1(&api, &sink).await;
    let link = supplier_path(&mail.parts().0);

    browser.viewport(390, 844).await;
    browser.goto(&api.app.url(&link)).await;
    browser.heading("Purchase order PO-1").await;
    let violations = browser.axe().await;
    assert!(violations.is_empty(), "accessibility: {violations:#?}");
    let new_date = in_days(21);
    // The date is typed into the field found by its label, its parts in the order the
    // browser's language shows them (month/day/year in en-US).
    let order = browser
        .client
        .execute(
            "return new Intl.DateTimeFormat(navigator.language).formatToParts(new Date(2026, 11, 24))
               .filter(p => p.type !== 'literal').map(p => p.type);",
            vec![],
        )
        .await
        .expect("the date's order");
    let typed: String = order
        .as_array()
        .expect("parts")
        .iter()
        .map(|part| match part.as_str() {
            Some("year") => new_date.format("%Y").to_string(),
            Some("month") => new_date.format("%m").to_string(),
            _ => new_date.format("%d").to_string(),
        })
        .collect();
    let field = browser.field("New delivery date").await;
    field.click().await.expect("focus the date");
    field.send_keys(&typed).await.expect("type the date");
    let value = field.prop("value").await.expect("the date's value");
    assert_eq!(
        value.as_deref(),
        Some(new_date.format("%Y-%m-%d").to_string().as_str()),
        "typed {typed:?} in the order {order}"
    );
    browser.fill_in("Note (optional)", "Late container").await;
    browser.press("Send new date").await;
    browser.heading("Thank you: we have your answer").await;
    let text = browser.text().await;
    assert!(text.contains("Your new delivery date"), "{text}");
    assert!(text.contains("Late container"), "{text}");
    let (width, viewport) = browser.widths().await;
    assert!(
        width <= viewport,
        "the page fits a phone: {width} > {viewport}"
    );
    assert_eq!(expected_on(&api, "PO-1"), new_date);

    // A buyer signs in and reads the purchase order's page: the new date, and who gave it.
    let buyer = api.app.add_user(Role::Manager);
    browser.viewport(1280, 900).await;
    browser.goto(&api.app.url("/login")).await;
    browser.fill_in("Email", &buyer).await;
    browser.fill_in("Password", crate::helpers::PASSWORD).await;
    browser.press("Sign in").await;
    browser.heading("Daily review").await;
    browser.goto(&api.app.url("/purchase-orders/PO-1")).await;
    browser.heading("Purchase order PO-1").await;
    let page = browser.text().await;
    let shown = backorder_desk::domain::human_date(new_date, today());
    assert!(page.contains(&format!("expected {shown}")), "{page}");
    assert!(page.contains("by the supplier via link"), "{page}");
    assert!(page.contains("Late container"), "{page}");
    browser.close().await;
}

#[test]
fn the_demo_shop_has_supplier_addresses_and_one_purchase_order_emailed() {
    let database = crate::helpers::TestDatabase::new();
    let mut conn = database.connect();
    backorder_desk::seed::load_demo(&mut conn, 60).expect("seed the demo shop");
    let mut count = |query: &str| -> i64 {
        diesel::dsl::sql::<diesel::sql_types::BigInt>(query)
            .get_result(&mut conn)
            .unwrap()
    };
    assert!(count("SELECT count(*) FROM suppliers WHERE email LIKE '%@%.example.com'") >= 6);
    assert_eq!(count("SELECT count(*) FROM purchase_order_sends"), 1);
    assert_eq!(
        count(
            "SELECT count(*) FROM purchase_order_sends s JOIN messages m ON m.id = s.message_id
              WHERE m.kind = 'purchase_order' AND m.attachment_name LIKE 'PO-%.csv'
                AND m.recipient = s.sent_to"
        ),
        1
    );
}
