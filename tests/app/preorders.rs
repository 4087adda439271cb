//! Pre-orders (issue 18, part 2): a product with a release day takes orders into the
//! queue before it, dates them no earlier than the release, holds stock received before
//! it, and fills the queue on the release day; the API, the pages and the emails say
//! "pre-order".

use std::time::Duration;

use backorder_desk::db::users::Role;
use backorder_desk::email::worker::{self, WorkerConfig};
use backorder_desk::services::inventory::catalog;
use reqwest::StatusCode;
use serde_json::json;

use crate::api::{Api, assert_error, date_json, in_days, today};
use crate::smtp_sink::Sink;

fn fast() -> WorkerConfig {
    WorkerConfig {
        idle_poll: Duration::from_millis(20),
        periodic_every: Duration::from_secs(3600),
        render_at_sending: Some(
            backorder_desk::services::messages::restock_mail::render_at_sending,
        ),
        ..WorkerConfig::default()
    }
}

/// A pre-order with `on_hand` units, releasing in `release_in` days, its supplier's lead
/// time 3 days (earlier than the release).
async fn preorder(api: &Api, sku: &str, on_hand: i64, release_in: i64) {
    api.backorderable(sku, on_hand, 3).await;
    let body = api
        .product(
            sku,
            json!({ "preorder_release_on": date_json(in_days(release_in)) }),
        )
        .await;
    assert_eq!(body["status"], "preorder", "{body}");
}

#[tokio::test]
async fn the_release_day_is_set_cleared_and_a_bad_one_refused_through_the_api() {
    let api = Api::start().await;
    api.backorderable("GAME-1", 5, 3).await;

    let release = in_days(14);
    let set = api
        .product(
            "GAME-1",
            json!({ "preorder_release_on": date_json(release) }),
        )
        .await;
    assert_eq!(set["preorder_release_on"], date_json(release));
    assert_eq!(set["status"], "preorder");

    for bad in [json!("2026-13-45"), json!("next friday"), json!(20261203)] {
        let (status, body) = api
            .put(
                "/api/v1/products/GAME-1",
                &json!({ "preorder_release_on": bad }),
            )
            .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("preorder_release_on"),
        );
    }
    let (_, kept) = api.get("/api/v1/products/GAME-1/availability").await;
    assert_eq!(kept["preorder_release_on"], date_json(release), "unchanged");

    let cleared = api
        .product("GAME-1", json!({ "preorder_release_on": null }))
        .await;
    assert_eq!(cleared["preorder_release_on"], json!(null));
    assert_eq!(cleared["status"], "in_stock");
    // A field not sent keeps the release day.
    api.product(
        "GAME-1",
        json!({ "preorder_release_on": date_json(release) }),
    )
    .await;
    let kept = api.product("GAME-1", json!({ "reorder_point": 1 })).await;
    assert_eq!(kept["preorder_release_on"], date_json(release));
}

#[tokio::test]
async fn availability_says_preorder_with_dates_from_the_release_day() {
    let api = Api::start().await;
    preorder(&api, "GAME-2", 20, 10).await;

    let (status, body) = api.get("/api/v1/products/GAME-2/availability").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "preorder");
    assert_eq!(
        body["available"], 0,
        "20 on the shelf, held for the release"
    );
    assert_eq!(body["preorder_release_on"], date_json(in_days(10)));
    let likely = body["eta_likely"].as_str().expect("a likely date");
    let worst = body["eta_worst"].as_str().expect("a worst date");
    let release = in_days(10).format("%Y-%m-%d").to_string();
    assert!(
        likely >= release.as_str() && worst >= release.as_str(),
        "{body}"
    );
}

