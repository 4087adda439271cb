//! The storefront API (DESIGN §8) over HTTP: every route's happy path, its idempotency,
//! each refusal with the field it names, and the bearer token. Refusals are checked to
//! store nothing.

use backorder_desk::db::audit::Actor;
use backorder_desk::services::admin::api_tokens;
use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// A running app and a storefront token for it.
pub struct Api {
    pub app: TestApp,
    pub token: String,
}

/// The shop's working day, as the server computes it.
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

pub fn in_days(days: i64) -> NaiveDate {
    today() + Duration::days(days)
}

/// `"2026-12-03"`, as the API writes dates.
pub fn date_json(date: NaiveDate) -> Value {
    json!(date.format("%Y-%m-%d").to_string())
}

impl Api {
    pub async fn start() -> Self {
        Self::for_app(spawn_app().await)
    }

    /// A storefront token for an app the test started its own way.
    pub fn for_app(app: TestApp) -> Self {
        let token = api_tokens::create(&mut app.conn(), &Actor::System, "storefront")
            .expect("create an API token");
        Self { app, token }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("send a request");
        let status = response.status();
        let text = response.text().await.expect("read the body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("a JSON body with {status}, got {text:?}"));
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(
            self.app
                .client
                .get(self.app.url(path))
                .bearer_auth(&self.token),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(
            self.app
                .client
                .put(self.app.url(path))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(
            self.app
                .client
                .post(self.app.url(path))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await
    }

    pub async fn receive(&self, reference: &str, key: &str, lines: Value) -> (StatusCode, Value) {
        self.send(
            self.app
                .client
                .post(
                    self.app
                        .url(&format!("/api/v1/purchase-orders/{reference}/receipts")),
                )
                .bearer_auth(&self.token)
                .header("Idempotency-Key", key)
                .json(&json!({ "lines": lines })),
        )
        .await
    }

    /// Creates or updates a product, expecting success.
    pub async fn product(&self, sku: &str, body: Value) -> Value {
        let (status, body) = self.put(&format!("/api/v1/products/{sku}"), &body).await;
        assert!(status.is_success(), "PUT product {sku}: {status} {body}");
        body
    }

    /// A backorderable product whose supplier has a lead time, so it can always be ordered.
    pub async fn backorderable(&self, sku: &str, on_hand: i64, lead_time_days: i32) -> Value {
        let body = self
            .product(
                sku,
                json!({ "name": format!("Product {sku}"), "supplier": "Acme Supply", "on_hand": on_hand }),
            )
            .await;
        self.sql(&format!(
            "UPDATE suppliers SET lead_time_days = {lead_time_days} WHERE name = 'Acme Supply'"
        ));
        body
    }

    pub async fn purchase_order(
        &self,
        reference: &str,
        expected_on: NaiveDate,
        lines: Value,
    ) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/purchase-orders",
                &json!({ "reference": reference, "supplier": "Acme Supply",
                         "expected_on": date_json(expected_on), "lines": lines }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Places an order of one line, expecting it to be taken; `minutes_ago` orders the queue.
    pub async fn order(&self, number: &str, sku: &str, quantity: i64, minutes_ago: i64) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/orders",
                &order_body(number, sku, quantity, minutes_ago),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "order {number}: {body}");
        body
    }

    pub async fn order_line(&self, number: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/orders/{number}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["lines"][0].clone()
    }

    pub fn sql(&self, statement: &str) {
        diesel::sql_query(statement)
            .execute(&mut self.app.conn())
            .expect(statement);
    }

    pub fn count(&self, query: &str) -> i64 {
        diesel::dsl::sql::<BigInt>(query)
            .get_result(&mut self.app.conn())
            .expect(query)
    }

    /// Row counts of everything a refused request must leave alone.
    pub fn footprint(&self) -> Vec<i64> {
        [
            "customers",
            "orders",
            "order_lines",
            "stock_movements",
            "purchase_orders",
            "purchase_order_lines",
            "purchase_order_receipts",
            "restock_subscriptions",
        ]
        .iter()
        .map(|table| self.count(&format!("SELECT count(*) FROM {table}")))
        .chain([
            self.count("SELECT coalesce(sum(on_hand), 0)::int8 FROM products"),
            self.count("SELECT coalesce(sum(allocated), 0)::int8 FROM products"),
            self.count("SELECT coalesce(sum(qty_received), 0)::int8 FROM purchase_order_lines"),
        ])
        .collect()
    }
}

pub fn order_body(number: &str, sku: &str, quantity: i64, minutes_ago: i64) -> Value {
    let placed_at = chrono::Utc::now() - Duration::minutes(minutes_ago);
    json!({
        "number": number,
        "placed_at": placed_at.to_rfc3339(),
        "customer": { "email": format!("{}@example.com", number.to_lowercase()), "name": "Ada Buyer" },
        "lines": [{ "sku": sku, "quantity": quantity, "unit_price_cents": 1250 }],
    })
}

/// Asserts a `{"error": ..., "details": [...]}` body with `status`, naming `field` if given.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, field: Option<&str>) {
    assert_eq!(status, expected, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no error message: {body}"
    );
    let details = body["details"].as_array().expect("details is a list");
    if let Some(field) = field {
        assert!(
            details.iter().any(|d| d["field"] == field),
            "details do not name {field}: {body}"
        );
    }
}

// --- PUT /api/v1/products/{sku} ---

#[tokio::test]
async fn a_product_is_created_then_updated() {
    let api = Api::start().await;

    let (status, created) = api
        .put(
            "/api/v1/products/SKU-100",
            &json!({ "name": "Walnut desk", "supplier": "Oak & Co", "on_hand": 12,
                     "backorderable": false, "reorder_point": 3, "unit_price_cents": 49900 }),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["sku"], "SKU-100");
    assert_eq!(created["name"], "Walnut desk");
    assert_eq!(created["supplier"], "Oak & Co");
    assert_eq!(created["on_hand"], 12);
    assert_eq!(created["allocated"], 0);
    assert_eq!(created["available"], 12);
    assert_eq!(created["backorderable"], false);
    assert_eq!(created["reorder_point"], 3);
    assert_eq!(created["unit_price_cents"], 49900);
    assert_eq!(created["status"], "in_stock");

    let (status, updated) = api
        .put(
            "/api/v1/products/SKU-100",
            &json!({ "name": "Walnut desk, large", "on_hand": 2 }),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Walnut desk, large");
    assert_eq!(updated["on_hand"], 2);
    assert_eq!(updated["supplier"], "Oak & Co", "fields not sent are kept");
    assert_eq!(updated["unit_price_cents"], 49900);
    assert_eq!(updated["status"], "low_stock");
    assert_eq!(api.count("SELECT count(*) FROM products"), 1);
    // Both stock levels went through the ledger.
    assert_eq!(
        api.count(
            "SELECT sum(on_hand_delta)::int8 FROM stock_movements WHERE reason = 'adjustment'"
        ),
        2
    );
}

#[tokio::test]
async fn a_new_product_needs_a_name() {
    let api = Api::start().await;

    let (status, body) = api
        .put("/api/v1/products/SKU-101", &json!({ "on_hand": 4 }))
        .await;

    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("name"),
    );
    assert_eq!(api.count("SELECT count(*) FROM products"), 0);
    assert_eq!(api.count("SELECT count(*) FROM stock_movements"), 0);
}

#[tokio::test]
async fn product_numbers_out_of_range_are_refused() {
    let api = Api::start().await;
    api.product("SKU-102", json!({ "name": "Lamp", "on_hand": 5 }))
        .await;
    let before = api.footprint();

    for (body, field) in [
        (json!({ "on_hand": -1 }), "on_hand"),
        (json!({ "on_hand": 10_000_000_000_i64 }), "on_hand"),
        (json!({ "on_hand": 1e30 }), "on_hand"),
        (json!({ "on_hand": "7" }), "on_hand"),
        (json!({ "reorder_point": -3 }), "reorder_point"),
        (json!({ "unit_price_cents": -1 }), "unit_price_cents"),
        (json!({ "unit_price_cents": i64::MAX }), "unit_price_cents"),
        (json!({ "name": "" }), "name"),
        (json!({ "name": "x".repeat(301) }), "name"),
        (json!({ "colour": "red" }), "colour"),
    ] {
        let (status, reply) = api.put("/api/v1/products/SKU-102", &body).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body} gave {status} {reply}"
        );
        assert_error(status, &reply, status, Some(field));
    }

