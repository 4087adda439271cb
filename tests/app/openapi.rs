//! The API's contract: `/api/v1/openapi.json` is an OpenAPI 3.1 document, and every
//! `/api/v1` route, called for real (successes and refusals), answers only with statuses
//! the document lists and bodies its schemas describe exactly: every object has the
//! schema's required properties and no property the schema does not name, so a field
//! added to a response without the document changing fails here.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{Api, date_json, in_days};

/// Checks JSON values against the document's schemas (the parts of JSON Schema that
/// utoipa writes), with closed objects.
struct Contract {
    doc: Value,
}

impl Contract {
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let name = reference
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("a $ref into components: {reference}"));
                let target = &self.doc["components"]["schemas"][name];
                assert!(!target.is_null(), "{reference} is not in the document");
                self.resolve(target)
            }
            None => schema,
        }
    }

    fn problems(&self, value: &Value, schema: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        self.check(value, schema, "$", &mut problems);
        problems
    }

    fn check(&self, value: &Value, schema: &Value, at: &str, problems: &mut Vec<String>) {
        let schema = self.resolve(schema);
        for (keyword, needed) in [("oneOf", Some(1)), ("anyOf", None)] {
            if let Some(choices) = schema.get(keyword).and_then(Value::as_array) {
                let fitting = choices
                    .iter()
                    .filter(|choice| self.problems(value, choice).is_empty())
                    .count();
                let fits = match needed {
                    Some(n) => fitting == n,
                    None => fitting > 0,
                };
                if !fits {
                    problems.push(format!(
                        "{at}: {fitting} of the {keyword} choices fit {value}"
                    ));
                }
            }
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.check(value, part, at, problems);
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() {
            let kind = match value {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            let fits = types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
            if !fits {
                problems.push(format!("{at}: a {kind}, the document says {types:?}"));
                return;
            }
        }
        let wrong_format = match (schema.get("format").and_then(Value::as_str), value) {
            (Some("date"), Value::String(text)) => {
                chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err()
            }
            (Some("date-time"), Value::String(text)) => {
                chrono::DateTime::parse_from_rfc3339(text).is_err()
            }
            (Some("int32"), Value::Number(n)) => {
                n.as_i64().is_none_or(|n| i32::try_from(n).is_err())
            }
            _ => false,
        };
        if wrong_format {
            problems.push(format!("{at}: {value} is not a {}", schema["format"]));
        }
        match value {
            // An object the document describes is closed: its properties and no other.
            // (One without properties is free-form: the document itself.)
            Value::Object(object) if schema.get("properties").is_some() => {
                let properties = schema["properties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                for required in schema["required"].as_array().into_iter().flatten() {
                    let name = required.as_str().unwrap();
                    if !object.contains_key(name) {
                        problems.push(format!("{at}.{name} is required but missing"));
                    }
                }
                for (name, item) in object {
                    match properties.get(name) {
                        Some(property) => {
                            self.check(item, property, &format!("{at}.{name}"), problems)
                        }
                        None => problems.push(format!(
                            "{at}.{name} is in the response but not in the document"
                        )),
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item, item_schema, &format!("{at}[{i}]"), problems);
                    }
                }
            }
            _ => {}
        }
    }

    /// The operations the document lists: (method, path template).
    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    /// The schema of the answer `status` to `method template`, failing the test when the
    /// document does not list that answer.
    fn response_schema(&self, method: &str, template: &str, status: StatusCode) -> &Value {
        let operation = &self.doc["paths"][template][method.to_lowercase()];
        assert!(
            !operation.is_null(),
            "{method} {template} is not in the document"
        );
        let response = &operation["responses"][status.as_str()];
        assert!(
            !response.is_null(),
            "{method} {template} answered {status}, which the document does not list"
        );
        &response["content"]["application/json"]["schema"]
    }
}

/// Calls the API and checks each answer against the document.
struct Caller {
    api: Api,
    contract: Contract,
    called: BTreeSet<(String, String)>,
}

