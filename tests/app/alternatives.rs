//! Alternatives (issue 18, part 1): a product lists other SKUs a waiting customer may take
//! instead (API, product page, CSV); the emails, the status page and the order page offer
//! the ones that ship sooner; taking one (the customer's one-use link, or a rep) moves the
//! waiting units, gives the old place to the next in line, records the price difference
//! and tells the customer once; the daily review counts it. And the whole thing in real
//! Chromium from an email an SMTP server received.

use std::time::Duration;

use backorder_desk::db::users::Role;
use backorder_desk::email::worker::{self, WorkerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{Api, assert_error, in_days};
use crate::browser_helpers::Browser;
use crate::shop::text_of;
use crate::smtp_sink::Sink;

/// KETTLE: none on the shelf, PO-1 brings 3 in 10 days; KETTLE-PRO ("Kettle Pro"): 5 on the
/// shelf at 17.50 (the orders paid 12.50), listed as KETTLE's alternative before the
/// orders. W-1 waits for 2 kettles, W-2 for 2 behind it (PO-1 covers only 1 of them).
async fn kettle_shop(api: &Api) {
    api.backorderable("KETTLE", 0, 30).await;
    api.product(
        "KETTLE-PRO",
        json!({ "name": "Kettle Pro", "on_hand": 5, "unit_price_cents": 1750 }),
    )
    .await;
    api.product("KETTLE", json!({ "alternatives": ["KETTLE-PRO"] }))
        .await;
    api.purchase_order(
        "PO-1",
        in_days(10),
        json!([{ "sku": "KETTLE", "quantity": 3 }]),
    )
    .await;
    api.order("W-1", "KETTLE", 2, 60).await;
    api.order("W-2", "KETTLE", 2, 30).await;
}

fn text(api: &Api, query: &str) -> String {
    use diesel::prelude::*;
    diesel::dsl::sql::<diesel::sql_types::Text>(query)
        .get_result(&mut api.app.conn())
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// The "Take SKU instead" link of a plain-text email part.
fn take_link(plain: &str, sku: &str) -> String {
    let label = format!("Take {sku} instead");
    let mut lines = plain.lines();
    lines
        .by_ref()
        .find(|l| l.contains(&label))
        .unwrap_or_else(|| panic!("no {label:?} in {plain}"));
    let link = lines.next().expect("the link under it").trim().to_owned();
    assert!(link.starts_with("http://127.0.0.1/l/"), "{link}");
    link
}

fn path_of(link: &str) -> String {
    link.trim_start_matches("http://127.0.0.1").to_owned()
}

fn line_of<'a>(order: &'a Value, sku: &str) -> &'a Value {
    order["lines"]
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["sku"] == sku))
        .unwrap_or_else(|| panic!("no {sku} line in {order}"))
}