    let (status, reply) = api
        .put("/api/v1/products/has%20space", &json!({ "name": "Bad" }))
        .await;
    assert_error(
        status,
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("sku"),
    );
    assert_eq!(api.footprint(), before, "a refused PUT stores nothing");
    let (_, product) = api.get("/api/v1/products/SKU-102/availability").await;
    assert_eq!(product["available"], 5);
}

#[tokio::test]
async fn raising_on_hand_allocates_down_the_queue_like_a_receipt() {
    let api = Api::start().await;
    api.backorderable("SKU-103", 0, 14).await;
    api.order("ORD-1", "SKU-103", 3, 20).await;
    api.order("ORD-2", "SKU-103", 2, 10).await;
    assert_eq!(api.order_line("ORD-1").await["waiting"], 3);

    let (status, product) = api
        .put("/api/v1/products/SKU-103", &json!({ "on_hand": 4 }))
        .await;

    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(product["on_hand"], 4);
    assert_eq!(product["allocated"], 4);
    assert_eq!(product["available"], 0);
    assert_eq!(product["waiting"], 1);
    let first = api.order_line("ORD-1").await;
    assert_eq!(
        (first["allocated"].clone(), first["waiting"].clone()),
        (json!(3), json!(0))
    );
    assert!(
        first["eta_likely"].is_null() && first["reason"].is_null(),
        "{first}"
    );
    let (_, second) = api.get("/api/v1/orders/ORD-2").await;
    assert_eq!(second["status"], "backordered");
    assert_eq!(second["lines"][0]["allocated"], 1);
    assert_eq!(second["lines"][0]["waiting"], 1);
    assert!(
        second["lines"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("1st in line for SKU-103")),
        "{second}"
    );
    let (_, first_order) = api.get("/api/v1/orders/ORD-1").await;
    assert_eq!(first_order["status"], "ready_to_ship");
}

