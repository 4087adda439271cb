//! Issue 13's bounds on times and dates that decide places in line, and issue 14's "same
//! rules on both paths": an order's `placed_at`, a purchase order's expected date.

use backorder_desk::db::users::Role;
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{Api, assert_error, date_json, in_days};
use crate::shop::text_of;

fn order_at(number: &str, placed_at: &str) -> Value {
    json!({ "number": number, "placed_at": placed_at,
            "customer": { "email": "ana@example.com", "name": "Ana" },
            "lines": [{ "sku": "KET-1", "quantity": 1, "unit_price_cents": 3499 }] })
}

fn ago(duration: Duration) -> String {
    (Utc::now() - duration).to_rfc3339()
}

#[tokio::test]
async fn an_order_from_the_future_or_from_too_long_ago_is_refused_naming_placed_at() {
    let api = Api::start().await;
    api.backorderable("KET-1", 0, 10).await;
    let before = api.footprint();

    for (label, placed_at) in [
        ("in ten minutes", ago(Duration::minutes(-10))),
        ("next year", ago(Duration::days(-365))),
        ("in 1900", "1900-01-01T00:00:00Z".to_owned()),
        ("366 days ago", ago(Duration::days(366))),
    ] {
        let (status, reply) = api
            .post("/api/v1/orders", &order_at("SO-1", &placed_at))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{label}: {reply}");
        assert_error(status, &reply, status, Some("placed_at"));
    }
    assert_eq!(api.footprint(), before, "nothing stored");

    // A clock a little ahead, and an order from within the year, are fine.
    for (number, placed_at) in [
        ("SO-2", ago(Duration::minutes(-3))),
        ("SO-3", ago(Duration::days(300))),
    ] {
        let (status, reply) = api
            .post("/api/v1/orders", &order_at(number, &placed_at))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{number}: {reply}");
    }
}

#[tokio::test]
async fn the_oldest_order_accepted_is_a_shop_setting_on_the_admin_page() {
    let api = Api::start().await;
    api.backorderable("KET-1", 0, 10).await;
    let app = &api.app;
    app.login_as(Role::Admin).await;
    let page = app.get("/admin/settings").await.text().await.unwrap();
    assert!(
        page.contains("<label for=\"s-placed_at_max_age_days\">Refuse orders placed more than this many days ago</label>"),
        "a labelled field"
    );
    assert!(page.contains("value=\"365\""), "one year by default");
    assert!(
        text_of(&page).contains("An order's time decides its place in the queue"),
        "a sentence says what it does"
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
    ] {
        let marker = format!("name=\"{name}\" ");
        let at = page.find(&marker).unwrap_or_else(|| panic!("no {name}"));
        let value_at = page[at..].find("value=\"").unwrap() + at + "value=\"".len();
        let end = page[value_at..].find('"').unwrap() + value_at;
        form.push((name.to_owned(), page[value_at..end].to_owned()));
    }
    let post = |days: &'static str| {
        let mut fields = form.clone();
        fields.push(("placed_at_max_age_days".to_owned(), days.to_owned()));
        async move {
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            app.post_form("/admin/settings", &fields).await
        }
    };
    let refused = post("0").await;
    assert_eq!(refused.status(), 422);
    assert!(
        text_of(&refused.text().await.unwrap()).contains("enter a whole number from 1 to 3650")
    );
    assert_eq!(post("30").await.status(), 303);

    let (status, reply) = api
        .post(
            "/api/v1/orders",
            &order_at("SO-1", &ago(Duration::days(40))),
        )
        .await;
    assert_error(
        status,
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("placed_at"),
    );
    assert!(
        reply["error"].as_str().unwrap().contains("30 days"),
        "{reply}"
    );
    let (status, _) = api
        .post(
            "/api/v1/orders",
            &order_at("SO-2", &ago(Duration::days(20))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

fn purchase_orders(api: &Api) -> i64 {
    diesel::dsl::sql::<BigInt>("SELECT count(*) FROM purchase_orders")
        .get_result(&mut api.app.conn())
        .unwrap()
}

#[tokio::test]
async fn purchase_order_dates_follow_one_rule_on_the_pages_and_the_api() {
    let api = Api::start().await;
    api.product("KET-1", json!({ "name": "Kettle" })).await;
    let app = &api.app;
    app.login_as(Role::Manager).await;
    let body = |reference: &str, expected_on: Value| {
        json!({ "reference": reference, "supplier": "Acme", "expected_on": expected_on,
                "lines": [{ "sku": "KET-1", "quantity": 5 }] })
    };
    let page = |reference: &'static str, expected_on: String| {
        let form = [
            ("reference", reference.to_owned()),
            ("supplier", "Acme".to_owned()),
            ("expected_on", expected_on),
            ("sku", "KET-1".to_owned()),
            ("qty", "5".to_owned()),
        ];
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
            app.post_form("/purchase-orders", &form).await
        }
    };

    let refused = [
        "1900-01-01".to_owned(),
        "0000-01-01".to_owned(),
        "9999-12-31".to_owned(),
        in_days(-400).to_string(),
        in_days(2 * 365 + 5).to_string(),
    ];
    for date in &refused {
        let (status, reply) = api
            .post("/api/v1/purchase-orders", &body("PO-1", json!(date)))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "API {date}: {reply}"
        );
        assert_error(status, &reply, status, Some("expected_on"));
        let response = page("PO-1", date.clone()).await;
        assert_eq!(response.status(), 422, "page {date}");
        let text = text_of(&response.text().await.unwrap());
        assert!(
            text.contains("the expected date cannot be more than a year ago")
                || text.contains("the expected date must be within two years"),
            "page {date}: {text}"
        );
    }
    assert_eq!(purchase_orders(&api), 0);

    // A late order still on its way (a month overdue) is accepted either way.
    let (status, reply) = api
        .post(
            "/api/v1/purchase-orders",
            &body("PO-2", date_json(in_days(-30))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(page("PO-3", in_days(-30).to_string()).await.status(), 303);

    // Changing the date on the page: the same rule.
    for date in &refused {
        let response = app
            .post_form(
                "/purchase-orders/PO-2/expected-date",
                &[("expected_on", date)],
            )
            .await;
        assert_eq!(response.status(), 422, "change to {date}");
    }
    for date in &refused {
        let response = app
            .post_form(
                "/purchase-orders/PO-2/expected-date",
                &[("expected_on", date), ("confirm", "yes")],
            )
            .await;
        assert_eq!(response.status(), 422, "confirmed change to {date}");
    }
    // A date in range is previewed first, then changed on confirmation.
    let moved = app
        .post_form(
            "/purchase-orders/PO-2/expected-date",
            &[
                ("expected_on", &in_days(700).to_string()),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(moved.status(), 303);
}
