//! Several suppliers per product (issue 18, part 3): the API's `suppliers` list and its
//! refusals, the ETA from any supplier's purchase order, the reorder suggestion's choice
//! of supplier, and the product page's list and form.

use backorder_desk::db::users::Role;
use backorder_desk::services::purchasing::reorder;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{Api, assert_error, date_json, in_days, today};

fn names(product: &Value) -> Vec<String> {
    product["suppliers"]
        .as_array()
        .expect("a suppliers list")
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn suppliers_round_trip_and_the_first_is_the_primary() {
    let api = Api::start().await;
    let created = api
        .product(
            "SKU-S1",
            json!({ "name": "Lamp", "supplier": "Acme Supply",
                    "suppliers": [
                        { "name": "Acme Supply", "lead_time_days": 30, "unit_cost_cents": 500 },
                        { "name": "Beta Parts", "lead_time_days": 10, "unit_cost_cents": 900 },
                    ] }),
        )
        .await;
    assert_eq!(created["supplier"], "Acme Supply");
    assert_eq!(
        created["suppliers"],
        json!([
            { "name": "Acme Supply", "lead_time_days": 30, "unit_cost_cents": 500 },
            { "name": "Beta Parts", "lead_time_days": 10, "unit_cost_cents": 900 },
        ])
    );

    // PUT replaces the list; its first entry becomes the primary supplier.
    let replaced = api
        .product(
            "SKU-S1",
            json!({ "suppliers": [{ "name": "Beta Parts", "lead_time_days": 12, "unit_cost_cents": 880 }] }),
        )
        .await;
    assert_eq!(replaced["supplier"], "Beta Parts");
    assert_eq!(
        replaced["suppliers"],
        json!([{ "name": "Beta Parts", "lead_time_days": 12, "unit_cost_cents": 880 }])
    );

    // Setting only `supplier` puts it first and keeps the others.
    let primary = api
        .product("SKU-S1", json!({ "supplier": "Cobalt Works" }))
        .await;
    assert_eq!(primary["supplier"], "Cobalt Works");
    assert_eq!(names(&primary), ["Cobalt Works", "Beta Parts"]);
    assert_eq!(primary["suppliers"][1]["unit_cost_cents"], 880);

    // An empty list leaves the product without a supplier.
    let none = api.product("SKU-S1", json!({ "suppliers": [] })).await;
    assert_eq!(none["supplier"], Value::Null);
    assert_eq!(none["suppliers"], json!([]));
}

#[tokio::test]
async fn bad_supplier_entries_are_refused_by_name_and_change_nothing() {
    let api = Api::start().await;
    api.product(
        "SKU-S2",
        json!({ "name": "Lamp", "suppliers": [{ "name": "Acme Supply", "lead_time_days": 30 }] }),
    )
    .await;
    let count = || {
        api.count("SELECT count(*) FROM product_suppliers")
            + 1000 * api.count("SELECT count(*) FROM suppliers")
    };
    let before = count();
    let cases = [
        (
            json!([{ "name": "Acme Supply" }, { "name": "Beta", "lead_time_days": -1 }]),
            "suppliers[1].lead_time_days",
        ),
        (
            json!([{ "name": "Beta", "lead_time_days": 366 }]),
            "suppliers[0].lead_time_days",
        ),
        (
            json!([{ "name": "Beta", "unit_cost_cents": -5 }]),
            "suppliers[0].unit_cost_cents",
        ),
        (json!([{ "name": "  " }]), "suppliers[0].name"),
        (
            json!([{ "name": "Beta" }, { "name": "beta" }]),
            "suppliers[1].name",
        ),
    ];
    for (list, field) in cases {
        let (status, body) = api
            .put("/api/v1/products/SKU-S2", &json!({ "suppliers": list }))
            .await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    // An unknown field in an entry is refused too (closed object).
    let (status, _) = api
        .put(
            "/api/v1/products/SKU-S2",
            &json!({ "suppliers": [{ "name": "Beta", "lead": 3 }] }),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    // The primary must agree with the list's first entry.
    let (status, body) = api
        .put(
            "/api/v1/products/SKU-S2",
            &json!({ "supplier": "Cobalt", "suppliers": [{ "name": "Beta" }] }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("supplier"),
    );
    assert_eq!(count(), before, "a refusal changes nothing");
}

#[tokio::test]
async fn a_second_suppliers_purchase_order_sets_the_eta() {
    let api = Api::start().await;
    api.product(
        "SKU-S3",
        json!({ "name": "Lamp", "on_hand": 0,
                "suppliers": [{ "name": "Acme Supply", "lead_time_days": 60 },
                              { "name": "Beta Parts", "lead_time_days": 10 }] }),
    )
    .await;
    let expected_on = in_days(8);
    let (status, body) = api
        .post(
            "/api/v1/purchase-orders",
            &json!({ "reference": "PO-BETA", "supplier": "Beta Parts",
                     "expected_on": date_json(expected_on),
                     "lines": [{ "sku": "SKU-S3", "quantity": 5 }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let placed = api.order("ORD-S3", "SKU-S3", 2, 5).await;
    let line = &placed["lines"][0];
    assert_eq!(
        line["eta_likely"],
        date_json(expected_on + Duration::days(1)),
        "the Beta purchase order brings it, not Acme's 60-day lead time: {line}"
    );
    assert!(
        line["reason"].as_str().unwrap().contains("PO-BETA"),
        "{line}"
    );
}

#[tokio::test]
async fn past_all_supply_the_primarys_own_lead_time_for_the_product_counts() {
    let api = Api::start().await;
    // The supplier has no lead time of its own; the product's terms with it say 5 days.
    api.product(
        "SKU-S4",
        json!({ "name": "Lamp", "on_hand": 0,
                "suppliers": [{ "name": "Acme Supply", "lead_time_days": 5 }] }),
    )
    .await;
    let (status, availability) = api.get("/api/v1/products/SKU-S4/availability").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(availability["status"], "backorder", "{availability}");
    let placed = api.order("ORD-S4", "SKU-S4", 1, 5).await;
    let worst = placed["lines"][0]["eta_worst"].as_str().unwrap().to_owned();
    let worst = chrono::NaiveDate::parse_from_str(&worst, "%Y-%m-%d").unwrap();
    assert!(
        worst >= today() + Duration::days(5) && worst <= today() + Duration::days(40),
        "estimated from the 5-day lead time: {placed}"
    );
}

async fn waiting_product(api: &Api, sku: &str, suppliers: Value) {
    api.product(
        sku,
        json!({ "name": format!("Product {sku}"), "on_hand": 0, "suppliers": suppliers }),
    )
    .await;
    api.order(&format!("ORD-{sku}"), sku, 3, 5).await;
}

fn chosen(api: &Api, sku: &str) -> reorder::Suggestion {
    reorder::suggestions(&mut api.app.conn(), None, today())
        .unwrap()
        .into_iter()
        .find(|s| s.sku == sku)
        .unwrap_or_else(|| panic!("{sku} is suggested"))
}

#[tokio::test]
async fn the_suggestion_names_the_sooner_supplier_then_the_cheaper_and_shows_both() {
    let api = Api::start().await;
    waiting_product(
        &api,
        "SKU-SOON",
        json!([{ "name": "Acme Supply", "lead_time_days": 30, "unit_cost_cents": 500 },
               { "name": "Beta Parts", "lead_time_days": 10, "unit_cost_cents": 900 }]),
    )
    .await;
    waiting_product(
        &api,
        "SKU-TIE",
        json!([{ "name": "Acme Supply", "lead_time_days": 10, "unit_cost_cents": 900 },
               { "name": "Cobalt Works", "lead_time_days": 10, "unit_cost_cents": 700 }]),
    )
    .await;
    let soon = chosen(&api, "SKU-SOON");
    assert_eq!(soon.supplier.as_deref(), Some("Beta Parts"));
    assert_eq!(soon.options.len(), 2);
    let tie = chosen(&api, "SKU-TIE");
    assert_eq!(tie.supplier.as_deref(), Some("Cobalt Works"));

    // Acme's receipts say it is usually 25 days late: Beta (10 days) still wins, and a
    // 20-day Acme against a 25-day Beta turns to Beta once Acme's slip is known.
    api.sql(
        "INSERT INTO purchase_orders (reference, supplier_id, expected_on, status)
         SELECT 'PO-OLD', id, current_date - 40, 'received' FROM suppliers WHERE name = 'Acme Supply'",
    );
    api.sql(
        "INSERT INTO purchase_order_receipts (purchase_order_id, received_on, expected_on, idempotency_key)
         SELECT id, current_date - 15, current_date - 40, 'old' FROM purchase_orders WHERE reference = 'PO-OLD'",
    );
    waiting_product(
        &api,
        "SKU-SLIP",
        json!([{ "name": "Acme Supply", "lead_time_days": 20, "unit_cost_cents": 100 },
               { "name": "Beta Parts", "lead_time_days": 25, "unit_cost_cents": 900 }]),
    )
    .await;
    assert_eq!(
        chosen(&api, "SKU-SLIP").supplier.as_deref(),
        Some("Beta Parts")
    );

    // The page lists each under its chosen supplier with both options.
    let app = &api.app;
    app.login_as(Role::Rep).await;
    let page = app
        .get("/purchase-orders/suggestions")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<strong>Beta Parts (suggested)</strong>"),
        "{page}"
    );
    assert!(
        page.contains("<strong>Cobalt Works (suggested)</strong>"),
        "{page}"
    );
    assert!(
        page.contains("Acme Supply:"),
        "the other option is shown: {page}"
    );
    assert!(page.contains("€9.00 each"), "{page}");
    assert!(page.contains("on time 0%, usually 25 days late"), "{page}");
}

#[tokio::test]
async fn the_product_page_lists_the_suppliers_and_a_manager_adds_and_removes_one() {
    let api = Api::start().await;
    api.product(
        "SKU-PAGE",
        json!({ "name": "Lamp",
                "suppliers": [{ "name": "Acme Supply", "lead_time_days": 30, "unit_cost_cents": 500 },
                              { "name": "Beta Parts", "lead_time_days": 10, "unit_cost_cents": 900 }] }),
    )
    .await;
    let app = &api.app;
    app.login_as(Role::Manager).await;
    let page = app.get("/inventory/SKU-PAGE").await.text().await.unwrap();
    let section = &page[page.find("id=\"suppliers\"").expect("a suppliers section")..];
    assert!(
        section.contains("Acme Supply <small>(primary)</small>"),
        "{section}"
    );
    assert!(
        section.contains("30 days") && section.contains("€5.00"),
        "{section}"
    );
    assert!(
        section.contains("Beta Parts") && section.contains("10 days") && section.contains("€9.00")
    );
    assert!(
        section.contains("no deliveries yet"),
        "reliability beside each: {section}"
    );
    assert!(section.contains("<label for=\"supplier-lead-time\">Lead time in days</label>"));

    // A bad lead time is refused by its field and changes nothing.
    let refused = app
        .post_form(
            "/inventory/SKU-PAGE/suppliers",
            &[
                ("name", "Cobalt Works"),
                ("lead_time_days", "soon"),
                ("unit_cost", "7"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let body = refused.text().await.unwrap();
    assert!(body.contains("id=\"supplier-lead-time-error\""), "{body}");
    assert!(
        body.contains("value=\"Cobalt Works\""),
        "the form keeps what was typed"
    );
    let refused = app
        .post_form(
            "/inventory/SKU-PAGE/suppliers",
            &[
                ("name", "Cobalt Works"),
                ("lead_time_days", "400"),
                ("unit_cost", ""),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("id=\"supplier-lead-time-error\"")
    );
    assert_eq!(api.count("SELECT count(*) FROM product_suppliers"), 2);

    let added = app
        .post_form(
            "/inventory/SKU-PAGE/suppliers",
            &[
                ("name", "Cobalt Works"),
                ("lead_time_days", "7"),
                ("unit_cost", "6.50"),
            ],
        )
        .await;
    assert_eq!(added.status(), 303);
    let page = app.get("/inventory/SKU-PAGE").await.text().await.unwrap();
    assert!(
        page.contains("Cobalt Works") && page.contains("€6.50"),
        "{page}"
    );

    // Removing the primary makes the next one primary.
    let removed = app
        .post_form(
            "/inventory/SKU-PAGE/suppliers/remove",
            &[("name", "Acme Supply")],
        )
        .await;
    assert_eq!(removed.status(), 303);
    let (_, product) = api.put("/api/v1/products/SKU-PAGE", &json!({})).await;
    assert_eq!(product["supplier"], "Beta Parts");
    assert_eq!(names(&product), ["Beta Parts", "Cobalt Works"]);
}

#[tokio::test]
async fn a_rep_sees_the_suppliers_but_cannot_change_them() {
    let api = Api::start().await;
    api.product(
        "SKU-REP",
        json!({ "name": "Lamp", "suppliers": [{ "name": "Acme Supply", "lead_time_days": 30 }] }),
    )
    .await;
    let app = &api.app;
    app.login_as(Role::Rep).await;
    let page = app.get("/inventory/SKU-REP").await.text().await.unwrap();
    assert!(page.contains("Acme Supply <small>(primary)</small>"));
    assert!(
        !page.contains("/suppliers/remove"),
        "no remove button for a rep"
    );
    let refused = app
        .post_form("/inventory/SKU-REP/suppliers", &[("name", "Beta Parts")])
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(api.count("SELECT count(*) FROM product_suppliers"), 1);
}