#[tokio::test]
async fn lowering_on_hand_below_what_is_allocated_is_refused() {
    let api = Api::start().await;
    api.product("SKU-104", json!({ "name": "Chair", "on_hand": 5 }))
        .await;
    api.order("ORD-1", "SKU-104", 4, 5).await;
    let before = api.footprint();

    let (status, body) = api
        .put(
            "/api/v1/products/SKU-104",
            &json!({ "on_hand": 3, "name": "Renamed" }),
        )
        .await;

    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("on_hand"),
    );
    assert_eq!(api.footprint(), before);
    let (_, product) = api.put("/api/v1/products/SKU-104", &json!({})).await;
    assert_eq!(product["name"], "Chair", "the whole update was rolled back");
    assert_eq!(product["on_hand"], 5);
    assert_eq!(product["allocated"], 4);

    // Down to exactly what is allocated is fine.
    let (status, product) = api
        .put("/api/v1/products/SKU-104", &json!({ "on_hand": 4 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(product["available"], 0);
}

// --- POST /api/v1/purchase-orders ---

#[tokio::test]
async fn a_purchase_order_is_created_once() {
    let api = Api::start().await;
    api.product("SKU-200", json!({ "name": "Bolt" })).await;
    api.product("SKU-201", json!({ "name": "Nut" })).await;
    // Within two years of today (issue 13: further out is refused).
    let expected_on = date_json(in_days(365));
    let body = json!({ "reference": "PO-1042", "supplier": "Acme Supply", "expected_on": expected_on,
                       "lines": [{ "sku": "SKU-200", "quantity": 40 }, { "sku": "SKU-201", "quantity": 10 }] });

    let (status, created) = api.post("/api/v1/purchase-orders", &body).await;

    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["reference"], "PO-1042");
    assert_eq!(created["supplier"], "Acme Supply");
    assert_eq!(created["status"], "open");
    assert_eq!(created["expected_on"], expected_on);
    assert_eq!(
        created["lines"],
        json!([{ "sku": "SKU-200", "quantity": 40, "received": 0 },
               { "sku": "SKU-201", "quantity": 10, "received": 0 }])
    );

    let (status, again) = api.post("/api/v1/purchase-orders", &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, created);
    assert_eq!(api.count("SELECT count(*) FROM purchase_orders"), 1);
    assert_eq!(api.count("SELECT count(*) FROM purchase_order_lines"), 2);

    let mut different = body.clone();
    different["lines"][0]["quantity"] = json!(41);
    let (status, reply) = api.post("/api/v1/purchase-orders", &different).await;
    assert_error(status, &reply, StatusCode::CONFLICT, None);
    assert_eq!(
        api.count("SELECT sum(qty_ordered)::int8 FROM purchase_order_lines"),
        50
    );
}

#[tokio::test]
async fn a_purchase_order_with_a_bad_field_is_refused_by_name() {
    let api = Api::start().await;
    api.product("SKU-202", json!({ "name": "Washer" })).await;
    let before = api.footprint();
    let valid = json!({ "reference": "PO-7", "supplier": "Acme Supply", "expected_on": date_json(in_days(45)),
                        "lines": [{ "sku": "SKU-202", "quantity": 5 }] });

    for (change, field, expected) in [
        (
            json!({ "expected_on": "2030-13-45" }),
            "expected_on",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "expected_on": "15/01/2030" }),
            "expected_on",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "expected_on": 20300115 }),
            "expected_on",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "lines": [{ "sku": "SKU-NOPE", "quantity": 5 }] }),
            "lines[0].sku",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "lines": [{ "sku": "SKU-202", "quantity": 0 }] }),
            "lines[0].quantity",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "lines": [] }),
            "lines",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "supplier": " " }),
            "supplier",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "reference": "PO 7" }),
            "reference",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let mut body = valid.clone();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, reply) = api.post("/api/v1/purchase-orders", &body).await;
        assert!(status == expected, "{body} gave {status} {reply}");
        assert_error(status, &reply, expected, Some(field));
    }
    assert_eq!(api.footprint(), before);
    assert_eq!(
        api.count("SELECT count(*) FROM suppliers"),
        0,
        "no supplier made either"
    );
}

// --- POST /api/v1/purchase-orders/{reference}/receipts ---