#[tokio::test]
async fn an_order_before_release_is_queued_from_the_release_day_and_told_pre_order() {
    let api = Api::start().await;
    // 20 on the shelf: an ordinary product would ship this order today.
    preorder(&api, "GAME-3", 20, 10).await;

    api.order("P-100", "GAME-3", 2, 0).await;

    let line = api.order_line("P-100").await;
    assert_eq!(line["allocated"], 0, "{line}");
    assert_eq!(line["waiting"], 2, "{line}");
    let release = in_days(10).format("%Y-%m-%d").to_string();
    for field in ["eta_likely", "eta_worst"] {
        let date = line[field].as_str().expect("a date");
        assert!(date >= release.as_str(), "{field} {date} before {release}");
    }
    let reason = line["reason"].as_str().unwrap();
    assert!(reason.starts_with("pre-order: releases on "), "{reason}");

    let sink = Sink::start().await;
    let mut settings = api.app.settings.clone();
    settings.smtp_url = Some(sink.url());
    let (_stop, _worker) = worker::spawn(api.app.pool.clone(), &settings, fast()).unwrap();
    let mail = &sink.wait_for(1, 10).await[0];
    let subject = mail.subject();
    assert!(
        subject.starts_with("Order P-100: your pre-order is confirmed, releases on "),
        "{subject}"
    );
    assert!(!subject.contains("backorder"), "{subject}");
    let (plain, html) = mail.parts();
    assert!(
        plain.contains("Thank you for your pre-order P-100."),
        "{plain}"
    );
    assert!(
        plain.contains("2 x Product GAME-3 (GAME-3): 2 pre-ordered: releases on "),
        "{plain}"
    );
    assert!(!plain.contains("on the way to us"), "{plain}");
    assert!(html.contains("pre-order"), "{html}");
}

#[tokio::test]
async fn stock_received_before_release_is_held_and_the_release_day_fills_the_queue() {
    let api = Api::start().await;
    preorder(&api, "GAME-4", 0, 1).await;
    api.order("P-200", "GAME-4", 2, 5).await;
    api.order("P-201", "GAME-4", 1, 0).await;
    api.purchase_order(
        "PO-400",
        today(),
        json!([{ "sku": "GAME-4", "quantity": 5 }]),
    )
    .await;

    let (status, body) = api
        .receive(
            "PO-400",
            "early",
            json!([{ "sku": "GAME-4", "quantity": 5 }]),
        )
        .await;
    assert!(status.is_success(), "{body}");

    // Received, but the release is tomorrow: held.
    let product = api.product("GAME-4", json!({})).await;
    assert_eq!(product["on_hand"], 5);
    assert_eq!(product["allocated"], 0, "{product}");
    assert_eq!(api.order_line("P-200").await["waiting"], 2);
    // The periodic job today leaves it held too.
    let mut conn = api.app.conn();
    assert_eq!(catalog::release_preorders(&mut conn, today()).unwrap(), 0);
    assert_eq!(api.order_line("P-200").await["allocated"], 0);

    // The release day: the queue is filled in order.
    assert_eq!(
        catalog::release_preorders(&mut conn, in_days(1)).unwrap(),
        2
    );
    let first = api.order_line("P-200").await;
    assert_eq!(
        (first["allocated"].clone(), first["waiting"].clone()),
        (json!(2), json!(0))
    );
    let second = api.order_line("P-201").await;
    assert_eq!(second["allocated"], 1, "{second}");
    let after = api.product("GAME-4", json!({})).await;
    assert_eq!(after["allocated"], 3);
}

#[tokio::test]
async fn clearing_the_release_day_lets_held_stock_go_down_the_queue() {
    let api = Api::start().await;
    preorder(&api, "GAME-5", 4, 7).await;
    api.order("P-300", "GAME-5", 3, 0).await;
    assert_eq!(api.order_line("P-300").await["allocated"], 0);

    api.product(
        "GAME-5",
        json!({ "preorder_release_on": date_json(today()) }),
    )
    .await;

    let line = api.order_line("P-300").await;
    assert_eq!(line["allocated"], 3, "{line}");
}