impl Caller {
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<Value>,
        token: bool,
    ) -> (StatusCode, Value) {
        let url = self.api.app.url(path);
        let client = &self.api.app.client;
        let mut request = match method {
            "GET" => client.get(url),
            "PUT" => client.put(url),
            "POST" => client.post(url),
            other => panic!("{other}"),
        };
        if token {
            request = request.bearer_auth(&self.api.token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(method, template, request).await
    }

    async fn send(
        &mut self,
        method: &str,
        template: &str,
        request: reqwest::RequestBuilder,
    ) -> (StatusCode, Value) {
        let response = request.send().await.expect("call the API");
        let status = response.status();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {template}: JSON, got {text:?}"));
        let schema = self.contract.response_schema(method, template, status);
        let problems = self.contract.problems(&body, schema);
        assert!(
            problems.is_empty(),
            "{method} {template} {status} does not match the document:\n{}\n{body:#}",
            problems.join("\n")
        );
        self.called.insert((method.to_owned(), template.to_owned()));
        (status, body)
    }
}

async fn contract(api: &Api) -> Contract {
    let response = api
        .app
        .client
        .get(api.app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Backorder Desk API");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    Contract { doc }
}

#[tokio::test]
async fn every_route_answers_as_the_document_says() {
    let api = Api::start().await;
    let contract = contract(&api).await;
    let mut c = Caller {
        api,
        contract,
        called: BTreeSet::new(),
    };
    let (p, a) = (
        "/api/v1/products/{sku}",
        "/api/v1/products/{sku}/availability",
    );

    // Products.
    let kettle = json!({ "name": "Kettle", "supplier": "Acme Supply", "on_hand": 1,
                         "backorderable": true, "reorder_point": 5, "unit_price_cents": 3499,
                         "suppliers": [{ "name": "Acme Supply", "lead_time_days": 9, "unit_cost_cents": 1200,
                                          "contact_email": "orders@acme.example.com" },
                                       { "name": "Beta Parts" }] });
    let (status, _) = c
        .call("PUT", p, "/api/v1/products/KET-001", Some(kettle), true)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = c
        .call(
            "PUT",
            p,
            "/api/v1/products/KET-001",
            Some(json!({ "on_hand": 0 })),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = c
        .call(
            "PUT",
            p,
            "/api/v1/products/KET-002",
            Some(json!({ "on_hand": -1 })),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!body["details"].as_array().unwrap().is_empty());
    let (status, _) = c
        .call("PUT", p, "/api/v1/products/KET-003", Some(json!({})), false)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let request = c
        .api
        .app
        .client
        .put(c.api.app.url("/api/v1/products/KET-004"))
        .bearer_auth(&c.api.token)
        .header("Content-Type", "application/json")
        .body("{not json");
    assert_eq!(c.send("PUT", p, request).await.0, StatusCode::BAD_REQUEST);
    let request = c
        .api
        .app
        .client
        .put(c.api.app.url("/api/v1/products/KET-005"))
        .bearer_auth(&c.api.token)
        .header("Content-Type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(300 * 1024)));
    assert_eq!(
        c.send("PUT", p, request).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (status, _) = c
        .call(
            "GET",
            a,
            "/api/v1/products/KET-001/availability",
            None,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A pre-order: its release day on the product, `preorder` with the dates on availability.
    let game = json!({ "name": "Game", "supplier": "Acme Supply", "on_hand": 3,
                       "preorder_release_on": date_json(in_days(20)) });
    let (status, body) = c
        .call("PUT", p, "/api/v1/products/GAME-1", Some(game), true)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["preorder_release_on"], date_json(in_days(20)));
    let (status, body) = c
        .call("GET", a, "/api/v1/products/GAME-1/availability", None, true)
        .await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("preorder"))
    );
    let (status, body) = c
        .call(
            "PUT",
            p,
            "/api/v1/products/GAME-1",
            Some(json!({ "preorder_release_on": "soon" })),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["details"][0]["field"], "preorder_release_on");
    let (status, body) = c
        .call(
            "PUT",
            p,
            "/api/v1/products/GAME-1",
            Some(json!({ "preorder_release_on": null })),
            true,
        )
        .await;
    assert_eq!(
        (status, body["preorder_release_on"].clone()),
        (StatusCode::OK, json!(null))
    );
    let (status, _) = c
        .call("GET", a, "/api/v1/products/NOPE/availability", None, true)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Purchase orders.
    let po = "/api/v1/purchase-orders";
    let body = json!({ "reference": "PO-1", "supplier": "Acme Supply",
                       "expected_on": date_json(in_days(5)), "lines": [{ "sku": "KET-001", "quantity": 10 }] });
    assert_eq!(
        c.call("POST", po, po, Some(body.clone()), true).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        c.call("POST", po, po, Some(body.clone()), true).await.0,
        StatusCode::OK
    );
    let mut other = body.clone();
    other["lines"][0]["quantity"] = json!(11);
    assert_eq!(
        c.call("POST", po, po, Some(other), true).await.0,
        StatusCode::CONFLICT
    );
    let bad = json!({ "reference": "PO-2", "supplier": "Acme Supply", "expected_on": "soon", "lines": [] });
    assert_eq!(
        c.call("POST", po, po, Some(bad), true).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Orders.
    let orders = "/api/v1/orders";
    let order = json!({ "number": "SO-1", "placed_at": "2026-11-22T10:30:00Z",
                        "customer": { "email": "ana@example.com", "name": "Ana" },
                        "lines": [{ "sku": "KET-001", "quantity": 2, "unit_price_cents": 3499 }],
                        "payment_authorized_until": date_json(in_days(7)) });
    assert_eq!(
        c.call("POST", orders, orders, Some(order.clone()), true)
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        c.call("POST", orders, orders, Some(order.clone()), true)
            .await
            .0,
        StatusCode::OK
    );
    let mut changed = order.clone();
    changed["lines"][0]["quantity"] = json!(3);
    assert_eq!(
        c.call("POST", orders, orders, Some(changed), true).await.0,
        StatusCode::CONFLICT
    );
    let unknown = json!({ "number": "SO-2", "customer": { "email": "ben@example.com", "name": "Ben" },
                          "lines": [{ "sku": "NOPE", "quantity": 1, "unit_price_cents": 100 }] });
    assert_eq!(
        c.call("POST", orders, orders, Some(unknown), true).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let one = "/api/v1/orders/{number}";
    let (status, shown) = c.call("GET", one, "/api/v1/orders/SO-1", None, true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["lines"][0]["waiting"], 2);
    assert_eq!(
        c.call("GET", one, "/api/v1/orders/SO-9", None, true)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Receipts.
    let receipts = "/api/v1/purchase-orders/{reference}/receipts";
    let receive = |key: &str, quantity: i64| {
        c.api
            .app
            .client
            .post(c.api.app.url("/api/v1/purchase-orders/PO-1/receipts"))
            .bearer_auth(&c.api.token)
            .header("Idempotency-Key", key)
            .json(&json!({ "lines": [{ "sku": "KET-001", "quantity": quantity }] }))
    };
    let (first, again, too_many) = (
        receive("dock-1", 4),
        receive("dock-1", 4),
        receive("dock-2", 99),
    );
    let (status, received) = c.send("POST", receipts, first).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(received["allocated"][0]["order"], "SO-1");
    assert_eq!(c.send("POST", receipts, again).await.0, StatusCode::OK);
    assert_eq!(
        c.send("POST", receipts, too_many).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let missing = c
        .api
        .app
        .client
        .post(c.api.app.url("/api/v1/purchase-orders/PO-404/receipts"))
        .bearer_auth(&c.api.token)
        .json(&json!({ "lines": [{ "sku": "KET-001", "quantity": 1 }] }));
    assert_eq!(
        c.send("POST", receipts, missing).await.0,
        StatusCode::NOT_FOUND
    );

    // Restock sign-ups.
    let subs = "/api/v1/restock-subscriptions";
    c.call(
        "PUT",
        p,
        "/api/v1/products/RARE-1",
        Some(json!({ "name": "Rare", "backorderable": false })),
        true,
    )
    .await;
    let signup = json!({ "sku": "RARE-1", "email": "fan@example.com" });
    assert_eq!(
        c.call("POST", subs, subs, Some(signup.clone()), true)
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        c.call("POST", subs, subs, Some(signup), true).await.0,
        StatusCode::OK
    );
    let nobody = json!({ "sku": "RARE-1", "email": "not an email" });
    assert_eq!(
        c.call("POST", subs, subs, Some(nobody), true).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // A product as PUT takes it, alternatives included; 404 for an unknown SKU.
    let product = "/api/v1/products/{sku}";
    let (status, shown) = c
        .call("GET", product, "/api/v1/products/RARE-1", None, true)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["alternatives"], json!([]));
    assert_eq!(
        c.call("GET", product, "/api/v1/products/NOPE-9", None, true)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // The product's suppliers: as PUT takes them, closed like every object.
    let (_, document) = c.api.get("/api/v1/openapi.json").await;
    let entry = &document["components"]["schemas"]["SupplierBody"];
    assert_eq!(entry["additionalProperties"], json!(false), "{entry}");
    let mut fields: Vec<&String> = entry["properties"].as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        ["contact_email", "lead_time_days", "name", "unit_cost_cents"]
    );
    // The supplier's contact address comes back as it is sent (issue 18, part 5).
    let shown = &document["components"]["schemas"]["ProductSupplier"]["properties"];
    assert!(shown.get("contact_email").is_some(), "{shown}");
    let product_suppliers =
        &document["components"]["schemas"]["ProductBody"]["properties"]["suppliers"];
    assert!(
        product_suppliers.to_string().contains("SupplierBody"),
        "{product_suppliers}"
    );

    // The document itself.
    let doc = "/api/v1/openapi.json";
    assert_eq!(c.call("GET", doc, doc, None, false).await.0, StatusCode::OK);

    // Every route the document lists was called, and it lists every route there is.
    assert_eq!(c.called, c.contract.operations());
    let listed: BTreeSet<String> = c.called.iter().map(|(_, path)| path.clone()).collect();
    assert_eq!(
        listed,
        [
            "/api/v1/openapi.json",
            "/api/v1/orders",
            "/api/v1/orders/{number}",
            "/api/v1/products/{sku}",
            "/api/v1/products/{sku}/availability",
            "/api/v1/purchase-orders",
            "/api/v1/purchase-orders/{reference}/receipts",
            "/api/v1/restock-subscriptions",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    );
}

#[tokio::test]
async fn a_field_the_document_does_not_name_is_caught() {
    let api = Api::start().await;
    api.backorderable("KET-001", 0, 10).await;
    let (status, _) = api
        .post(
            "/api/v1/orders",
            &json!({ "number": "SO-1", "customer": { "email": "ana@example.com", "name": "Ana" },
                     "lines": [{ "sku": "KET-001", "quantity": 1, "unit_price_cents": 100 }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let contract = contract(&api).await;
    let (_, order) = api.get("/api/v1/orders/SO-1").await;
    let schema = contract.response_schema("GET", "/api/v1/orders/{number}", StatusCode::OK);
    assert_eq!(contract.problems(&order, schema), Vec::<String>::new());

    // The same answer with a field added to the order and one to a line, one missing, and
    // a status the document does not allow: each is named.
    let mut changed = order.clone();
    changed["priority"] = json!(1);
    changed["lines"][0]["warehouse"] = json!("north");
    changed["lines"][0]
        .as_object_mut()
        .unwrap()
        .remove("waiting");
    changed["status"] = json!("lost");
    let problems = contract.problems(&changed, schema);
    assert!(
        problems
            .iter()
            .any(|p| p == "$.priority is in the response but not in the document"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "$.lines[0].warehouse is in the response but not in the document"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p == "$.lines[0].waiting is required but missing"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("$.status: \"lost\" is not one of")),
        "{problems:?}"
    );
}