#[tokio::test]
async fn a_receipt_allocates_in_queue_order_and_is_received_once() {
    let api = Api::start().await;
    api.backorderable("SKU-300", 0, 30).await;
    api.purchase_order(
        "PO-300",
        in_days(5),
        json!([{ "sku": "SKU-300", "quantity": 20 }]),
    )
    .await;
    // Placed in the order B, A, C: the queue follows placed_at, not arrival.
    api.order("ORD-B", "SKU-300", 4, 20).await;
    api.order("ORD-A", "SKU-300", 3, 30).await;
    api.order("ORD-C", "SKU-300", 5, 10).await;

    let (status, receipt) = api
        .receive(
            "PO-300",
            "delivery-1",
            json!([{ "sku": "SKU-300", "quantity": 8 }]),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["reference"], "PO-300");
    assert_eq!(receipt["status"], "open");
    assert_eq!(receipt["received_on"], date_json(today()));
    assert_eq!(
        receipt["received"],
        json!([{ "sku": "SKU-300", "quantity": 8 }])
    );
    assert_eq!(
        receipt["allocated"],
        json!([{ "order": "ORD-A", "sku": "SKU-300", "quantity": 3 },
               { "order": "ORD-B", "sku": "SKU-300", "quantity": 4 },
               { "order": "ORD-C", "sku": "SKU-300", "quantity": 1 }])
    );
    let ledger = api.count("SELECT count(*) FROM stock_movements");

    let (status, again) = api
        .receive(
            "PO-300",
            "delivery-1",
            json!([{ "sku": "SKU-300", "quantity": 8 }]),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, receipt);
    assert_eq!(api.count("SELECT on_hand::int8 FROM products"), 8);
    assert_eq!(
        api.count("SELECT qty_received::int8 FROM purchase_order_lines"),
        8
    );
    assert_eq!(api.count("SELECT count(*) FROM purchase_order_receipts"), 1);
    assert_eq!(api.count("SELECT count(*) FROM stock_movements"), ledger);
    let waiting = api.order_line("ORD-C").await;
    assert_eq!(
        (waiting["allocated"].clone(), waiting["waiting"].clone()),
        (json!(1), json!(4))
    );

    // A new key is a new delivery; the rest completes the purchase order.
    let (status, rest) = api
        .receive(
            "PO-300",
            "delivery-2",
            json!([{ "sku": "SKU-300", "quantity": 12 }]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rest}");
    assert_eq!(rest["status"], "received");
    assert_eq!(
        rest["allocated"],
        json!([{ "order": "ORD-C", "sku": "SKU-300", "quantity": 4 }])
    );
    assert_eq!(api.count("SELECT on_hand::int8 FROM products"), 20);
}

#[tokio::test]
async fn a_receipt_of_two_products_writes_each_lines_allocation_to_the_ledger_in_queue_order() {
    let api = Api::start().await;
    api.backorderable("SKU-310", 0, 30).await;
    api.backorderable("SKU-311", 0, 30).await;
    api.purchase_order(
        "PO-310",
        in_days(5),
        json!([{ "sku": "SKU-310", "quantity": 10 }, { "sku": "SKU-311", "quantity": 10 }]),
    )
    .await;
    api.order("ORD-310B", "SKU-310", 4, 20).await;
    api.order("ORD-311A", "SKU-311", 3, 25).await;
    api.order("ORD-310A", "SKU-310", 2, 30).await;
    api.order("ORD-311B", "SKU-311", 2, 15).await;

    let (status, receipt) = api
        .receive(
            "PO-310",
            "dock-310",
            json!([{ "sku": "SKU-311", "quantity": 4 }, { "sku": "SKU-310", "quantity": 5 }]),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(
        receipt["received"],
        json!([{ "sku": "SKU-311", "quantity": 4 }, { "sku": "SKU-310", "quantity": 5 }])
    );
    // Products in the order they were locked (SKU-310 was made first), each queue oldest
    // first; the head of SKU-311's queue behind the units is served in part.
    assert_eq!(
        receipt["allocated"],
        json!([{ "order": "ORD-310A", "sku": "SKU-310", "quantity": 2 },
               { "order": "ORD-310B", "sku": "SKU-310", "quantity": 3 },
               { "order": "ORD-311A", "sku": "SKU-311", "quantity": 3 },
               { "order": "ORD-311B", "sku": "SKU-311", "quantity": 1 }])
    );
    // The ledger has one allocation row per line served, written in that order, under the
    // receipt's reference, each naming its line: the order page's history and the
    // product's ledger read these.
    let ledger: String = diesel::dsl::sql::<diesel::sql_types::Text>(
        "SELECT string_agg(o.number || ' ' || p.sku || ' ' || m.allocated_delta, ', ' ORDER BY m.id)
           FROM stock_movements m
           JOIN order_lines l ON l.id = m.order_line_id
           JOIN orders o ON o.id = l.order_id
           JOIN products p ON p.id = m.product_id AND p.id = l.product_id
          WHERE m.reason = 'allocation' AND m.on_hand_delta = 0
            AND m.reference = (SELECT 'PO-310 receipt ' || id FROM purchase_order_receipts)",
    )
    .get_result(&mut api.app.conn())
    .unwrap();
    assert_eq!(
        ledger,
        "ORD-310A SKU-310 2, ORD-310B SKU-310 3, ORD-311A SKU-311 3, ORD-311B SKU-311 1"
    );
    assert_eq!(
        api.count("SELECT sum(allocated_delta)::int8 FROM stock_movements"),
        api.count("SELECT sum(allocated)::int8 FROM products"),
        "allocated is the ledger's running sum"
    );
    let partly = api.order_line("ORD-311B").await;
    assert_eq!(
        (partly["allocated"].clone(), partly["waiting"].clone()),
        (json!(1), json!(1))
    );

    // The same receipt again answers what the ledger holds: the same answer.
    let (status, again) = api
        .receive(
            "PO-310",
            "dock-310",
            json!([{ "sku": "SKU-311", "quantity": 4 }, { "sku": "SKU-310", "quantity": 5 }]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, receipt);
}

#[tokio::test]
async fn an_idempotency_key_used_for_another_receipt_is_a_conflict() {
    let api = Api::start().await;
    api.product("SKU-303", json!({ "name": "Hinge" })).await;
    for reference in ["PO-303", "PO-304"] {
        api.purchase_order(
            reference,
            in_days(3),
            json!([{ "sku": "SKU-303", "quantity": 10 }]),
        )
        .await;
    }
    let (status, _) = api
        .receive(
            "PO-303",
            "note-1",
            json!([{ "sku": "SKU-303", "quantity": 4 }]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let before = api.footprint();

    // Another purchase order, or other units, under a used key: not a repeat of that
    // receipt, and not silently skipped with its answer either.
    let (status, body) = api
        .receive(
            "PO-304",
            "note-1",
            json!([{ "sku": "SKU-303", "quantity": 4 }]),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, None);
    let (status, body) = api
        .receive(
            "PO-303",
            "note-1",
            json!([{ "sku": "SKU-303", "quantity": 5 }]),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, None);

    assert_eq!(api.footprint(), before);
}

#[tokio::test]
async fn a_receipt_that_does_not_fit_the_purchase_order_is_refused() {
    let api = Api::start().await;
    api.product("SKU-301", json!({ "name": "Shelf" })).await;
    api.product("SKU-302", json!({ "name": "Bracket" })).await;
    api.purchase_order(
        "PO-301",
        in_days(3),
        json!([{ "sku": "SKU-301", "quantity": 10 }]),
    )
    .await;
    let (status, _) = api
        .receive(
            "PO-301",
            "first",
            json!([{ "sku": "SKU-301", "quantity": 6 }]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let before = api.footprint();

    let (status, body) = api
        .receive(
            "PO-301",
            "second",
            json!([{ "sku": "SKU-301", "quantity": 5 }]),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("lines[0].quantity"),
    );
    assert!(
        body["error"].as_str().unwrap().contains("only 4 units"),
        "{body}"
    );

    let (status, body) = api
        .receive(
            "PO-301",
            "third",
            json!([{ "sku": "SKU-302", "quantity": 1 }]),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("lines[0].sku"),
    );

    let (status, body) = api
        .receive(
            "PO-301",
            "fourth",
            json!([{ "sku": "SKU-301", "quantity": -2 }]),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("lines[0].quantity"),
    );

    let (status, body) = api
        .receive(
            "PO-NOPE",
            "fifth",
            json!([{ "sku": "SKU-301", "quantity": 1 }]),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);

    assert_eq!(api.footprint(), before, "refused receipts store nothing");
    // The refused keys were not used up: the right receipt under one of them goes through.
    let (status, _) = api
        .receive(
            "PO-301",
            "second",
            json!([{ "sku": "SKU-301", "quantity": 4 }]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

// --- POST /api/v1/orders ---

#[tokio::test]
async fn an_order_is_placed_and_answered_as_get_shows_it() {
    let api = Api::start().await;
    api.product("SKU-400", json!({ "name": "Kettle", "on_hand": 10 }))
        .await;
    api.product("SKU-401", json!({ "name": "Mug", "on_hand": 10 }))
        .await;
    let body = json!({
        "number": "ORD-400",
        "placed_at": "2026-11-22T10:30:00Z",
        "customer": { "email": "grace@example.com", "name": "Grace Buyer" },
        "lines": [{ "sku": "SKU-400", "quantity": 2, "unit_price_cents": 3999 },
                  { "sku": "SKU-401", "quantity": 6, "unit_price_cents": 899 }],
    });

    let (status, created) = api.post("/api/v1/orders", &body).await;

    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, shown) = api.get("/api/v1/orders/ORD-400").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created, shown);
    assert_eq!(shown["number"], "ORD-400");
    assert_eq!(shown["status"], "ready_to_ship");
    assert_eq!(
        shown["lines"][1],
        json!({ "sku": "SKU-401", "quantity": 6, "allocated": 6, "shipped": 0, "cancelled": 0,
                "waiting": 0, "eta_likely": null, "eta_worst": null, "eta_is_estimate": false,
                "promised_on": null, "reason": null })
    );
    let (_, kettle) = api.get("/api/v1/products/SKU-400/availability").await;
    assert_eq!(kettle["available"], 8);
}

#[tokio::test]
async fn the_same_order_again_is_stored_once_and_a_different_one_conflicts() {
    let api = Api::start().await;
    api.product("SKU-402", json!({ "name": "Teapot", "on_hand": 10 }))
        .await;
    let body = order_body("ORD-402", "SKU-402", 3, 1);
    let (status, created) = api.post("/api/v1/orders", &body).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, again) = api.post("/api/v1/orders", &body).await;

    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, created);
    assert_eq!(api.count("SELECT count(*) FROM orders"), 1);
    assert_eq!(api.count("SELECT count(*) FROM order_lines"), 1);
    assert_eq!(api.count("SELECT count(*) FROM customers"), 1);
    assert_eq!(api.count("SELECT allocated::int8 FROM products"), 3);

    let mut different = body.clone();
    different["lines"][0]["quantity"] = json!(4);
    let before = api.footprint();
    let (status, reply) = api.post("/api/v1/orders", &different).await;
    assert_error(status, &reply, StatusCode::CONFLICT, None);
    assert_eq!(api.footprint(), before);
}

#[tokio::test]
async fn the_same_order_spelled_differently_is_still_the_same_order() {
    let api = Api::start().await;
    api.product("SKU-407", json!({ "name": "Mug", "on_hand": 10 }))
        .await;
    let body = order_body("ORD-407", "SKU-407", 1, 1);
    let (status, created) = api.post("/api/v1/orders", &body).await;
    assert_eq!(status, StatusCode::CREATED);

    // The same fields in another order, pretty-printed: a storefront retrying after a
    // timeout may serialize its body anew.
    let mut reordered = serde_json::Map::new();
    for key in ["lines", "customer", "placed_at", "number"] {
        reordered.insert(key.to_owned(), body[key].clone());
    }
    let text = serde_json::to_string_pretty(&Value::Object(reordered)).unwrap();
    let response = api
        .app
        .client
        .post(api.app.url("/api/v1/orders"))
        .bearer_auth(&api.token)
        .header("Content-Type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), created);
    assert_eq!(api.count("SELECT count(*) FROM orders"), 1);
}

#[tokio::test]
async fn an_out_of_stock_line_refuses_the_whole_order() {
    let api = Api::start().await;
    api.product("SKU-403", json!({ "name": "In stock", "on_hand": 10 }))
        .await;
    // Not backorderable, with a supplier that has a lead time.
    api.backorderable("SKU-404", 1, 10).await;
    api.product("SKU-404", json!({ "backorderable": false }))
        .await;
    // Backorderable, but nothing says when more comes: no lead time, no purchase order.
    api.product(
        "SKU-405",
        json!({ "name": "No supply", "supplier": "Quiet Supplier" }),
    )
    .await;
    api.product("SKU-406", json!({ "name": "No supplier" }))
        .await;
    let before = api.footprint();

    for (sku, quantity) in [("SKU-404", 2), ("SKU-405", 1), ("SKU-406", 1)] {
        let body = json!({
            "number": "ORD-403",
            "customer": { "email": "new.customer@example.com", "name": "New Customer" },
            "lines": [{ "sku": "SKU-403", "quantity": 2, "unit_price_cents": 100 },
                      { "sku": sku, "quantity": quantity, "unit_price_cents": 100 }],
        });
        let (status, reply) = api.post("/api/v1/orders", &body).await;
        assert_error(
            status,
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("lines[1].sku"),
        );
        assert!(
            reply["details"][0]["message"]
                .as_str()
                .unwrap()
                .contains(sku),
            "{reply}"
        );
    }

    assert_eq!(
        api.footprint(),
        before,
        "no customer, no order, no stock taken"
    );
    let (_, stocked) = api.get("/api/v1/products/SKU-403/availability").await;
    assert_eq!(stocked["available"], 10);
}

#[tokio::test]
async fn an_order_with_a_bad_field_is_refused_by_name() {
    let api = Api::start().await;
    api.product("SKU-407", json!({ "name": "Spoon", "on_hand": 10 }))
        .await;
    let before = api.footprint();
    let valid = order_body("ORD-407", "SKU-407", 1, 1);

    for (path, value, field) in [
        ("quantity", json!(0), "lines[0].quantity"),
        ("quantity", json!(-3), "lines[0].quantity"),
        ("quantity", json!(1.5), "lines[0].quantity"),
        ("sku", json!("SKU-UNKNOWN"), "lines[0].sku"),
        ("unit_price_cents", json!(-1), "lines[0].unit_price_cents"),
        ("email", json!("not-an-email"), "customer.email"),
        ("email", json!("a@b"), "customer.email"),
        ("name", json!(""), "customer.name"),
        ("placed_at", json!("2026-11-22 10:30"), "placed_at"),
        ("placed_at", json!("yesterday"), "placed_at"),
        ("number", json!(""), "number"),
        ("lines", json!([]), "lines"),
    ] {
        let mut body = valid.clone();
        match path {
            "quantity" | "sku" | "unit_price_cents" => body["lines"][0][path] = value,
            "email" | "name" => body["customer"][path] = value,
            _ => body[path] = value,
        }
        let (status, reply) = api.post("/api/v1/orders", &body).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body} gave {status} {reply}"
        );
        assert_error(status, &reply, status, Some(field));
    }
    // A missing field is named where it belongs.
    let mut body = valid.clone();
    body["customer"].as_object_mut().unwrap().remove("email");
    let (status, reply) = api.post("/api/v1/orders", &body).await;
    assert_error(
        status,
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("customer.email"),
    );
    assert_eq!(api.footprint(), before);
}

#[tokio::test]
async fn malformed_json_and_oversized_bodies_get_json_errors() {
    let api = Api::start().await;
    api.product("SKU-408", json!({ "name": "Fork", "on_hand": 10 }))
        .await;
    let before = api.footprint();
    let raw = |body: Vec<u8>| {
        api.app
            .client
            .post(api.app.url("/api/v1/orders"))
            .bearer_auth(&api.token)
            .header("Content-Type", "application/json")
            .body(body)
    };

    let (status, body) = api.send(raw(b"{\"number\": \"ORD-1\", ".to_vec())).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, None);
    let (status, body) = api.send(raw(Vec::new())).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, None);

    let mut huge = order_body("ORD-408", "SKU-408", 1, 1);
    huge["customer"]["name"] = json!("x".repeat(300 * 1024));
    let (status, body) = api.send(raw(serde_json::to_vec(&huge).unwrap())).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, None);

    assert_eq!(api.footprint(), before);
}

#[tokio::test]
async fn every_route_wants_a_valid_token() {
    let api = Api::start().await;
    api.product("SKU-409", json!({ "name": "Plate", "on_hand": 10 }))
        .await;
    api.order("ORD-409", "SKU-409", 1, 1).await;
    let before = api.footprint();
    let client = &api.app.client;
    let routes = |auth: Option<&str>| {
        let order = order_body("ORD-410", "SKU-409", 1, 1);
        let requests = vec![
            client
                .put(api.app.url("/api/v1/products/SKU-409"))
                .json(&json!({ "on_hand": 99 })),
            client.get(api.app.url("/api/v1/products/SKU-409/availability")),
            client.post(api.app.url("/api/v1/purchase-orders")).json(
                &json!({ "reference": "PO-9", "supplier": "S", "expected_on": "2030-01-01",
                         "lines": [{ "sku": "SKU-409", "quantity": 1 }] }),
            ),
            client
                .post(api.app.url("/api/v1/purchase-orders/PO-9/receipts"))
                .json(&json!({ "lines": [{ "sku": "SKU-409", "quantity": 1 }] })),
            client.post(api.app.url("/api/v1/orders")).json(&order),
            client.get(api.app.url("/api/v1/orders/ORD-409")),
            client
                .post(api.app.url("/api/v1/restock-subscriptions"))
                .json(&json!({ "sku": "SKU-409", "email": "a@example.com" })),
        ];
        requests
            .into_iter()
            .map(|request| match auth {
                Some(value) => request.header("Authorization", value),
                None => request,
            })
            .collect::<Vec<_>>()
    };

    let wrong = format!("Bearer bd_{}", "0".repeat(64));
    let cut = format!("Bearer {}", &api.token[..api.token.len() - 1]);
    let basic = format!("Basic {}", api.token);
    for auth in [
        None,
        Some(wrong.as_str()),
        Some(cut.as_str()),
        Some(basic.as_str()),
        Some("Bearer "),
    ] {
        for request in routes(auth) {
            let response = request.send().await.unwrap();
            let status = response.status();
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{auth:?} {:?}",
                response.url().path()
            );
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let body: Value = response.json().await.expect("a JSON 401");
            assert_error(status, &body, StatusCode::UNAUTHORIZED, None);
        }
    }
    assert_eq!(api.footprint(), before);

    // A revoked token stops working.
    api.sql("UPDATE api_tokens SET revoked_at = now()");
    let (status, body) = api.get("/api/v1/orders/ORD-409").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, None);
}