#[tokio::test]
async fn the_product_page_sets_and_clears_the_release_day_and_pages_say_pre_order() {
    let api = Api::start().await;
    api.backorderable("GAME-6", 0, 3).await;
    let app = &api.app;
    app.login_as(Role::Manager).await;

    let page = app.get("/inventory/GAME-6").await.text().await.unwrap();
    assert!(
        page.contains(r#"<label for="preorder-release-on">Release date</label>"#),
        "{page}"
    );
    assert!(page.contains("Not a pre-order."), "{page}");

    let refused = app
        .post_form(
            "/inventory/GAME-6/preorder",
            &[("preorder_release_on", "31/12/2026"), ("action", "save")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains(r#"id="preorder-error""#), "{refused}");
    assert!(refused.contains("is not a date like"), "{refused}");
    let unchanged = api.product("GAME-6", json!({})).await;
    assert_eq!(unchanged["preorder_release_on"], json!(null));

    let release = in_days(9);
    let saved = app
        .post_form(
            "/inventory/GAME-6/preorder",
            &[
                (
                    "preorder_release_on",
                    &release.format("%Y-%m-%d").to_string(),
                ),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let page = app.get("/inventory/GAME-6").await.text().await.unwrap();
    let day = release.format("%a %-d %b").to_string();
    assert!(
        page.contains(&format!("A pre-order: releases on <strong>{day}")),
        "{page}"
    );

    api.order("P-400", "GAME-6", 1, 0).await;
    let order = app.get("/orders/P-400").await.text().await.unwrap();
    assert!(
        order.contains(&format!("1 pre-ordered, releases {day}")),
        "{order}"
    );
    let queue = app.get("/queue").await.text().await.unwrap();
    assert!(
        queue.contains(&format!("pre-order, releases {day}")),
        "{queue}"
    );

    let cleared = app
        .post_form("/inventory/GAME-6/preorder", &[("action", "clear")])
        .await;
    assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
    let page = app.get("/inventory/GAME-6").await.text().await.unwrap();
    assert!(page.contains("Not a pre-order."), "{page}");
    assert_eq!(
        api.product("GAME-6", json!({})).await["preorder_release_on"],
        json!(null)
    );
}

#[test]
fn the_demo_shop_has_a_pre_order_with_customers_queued_for_its_release() {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Date, Nullable};

    let database = crate::helpers::TestDatabase::new();
    let mut conn = database.connect();
    backorder_desk::seed::load_demo(&mut conn, 60).expect("seed the demo shop");

    let release: Option<chrono::NaiveDate> =
        diesel::dsl::sql::<Nullable<Date>>("SELECT max(preorder_release_on) FROM products")
            .get_result(&mut conn)
            .unwrap();
    let release = release.expect("a pre-order product");
    assert!(release > today(), "released on {release}");
    let queued: i64 = diesel::dsl::sql::<BigInt>(&format!(
        "SELECT count(*) FROM order_lines l JOIN products p ON p.id = l.product_id
          WHERE p.preorder_release_on IS NOT NULL AND l.waiting > 0 AND l.allocated = 0
            AND l.eta_worst >= '{release}' AND l.eta_reason LIKE 'pre-order: releases on %'"
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(queued, 4, "the demo's pre-orders wait for the release");
}

#[tokio::test]
async fn a_release_day_moved_later_is_the_cause_the_customer_reads() {
    use backorder_desk::services::messages;
    use chrono::Utc;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    let api = Api::start().await;
    preorder(&api, "GAME-8", 0, 10).await;
    api.order("P-300", "GAME-8", 1, 0).await;
    api.product(
        "GAME-8",
        json!({ "preorder_release_on": date_json(in_days(30)) }),
    )
    .await;
    let queued = messages::eta_updates::send_due_eta_updates(
        &mut api.app.conn(),
        Utc::now() + chrono::Duration::hours(25),
        today(),
    )
    .unwrap();
    assert_eq!(queued, 1, "one date-change email for the moved release");
    #[derive(QueryableByName)]
    struct Body {
        #[diesel(sql_type = Text)]
        body_text: String,
    }
    let body = diesel::sql_query(
        "SELECT body_text FROM messages WHERE kind = 'delay_notice' ORDER BY id DESC LIMIT 1",
    )
    .get_result::<Body>(&mut api.app.conn())
    .expect("the date-change email")
    .body_text;
    assert!(
        body.contains("The release date of this pre-order moved to a later day."),
        "{body}"
    );
    assert!(
        !body.contains("Units we had counted on turned out not to be available."),
        "{body}"
    );
}