#[tokio::test]
async fn the_api_puts_and_gets_alternatives_and_refuses_bad_entries_by_name() {
    let api = Api::start().await;
    for sku in ["KET-A", "KET-B", "KET-C"] {
        api.backorderable(sku, 1, 5).await;
    }
    let put = api
        .product("KET-A", json!({ "alternatives": ["KET-C", "KET-B"] }))
        .await;
    assert_eq!(put["alternatives"], json!(["KET-C", "KET-B"]), "{put}");

    let (status, got) = api.get("/api/v1/products/KET-A").await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["sku"], "KET-A");
    assert_eq!(got["name"], "Product KET-A");
    assert_eq!(got["supplier"], "Acme Supply");
    assert_eq!(got["alternatives"], json!(["KET-C", "KET-B"]));
    assert_eq!(got["preorder_release_on"], json!(null));
    assert!(
        got["suppliers"].is_array() && got["unit_price_cents"].is_i64(),
        "{got}"
    );

    // GET, edit, PUT back: only the edit changes.
    let mut edited = got.clone();
    edited["alternatives"] = json!(["KET-B"]);
    edited["reorder_point"] = json!(4);
    let (status, body) = api.put("/api/v1/products/KET-A", &edited).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, again) = api.get("/api/v1/products/KET-A").await;
    let mut expected = got.clone();
    expected["alternatives"] = json!(["KET-B"]);
    expected["reorder_point"] = json!(4);
    assert_eq!(again, expected);

    // Bad entries: named, and nothing changes.
    for (list, field, words) in [
        (json!(["KET-B", "NOPE-1"]), "alternatives[1]", "NOPE-1"),
        (json!(["KET-A"]), "alternatives[0]", "itself"),
        (json!(["KET-B", "KET-B"]), "alternatives[1]", "twice"),
    ] {
        let (status, body) = api
            .put("/api/v1/products/KET-A", &json!({ "alternatives": list }))
            .await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        let said = body["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["field"] == field)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(said.contains(words), "{said}");
    }
    let (_, kept) = api.get("/api/v1/products/KET-A").await;
    assert_eq!(kept["alternatives"], json!(["KET-B"]));

    let (status, body) = api.get("/api/v1/products/NOPE-9").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);
    let cleared = api.product("KET-A", json!({ "alternatives": [] })).await;
    assert_eq!(cleared["alternatives"], json!([]));
}