// --- GET /api/v1/orders/{number} ---

#[tokio::test]
async fn a_waiting_line_tells_its_eta_and_why() {
    let api = Api::start().await;
    api.backorderable("SKU-500", 2, 30).await;
    let expected_on = in_days(10);
    api.purchase_order(
        "PO-500",
        expected_on,
        json!([{ "sku": "SKU-500", "quantity": 40 }]),
    )
    .await;

    let placed = api.order("ORD-500", "SKU-500", 7, 10).await;
    api.order("ORD-501", "SKU-500", 3, 5).await;

    let line = &placed["lines"][0];
    let shelf = date_json(expected_on + Duration::days(1));
    assert_eq!(placed["status"], "backordered");
    assert_eq!(line["allocated"], 2);
    assert_eq!(line["waiting"], 5);
    assert_eq!(
        line["eta_likely"], shelf,
        "expected date plus one handling day"
    );
    assert_eq!(
        line["eta_worst"], shelf,
        "no supplier history: likely is worst"
    );
    assert_eq!(line["eta_is_estimate"], false);
    assert_eq!(line["promised_on"], shelf);
    let day = backorder_desk::domain::format::human_date(expected_on, today());
    assert_eq!(
        line["reason"].as_str().unwrap(),
        format!(
            "1st in line for SKU-500; PO-500 brings 40 units on {day}; supplier has no delivery history yet"
        )
    );
    let second = api.order_line("ORD-501").await;
    assert!(
        second["reason"].as_str().unwrap().starts_with(&format!(
            "2nd in line for SKU-500; PO-500 brings 40 units on {day}"
        )),
        "{second}"
    );

    // With the handling days changed, an order joining at the back is dated with them
    // (intake dates only the new line); the lines ahead move at the next dating of the
    // whole queue, here a change of its supply.
    api.sql("UPDATE shop_settings SET handling_days = 3");
    api.order("ORD-502", "SKU-500", 1, 1).await;
    let newest = api.order_line("ORD-502").await;
    assert_eq!(
        newest["eta_worst"],
        date_json(expected_on + Duration::days(3))
    );
    api.purchase_order(
        "PO-501",
        in_days(20),
        json!([{ "sku": "SKU-500", "quantity": 5 }]),
    )
    .await;
    let first = api.order_line("ORD-500").await;
    assert_eq!(
        first["eta_worst"],
        date_json(expected_on + Duration::days(3))
    );
    assert_eq!(first["promised_on"], shelf, "the first date told is kept");
}

#[tokio::test]
async fn a_line_past_all_supply_gets_an_estimate_and_keeps_its_first_promise() {
    let api = Api::start().await;
    api.backorderable("SKU-501", 0, 20).await;

    let placed = api.order("ORD-510", "SKU-501", 5, 5).await;

    let line = &placed["lines"][0];
    let estimate = date_json(in_days(20));
    assert_eq!(line["eta_is_estimate"], true, "{line}");
    assert_eq!(line["eta_likely"], estimate);
    assert_eq!(line["eta_worst"], estimate);
    assert_eq!(line["promised_on"], estimate);
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("20-day lead time"),
        "{line}"
    );

    // A purchase order brings it nearer; the promise stays what the customer was told.
    api.purchase_order(
        "PO-510",
        in_days(4),
        json!([{ "sku": "SKU-501", "quantity": 5 }]),
    )
    .await;
    let line = api.order_line("ORD-510").await;
    assert_eq!(line["eta_is_estimate"], false);
    assert_eq!(line["eta_worst"], date_json(in_days(5)));
    assert_eq!(line["promised_on"], estimate);
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("PO-510 brings 5 units"),
        "{line}"
    );

    // Beyond that purchase order, a second line is an estimate again.
    let later = api.order("ORD-511", "SKU-501", 1, 1).await;
    assert_eq!(later["lines"][0]["eta_is_estimate"], true, "{later}");
    assert_eq!(later["lines"][0]["eta_worst"], estimate);
}