#[tokio::test]
async fn the_product_page_sets_alternatives_and_shows_a_problem_beside_the_field() {
    let api = Api::start().await;
    api.backorderable("MUG-1", 0, 5).await;
    api.backorderable("MUG-2", 4, 5).await;
    let app = &api.app;
    app.login_as(Role::Manager).await;

    let page = app.get("/inventory/MUG-1").await.text().await.unwrap();
    assert!(
        page.contains(r#"<label for="alternatives-input">Alternatives (SKUs in order of preference, separated by spaces or commas)</label>"#),
        "{page}"
    );
    let refused = app
        .post_form(
            "/inventory/MUG-1/alternatives",
            &[("alternatives", "MUG-2, MUG-404")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains(r#"aria-describedby="alternatives-error""#)
            && refused.contains(r#"id="alternatives-error""#),
        "{refused}"
    );
    assert!(
        text_of(&refused).contains("Alternatives: there is no product with SKU MUG-404"),
        "{refused}"
    );
    assert!(
        refused.contains(r#"value="MUG-2, MUG-404""#),
        "what was typed stays"
    );
    let (_, unchanged) = api.get("/api/v1/products/MUG-1").await;
    assert_eq!(unchanged["alternatives"], json!([]));

    let saved = app
        .post_form(
            "/inventory/MUG-1/alternatives",
            &[("alternatives", "MUG-2")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let page = app.get("/inventory/MUG-1").await.text().await.unwrap();
    assert!(
        page.contains(r#"<a href="/inventory/MUG-2">MUG-2</a>"#),
        "{page}"
    );
    let (_, saved) = api.get("/api/v1/products/MUG-1").await;
    assert_eq!(saved["alternatives"], json!(["MUG-2"]));
}

#[tokio::test]
async fn a_csv_import_sets_alternatives_and_the_export_shows_them() {
    let api = Api::start().await;
    let app = &api.app;
    app.login_as(Role::Manager).await;
    let file =
        b"sku,name,alternatives\nPAN-1,Pan,PAN-2 PAN-3\nPAN-2,Pan two,\nPAN-3,Pan three,PAN-2\n";
    let response = crate::inventory::upload_csv(app, file).await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{}",
        response.status()
    );
    let (_, pan) = api.get("/api/v1/products/PAN-1").await;
    assert_eq!(pan["alternatives"], json!(["PAN-2", "PAN-3"]), "{pan}");

    let export = app.get("/inventory.csv").await.text().await.unwrap();
    let header = export.lines().next().unwrap();
    assert!(header.ends_with(",unit_price,alternatives"), "{header}");
    let row = export.lines().find(|l| l.starts_with("PAN-1,")).unwrap();
    assert!(row.ends_with(",PAN-2 PAN-3"), "{row}");

    // An unknown SKU names its row and column; nothing is imported.
    let bad = b"sku,name,alternatives\nPAN-4,Pan four,PAN-404\n";
    let refused = crate::inventory::upload_csv(app, bad).await;
    let body = text_of(&refused.text().await.unwrap());
    assert!(body.contains("PAN-404"), "{body}");
    assert!(body.contains("alternatives"), "{body}");
    let (status, _) = api.get("/api/v1/products/PAN-4").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "all or nothing");
}

#[tokio::test]
async fn the_customers_link_swaps_once_frees_the_place_records_the_credit_note_and_audits() {
    let api = Api::start().await;
    kettle_shop(&api).await;
    let app = &api.app;
    let w2_before = api.order_line("W-2").await;
    let w2_place =
        "SELECT l.queue_position::int8 FROM order_lines l JOIN orders o ON o.id = l.order_id
                     WHERE o.number = 'W-2'";
    assert_eq!(api.count(w2_place), 2);

    // The backorder notice (rendered when W-1 was taken) offers Kettle Pro.
    let plain = text(
        &api,
        "SELECT m.body_text FROM messages m JOIN orders o ON o.id = m.order_id
          WHERE o.number = 'W-1' AND m.kind = 'backorder_notice'",
    );
    assert!(
        plain.contains("Kettle Pro instead of Product KETTLE: in stock now, ships by "),
        "{plain}"
    );
    assert!(plain.contains("€10.00 more"), "2 x 5.00: {plain}");
    let link = take_link(&plain, "KETTLE-PRO");

    // The customer's status page offers it too, with its own one-use link.
    let status_link = plain
        .lines()
        .find_map(|l| l.strip_prefix("Follow your order: "))
        .expect("the status link")
        .trim()
        .to_owned();
    let status = app.get(&path_of(&status_link)).await.text().await.unwrap();
    assert!(status.contains(">Take KETTLE-PRO instead</a>"), "{status}");
    assert!(
        text_of(&status).contains("Kettle Pro instead of Product KETTLE: in stock now, ships by"),
        "{status}"
    );

    // So does the page of the email's "Keep waiting" link, beside its own question.
    let wait_link = plain
        .lines()
        .find_map(|l| l.strip_prefix("Keep waiting:"))
        .expect("the keep-waiting link")
        .trim()
        .to_owned();
    let wait_page = app.get(&path_of(&wait_link)).await.text().await.unwrap();
    assert!(
        wait_page.contains(">Yes, keep waiting</button>"),
        "{wait_page}"
    );
    assert!(
        text_of(&wait_page).contains("Or take something that ships sooner Take KETTLE-PRO instead"),
        "{wait_page}"
    );

    // The confirmation page says what will happen and changes nothing.
    let page = app.get(&path_of(&link)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let said = text_of(&page);
    assert!(
        said.contains("Take Kettle Pro (KETTLE-PRO) instead of Product KETTLE on order W-1?"),
        "{said}"
    );
    assert!(said.contains("It costs €10.00 more."), "{said}");
    assert!(
        page.contains(">Yes, take KETTLE-PRO instead</button>"),
        "{page}"
    );
    assert_eq!(
        api.order_line("W-1").await["waiting"],
        2,
        "nothing changed yet"
    );

    let done = app.post_form(&path_of(&link), &[]).await;
    assert_eq!(done.status(), StatusCode::OK);
    let done = text_of(&done.text().await.unwrap());
    assert!(
        done.contains("Done: 2 × Kettle Pro (KETTLE-PRO) instead of Product KETTLE"),
        "{done}"
    );

    let (_, order) = api.get("/api/v1/orders/W-1").await;
    let old = line_of(&order, "KETTLE");
    assert_eq!(
        (old["waiting"].clone(), old["cancelled"].clone()),
        (json!(0), json!(2)),
        "{order}"
    );
    let new = line_of(&order, "KETTLE-PRO");
    assert_eq!(new["allocated"], 2, "in stock: reserved at once: {order}");
    let (_, pro) = api.get("/api/v1/products/KETTLE-PRO/availability").await;
    assert_eq!(pro["available"], 3);

    // The next in line took the freed place: first now, and PO-1 covers both its units.
    assert_eq!(api.count(w2_place), 1);
    let w2 = api.order_line("W-2").await;
    assert!(
        w2["eta_worst"].as_str().expect("a date now")
            < w2_before["eta_worst"].as_str().expect("a date before"),
        "{w2_before} -> {w2}"
    );

    // The price difference is a note for the rep, nothing charged; audited; one email.
    assert_eq!(
        api.count(
            "SELECT count(*) FROM swaps WHERE price_difference_cents = 1000 AND channel = 'link'"
        ),
        1
    );
    assert_eq!(
        api.count("SELECT count(*) FROM audit_log WHERE action = 'alternative_taken' AND entity_id = 'W-1' AND actor = 'customer:w-1@example.com'"),
        1
    );
    let swap_mail = text(
        &api,
        "SELECT m.subject || ' | ' || m.body_text FROM messages m JOIN orders o ON o.id = m.order_id
          WHERE o.number = 'W-1' AND m.kind = 'swap_confirmation'",
    );
    assert!(
        swap_mail.starts_with("Order W-1: Kettle Pro instead of Product KETTLE |"),
        "{swap_mail}"
    );
    assert!(
        swap_mail.contains("2 swapped for Kettle Pro"),
        "{swap_mail}"
    );
    assert!(!swap_mail.contains("cancelled"), "{swap_mail}");
    assert_eq!(
        api.count("SELECT count(*) FROM messages WHERE kind = 'cancellation'"),
        0
    );

    // Once only.
    let again = app.post_form(&path_of(&link), &[]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(api.count("SELECT count(*) FROM swaps"), 1);

    // The order page shows it, with the note for the rep and the history entry.
    app.login_as(Role::Rep).await;
    let page = text_of(&app.get("/orders/W-1").await.text().await.unwrap());
    assert!(page.contains("2 × Kettle Pro KETTLE-PRO"), "{page}");
    assert!(page.contains("2 swapped for an alternative"), "{page}");
    assert!(
        page.contains("2 × Kettle Pro instead of Product KETTLE (by the customer's link) — €10.00 more: to settle with the customer (not charged)"),
        "{page}"
    );
    assert!(page.contains("Took KETTLE-PRO instead of KETTLE"), "{page}");

    // The daily review counts it.
    let review = text_of(&app.get("/").await.text().await.unwrap());
    assert!(review.contains("Swaps taken today 1"), "{review}");
}

#[tokio::test]
async fn a_link_no_longer_sooner_says_so_and_changes_nothing() {
    let api = Api::start().await;
    kettle_shop(&api).await;
    let app = &api.app;
    let plain = text(
        &api,
        "SELECT m.body_text FROM messages m JOIN orders o ON o.id = m.order_id
          WHERE o.number = 'W-2' AND m.kind = 'backorder_notice'",
    );
    let link = take_link(&plain, "KETTLE-PRO");
    // Kettle Pro sold out meanwhile (and it is not backorderable).
    api.product(
        "KETTLE-PRO",
        json!({ "on_hand": 0, "backorderable": false }),
    )
    .await;
    let page = text_of(&app.get(&path_of(&link)).await.text().await.unwrap());
    assert!(page.contains("This choice no longer applies"), "{page}");
    assert!(
        page.contains("can no longer ship sooner than your Product KETTLE"),
        "{page}"
    );
    let posted = app.post_form(&path_of(&link), &[]).await;
    let posted = text_of(&posted.text().await.unwrap());
    assert!(posted.contains("Nothing was changed."), "{posted}");
    assert_eq!(api.count("SELECT count(*) FROM swaps"), 0);
    assert_eq!(api.order_line("W-2").await["waiting"], 2);
}

#[tokio::test]
async fn a_rep_takes_the_alternative_from_the_order_page_after_confirming() {
    let api = Api::start().await;
    kettle_shop(&api).await;
    api.product(
        "KETTLE-LITE",
        json!({ "name": "Kettle Lite", "on_hand": 4, "unit_price_cents": 1000 }),
    )
    .await;
    api.product(
        "KETTLE",
        json!({ "alternatives": ["KETTLE-LITE", "KETTLE-PRO"] }),
    )
    .await;
    let app = &api.app;
    app.login_as(Role::Rep).await;
    let page = app.get("/orders/W-2").await.text().await.unwrap();
    assert!(
        page.contains(">Take KETTLE-LITE instead…</button>"),
        "{page}"
    );
    assert!(
        page.contains(">Take KETTLE-PRO instead…</button>"),
        "{page}"
    );
    let line_id = api.count(
        "SELECT l.id FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.number = 'W-2'",
    );
    let path = format!("/orders/W-2/lines/{line_id}/swap");

    // First the confirmation beside the line; nothing changes.
    let asked = app.post_form(&path, &[("to", "KETTLE-LITE")]).await;
    assert_eq!(asked.status(), StatusCode::OK);
    let asked = asked.text().await.unwrap();
    assert!(asked.contains(r#"role="alertdialog""#), "{asked}");
    assert!(
        text_of(&asked).contains("Price difference: credit of €5.00 owed to the customer"),
        "{asked}"
    );
    assert!(
        asked.contains(">Yes, take KETTLE-LITE instead</button>"),
        "{asked}"
    );
    assert_eq!(api.count("SELECT count(*) FROM swaps"), 0);

    let done = app
        .post_form(&path, &[("to", "KETTLE-LITE"), ("confirm", "yes")])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let page = text_of(
        &app.get("/orders/W-2?done=swapped")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(
        page.contains("Swapped. The customer gets one email about it"),
        "{page}"
    );
    assert!(page.contains("2 × Kettle Lite KETTLE-LITE"), "{page}");
    assert!(
        page.contains("(taken by a rep for the customer) — credit of €5.00 owed to the customer"),
        "{page}"
    );
    assert_eq!(
        api.count("SELECT count(*) FROM swaps WHERE channel = 'rep' AND price_difference_cents = -500 AND created_by IS NOT NULL"),
        1
    );
    assert_eq!(
        api.count("SELECT count(*) FROM messages m JOIN orders o ON o.id = m.order_id WHERE o.number = 'W-2' AND m.kind = 'swap_confirmation'"),
        1
    );
    let mail = text(
        &api,
        "SELECT body_text FROM messages WHERE kind = 'swap_confirmation'",
    );
    assert!(
        mail.contains("It costs €5.00 less: we credit you the difference."),
        "{mail}"
    );
}

#[tokio::test]
async fn the_customer_swaps_from_the_emailed_link_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let api = Api::start().await;
    let app = &api.app;
    let sink = Sink::start().await;
    let mut settings = app.settings.clone();
    settings.smtp_url = Some(sink.url());
    let config = WorkerConfig {
        idle_poll: Duration::from_millis(20),
        periodic_every: Duration::from_secs(3600),
        render_at_sending: Some(
            backorder_desk::services::messages::restock_mail::render_at_sending,
        ),
        ..WorkerConfig::default()
    };
    let (_stop, _worker) = worker::spawn(app.pool.clone(), &settings, config).expect("a worker");
    kettle_shop(&api).await;

    let received = sink.wait_for(2, 10).await;
    let mail = received
        .iter()
        .find(|m| m.to == vec!["w-1@example.com".to_owned()])
        .expect("W-1's backorder notice");
    let (plain, html) = mail.parts();
    let link = take_link(&plain, "KETTLE-PRO");
    assert!(html.contains(">Take KETTLE-PRO instead</a>"), "{html}");

    browser.goto(&app.url(&path_of(&link))).await;
    browser.heading("Please confirm").await;
    browser.press("Yes, take KETTLE-PRO instead").await;
    browser.heading("Swapped").await;
    let shown = browser.text().await;
    assert!(
        shown.contains("Done: 2 × Kettle Pro (KETTLE-PRO) instead of Product KETTLE on order W-1."),
        "{shown}"
    );
    let swap_mail = sink.wait_for(3, 10).await;
    assert!(
        swap_mail
            .iter()
            .any(|m| m.subject() == "Order W-1: Kettle Pro instead of Product KETTLE"),
        "the swap's email reached the SMTP server"
    );

    // A rep's order page now shows the alternative's line.
    let email = app.add_user(Role::Rep);
    browser.goto(&app.url("/login")).await;
    browser.fill_in("Email", &email).await;
    browser.fill_in("Password", crate::helpers::PASSWORD).await;
    browser.press("Sign in").await;
    browser.goto(&app.url("/orders/W-1")).await;
    browser.heading("Order W-1").await;
    browser.heading("2 × Kettle Pro KETTLE-PRO").await;
    browser.close().await;
}

#[test]
fn the_demo_shop_offers_an_alternative_to_customers_waiting() {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    let database = crate::helpers::TestDatabase::new();
    let mut conn = database.connect();
    backorder_desk::seed::load_demo(&mut conn, 60).expect("seed the demo shop");
    let count = |conn: &mut diesel::PgConnection, query: &str| {
        diesel::dsl::sql::<BigInt>(query)
            .get_result::<i64>(conn)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    };
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM product_alternatives a JOIN products p ON p.id = a.product_id
               JOIN products alt ON alt.id = a.alternative_id
              WHERE p.sku = 'KIT-PRE1' AND alt.sku = 'KIT-ALT1' AND alt.on_hand - alt.allocated > 0"
        ),
        1
    );
    // The pre-order's customers were offered the classic knife, on the shelf now.
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM messages m JOIN orders o ON o.id = m.order_id
              WHERE o.number LIKE 'SO-PRE-%' AND m.kind = 'backorder_notice'
                AND m.body_text LIKE '%Take KIT-ALT1 instead%'"
        ),
        4
    );
}

#[tokio::test]
async fn a_date_change_email_offers_the_alternative_that_is_sooner_when_it_is_sent() {
    use backorder_desk::services::messages;
    use chrono::Utc;

    let api = Api::start().await;
    api.backorderable("GAME-1", 0, 3).await;
    api.product(
        "GAME-1",
        json!({ "preorder_release_on": crate::api::date_json(in_days(10)) }),
    )
    .await;
    api.product(
        "GAME-1B",
        json!({ "name": "Game, standard edition", "on_hand": 3, "unit_price_cents": 1250 }),
    )
    .await;
    api.product("GAME-1", json!({ "alternatives": ["GAME-1B"] }))
        .await;
    api.order("P-1", "GAME-1", 1, 0).await;
    api.product(
        "GAME-1",
        json!({ "preorder_release_on": crate::api::date_json(in_days(30)) }),
    )
    .await;
    let queued = messages::eta_updates::send_due_eta_updates(
        &mut api.app.conn(),
        Utc::now() + chrono::Duration::hours(25),
        crate::api::today(),
    )
    .unwrap();
    assert_eq!(queued, 1);
    let body = text(
        &api,
        "SELECT body_text FROM messages WHERE kind = 'delay_notice' ORDER BY id DESC LIMIT 1",
    );
    assert!(body.contains("Take GAME-1B instead"), "{body}");
    assert!(
        body.contains("Game, standard edition instead of Product GAME-1: in stock now, ships by"),
        "{body}"
    );
    assert!(body.contains("the same price"), "{body}");
}