#[tokio::test]
async fn an_unknown_order_is_not_found() {
    let api = Api::start().await;

    let (status, body) = api.get("/api/v1/orders/ORD-NOPE").await;

    assert_error(status, &body, StatusCode::NOT_FOUND, None);
    let (status, body) = api.get("/api/v1/nothing-here").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);
}

// --- GET /api/v1/products/{sku}/availability ---

#[tokio::test]
async fn availability_tells_each_status_with_its_eta() {
    let api = Api::start().await;
    let ships = date_json(in_days(1));
    api.product(
        "SKU-600",
        json!({ "name": "Plenty", "on_hand": 10, "reorder_point": 3 }),
    )
    .await;
    api.product(
        "SKU-601",
        json!({ "name": "Few", "on_hand": 3, "reorder_point": 3 }),
    )
    .await;
    api.product("SKU-602", json!({ "name": "Incoming", "on_hand": 0 }))
        .await;
    api.purchase_order(
        "PO-602",
        in_days(6),
        json!([{ "sku": "SKU-602", "quantity": 5 }]),
    )
    .await;
    api.product(
        "SKU-603",
        json!({ "name": "Gone", "on_hand": 0, "backorderable": false }),
    )
    .await;

    for (sku, status, available, likely) in [
        ("SKU-600", "in_stock", 10, ships.clone()),
        ("SKU-601", "low_stock", 3, ships.clone()),
        ("SKU-602", "backorder", 0, date_json(in_days(7))),
        ("SKU-603", "out_of_stock", 0, Value::Null),
    ] {
        let (code, body) = api
            .get(&format!("/api/v1/products/{sku}/availability"))
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        assert_eq!(
            body,
            json!({ "sku": sku, "status": status, "available": available,
                    "eta_likely": likely, "eta_worst": likely }),
        );
    }

    // An order takes the five coming; past all supply a new order's date is unknown
    // without a supplier lead time, and the lead time from today with one.
    api.order("ORD-602", "SKU-602", 5, 1).await;
    let (_, body) = api.get("/api/v1/products/SKU-602/availability").await;
    assert_eq!(body["status"], "backorder");
    assert_eq!(
        (body["eta_likely"].clone(), body["eta_worst"].clone()),
        (Value::Null, Value::Null),
        "{body}"
    );
    api.backorderable("SKU-602", 0, 12).await;
    let (_, body) = api.get("/api/v1/products/SKU-602/availability").await;
    assert_eq!(body["eta_worst"], date_json(in_days(12)), "{body}");

    let (status, body) = api.get("/api/v1/products/SKU-NOPE/availability").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, None);
}

// --- POST /api/v1/restock-subscriptions ---

#[tokio::test]
async fn a_restock_subscription_is_made_once() {
    let api = Api::start().await;
    api.product("SKU-700", json!({ "name": "Rare", "backorderable": false }))
        .await;
    let body = json!({ "sku": "SKU-700", "email": "fan@example.com" });

    let (status, created) = api.post("/api/v1/restock-subscriptions", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created,
        json!({ "sku": "SKU-700", "email": "fan@example.com", "status": "subscribed" })
    );

    let (status, again) = api
        .post(
            "/api/v1/restock-subscriptions",
            &json!({ "sku": "SKU-700", "email": "FAN@example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(api.count("SELECT count(*) FROM restock_subscriptions"), 1);

    let before = api.footprint();
    for (body, field) in [
        (
            json!({ "sku": "SKU-700", "email": "fan-at-example.com" }),
            "email",
        ),
        (
            json!({ "sku": "SKU-NOPE", "email": "fan@example.com" }),
            "sku",
        ),
        (json!({ "sku": "SKU-700" }), "email"),
    ] {
        let (status, reply) = api.post("/api/v1/restock-subscriptions", &body).await;
        assert_error(
            status,
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(field),
        );
    }
    assert_eq!(api.footprint(), before);
}
