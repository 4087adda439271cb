//! Orders that arrive together are placed together (issue 17, group commit): a burst of
//! storefront orders on one SKU, sent at once over real HTTP from many threads. Each
//! request gets its own answer (201, 200 for the same order again, 409 for another order
//! under a taken number, 422 for an unknown SKU), the refused ones store nothing, the
//! queue is in `placed_at` order and nothing is oversold.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use backorder_desk::db::audit::Actor;
use backorder_desk::error::{AppError, AppResult};
use backorder_desk::services::orders::{NewOrder, NewOrderLine, Placed, place_orders_together};
use backorder_desk::types::{Email, Reference, Sku};
use diesel::connection::InstrumentationEvent;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::Api;

const UNITS: i64 = 3;
const ORDERS: usize = 30;

/// Runs `send` for every body at once, each from its own thread with its own client,
/// all released together; what each returned, in the bodies' order.
pub fn all_at_once<B, T, F, Fut>(bodies: Vec<B>, send: F) -> Vec<T>
where
    B: Send + 'static,
    T: Send + 'static,
    F: Fn(reqwest::Client, B) -> Fut + Send + Clone + 'static,
    Fut: std::future::Future<Output = T>,
{
    let start = Arc::new(Barrier::new(bodies.len()));
    let threads: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (start, send) = (start.clone(), send.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async move {
                    let client = reqwest::Client::new();
                    start.wait();
                    send(client, body).await
                })
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|thread| thread.join().expect("an order thread panicked"))
        .collect()
}

/// Sends every order at once; the answers in the bodies' order.
fn send_all_at_once(url: String, token: String, bodies: Vec<Value>) -> Vec<(u16, Value)> {
    all_at_once(bodies, move |client, body| {
        let (url, token) = (url.clone(), token.clone());
        async move {
            let response = client
                .post(&url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("POST /api/v1/orders");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("a JSON answer with {status}, got {text:?}"));
            (status, body)
        }
    })
}

fn order(number: &str, email: &str, lines: Value) -> Value {
    json!({
        "number": number,
        "customer": { "email": email, "name": "Launch Customer" },
        "lines": lines,
    })
}

fn hot(quantity: i64) -> Value {
    json!([{ "sku": "HOT", "quantity": quantity, "unit_price_cents": 49900 }])
}

#[derive(Debug, QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    number: String,
    #[diesel(sql_type = Int4)]
    allocated: i32,
    #[diesel(sql_type = Int4)]
    waiting: i32,
    #[diesel(sql_type = Nullable<Int4>)]
    queue_position: Option<i32>,
    /// Where the line stands among the product's lines by (`placed_at`, id).
    #[diesel(sql_type = BigInt)]
    arrival: i64,
}

fn hot_lines(api: &Api) -> Vec<Line> {
    diesel::sql_query(
        "SELECT o.number, l.allocated, l.waiting, l.queue_position,
                row_number() OVER (ORDER BY l.placed_at, l.id) AS arrival
           FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN products p ON p.id = l.product_id
          WHERE p.sku = 'HOT' ORDER BY l.placed_at, l.id",
    )
    .load(&mut api.app.conn())
    .expect("the lines")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_on_one_sku_is_placed_together_and_every_request_gets_its_own_answer() {
    let api = Api::start().await;
    api.backorderable("HOT", UNITS, 14).await;
    let mut bodies: Vec<Value> = (0..ORDERS)
        .map(|i| {
            order(
                &format!("HOT-{i:03}"),
                &format!("hot{i}@example.com"),
                hot(1),
            )
        })
        .collect();
    // In the same burst: an order naming a SKU the shop does not sell (in the hot SKU's
    // lane, its first SKU being HOT), the same order twice, and another order under a
    // number that order takes.
    let unknown = bodies.len();
    bodies.push(order(
        "HOT-UNKNOWN",
        "unknown@example.com",
        json!([{ "sku": "HOT", "quantity": 1, "unit_price_cents": 49900 },
               { "sku": "NO-SUCH", "quantity": 1, "unit_price_cents": 100 }]),
    ));
    let twice = [bodies.len(), bodies.len() + 1];
    bodies.push(order("HOT-TWICE", "twice@example.com", hot(1)));
    bodies.push(order("HOT-TWICE", "twice@example.com", hot(1)));
    let clash = [bodies.len(), bodies.len() + 1];
    bodies.push(order("HOT-CLASH", "clash@example.com", hot(1)));
    bodies.push(order("HOT-CLASH", "clash@example.com", hot(2)));

    let url = api.app.url("/api/v1/orders");
    let token = api.token.clone();
    let sent = bodies.clone();
    let answers = tokio::task::spawn_blocking(move || send_all_at_once(url, token, sent))
        .await
        .expect("the order threads");

    // Each plain order: 201 with its own number and its own line.
    for (i, (status, body)) in answers.iter().enumerate().take(ORDERS) {
        assert_eq!(*status, 201, "order {i}: {body}");
        assert_eq!(body["number"], format!("HOT-{i:03}"), "{body}");
        assert_eq!(body["lines"][0]["sku"], "HOT");
        assert_eq!(body["lines"][0]["quantity"], 1);
    }
    // The unknown SKU: 422 naming its line, and nothing of it stored.
    let (status, body) = &answers[unknown];
    crate::api::assert_error(
        StatusCode::from_u16(*status).unwrap(),
        body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("lines[1].sku"),
    );
    assert_eq!(
        api.count("SELECT count(*) FROM orders WHERE number = 'HOT-UNKNOWN'"),
        0
    );
    assert_eq!(
        api.count("SELECT count(*) FROM customers WHERE email = 'unknown@example.com'"),
        0,
        "a refused order stores no customer"
    );
    // The same order twice: stored once; one answer is 201, the other 200 with the same order.
    let mut statuses: Vec<u16> = twice.iter().map(|&i| answers[i].0).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201], "{answers:?}");
    assert_eq!(answers[twice[0]].1, answers[twice[1]].1);
    assert_eq!(
        api.count("SELECT count(*) FROM orders WHERE number = 'HOT-TWICE'"),
        1
    );
    // Two different orders under one number: the first taken, the other 409.
    let mut statuses: Vec<u16> = clash.iter().map(|&i| answers[i].0).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{answers:?}");
    let taken = clash
        .iter()
        .find(|&&i| answers[i].0 == 201)
        .map(|&i| bodies[i]["lines"][0]["quantity"].clone())
        .unwrap();
    assert_eq!(
        api.count("SELECT sum(l.qty)::int8 FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.number = 'HOT-CLASH'"),
        taken.as_i64().unwrap(),
        "the stored order is the one answered 201"
    );

    // Every answer given is what is stored (answers come after the commit).
    for (status, body) in answers.iter().filter(|(status, _)| *status == 201) {
        let number = body["number"].as_str().unwrap();
        let (_, stored) = api.get(&format!("/api/v1/orders/{number}")).await;
        assert_eq!(
            stored["lines"][0]["allocated"], body["lines"][0]["allocated"],
            "{status} {body} vs stored {stored}"
        );
        assert_eq!(stored["lines"][0]["waiting"], body["lines"][0]["waiting"]);
    }

    // Nothing oversold, the units to the earliest, the queue numbered in arrival order.
    let lines = hot_lines(&api);
    let allocated: i32 = lines.iter().map(|l| l.allocated).sum();
    assert_eq!(i64::from(allocated), UNITS, "every unit given, none twice");
    assert_eq!(
        api.count("SELECT (allocated <= on_hand)::int4::int8 FROM products WHERE sku = 'HOT'"),
        1,
        "oversold"
    );
    for line in &lines {
        if line.allocated > 0 {
            assert!(
                line.arrival <= UNITS,
                "{} got a unit though it came {}th",
                line.number,
                line.arrival
            );
        }
    }
    let waiting: Vec<&Line> = lines.iter().filter(|l| l.waiting > 0).collect();
    let positions: Vec<Option<i32>> = waiting.iter().map(|l| l.queue_position).collect();
    let expected: Vec<Option<i32>> = (1..=waiting.len() as i32).map(Some).collect();
    assert_eq!(
        positions, expected,
        "places 1, 2, 3, ... in placed_at order"
    );
    let broken = crate::engine_db::broken_invariants(&mut api.app.conn());
    assert!(broken.is_empty(), "{broken:#?}");

    // And they were placed together: fewer transactions than orders (`created_at` is the
    // time its transaction began).
    let orders = api.count("SELECT count(*) FROM orders WHERE number LIKE 'HOT-%'");
    let transactions =
        api.count("SELECT count(DISTINCT created_at) FROM orders WHERE number LIKE 'HOT-%'");
    assert_eq!(orders, ORDERS as i64 + 2);
    assert!(
        transactions < orders,
        "{orders} orders in {transactions} transactions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_for_many_skus_at_once_are_each_placed_in_their_lane() {
    let api = Api::start().await;
    let skus: Vec<String> = (0..8).map(|i| format!("SKU-{i}")).collect();
    for sku in &skus {
        api.backorderable(sku, 1, 10).await;
    }
    let bodies: Vec<Value> = (0..40)
        .map(|i| {
            let sku = &skus[i % skus.len()];
            order(
                &format!("MANY-{i:03}"),
                &format!("many{i}@example.com"),
                json!([{ "sku": sku, "quantity": 1, "unit_price_cents": 100 },
                       { "sku": skus[(i + 3) % skus.len()], "quantity": 1, "unit_price_cents": 100 }]),
            )
        })
        .collect();
    let url = api.app.url("/api/v1/orders");
    let token = api.token.clone();
    let answers = tokio::task::spawn_blocking(move || send_all_at_once(url, token, bodies))
        .await
        .expect("the order threads");

    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 201, "order {i}: {body}");
        assert_eq!(body["number"], format!("MANY-{i:03}"));
    }
    assert_eq!(
        api.count("SELECT count(*) FROM orders WHERE number LIKE 'MANY-%'"),
        40
    );
    // Each SKU's one unit went to its earliest line, and its queue is in arrival order.
    assert_eq!(
        api.count(
            "SELECT count(*) FROM (
               SELECT l.product_id, l.allocated,
                      row_number() OVER (PARTITION BY l.product_id ORDER BY l.placed_at, l.id) AS n,
                      l.queue_position,
                      row_number() OVER (PARTITION BY l.product_id, l.waiting > 0 ORDER BY l.placed_at, l.id) AS w,
                      l.waiting
                 FROM order_lines l) x
              WHERE (allocated > 0 AND n <> 1) OR (waiting > 0 AND queue_position IS DISTINCT FROM w::int4)"
        ),
        0,
        "a unit out of turn or a place out of order"
    );
    let broken = crate::engine_db::broken_invariants(&mut api.app.conn());
    assert!(broken.is_empty(), "{broken:#?}");
}

fn new_order(number: &str, email: &str, lines: &[(&str, i32)], hash: &str) -> NewOrder {
    NewOrder {
        number: Reference::parse(number).expect("an order number"),
        placed_at: None,
        customer_email: Email::parse(email).expect("an email"),
        customer_name: "Batch Customer".to_owned(),
        lines: lines
            .iter()
            .map(|(sku, quantity)| NewOrderLine {
                sku: Sku::parse(sku).expect("a SKU"),
                quantity: *quantity,
                unit_price_cents: 4900,
            })
            .collect(),
        payment_authorized_until: None,
        max_wait_until: None,
        request_hash: hash.to_owned(),
    }
}

fn api_actor() -> Actor {
    Actor::Api {
        token_name: "storefront".to_owned(),
    }
}

/// What each answer of a batch is, in words a test compares: the HTTP status it becomes
/// and the order's number when there is one.
fn answer(result: &AppResult<Placed>) -> (u16, Option<String>) {
    match result {
        Ok(Placed::Created(view)) => (201, Some(view.number.clone())),
        Ok(Placed::AlreadyStored(view)) => (200, Some(view.number.clone())),
        Err(AppError::Conflict(_)) => (409, None),
        Err(AppError::Invalid { .. }) => (422, None),
        Err(other) => panic!("an unexpected answer: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_refused_repeated_clashing_and_good_orders_each_as_alone() {
    let api = Api::start().await;
    api.backorderable("HOT", 2, 14).await;
    let mut conn = api.app.conn();
    let today = backorder_desk::clock::today();
    // Stored before the batch: the same request comes again, another clashes with it.
    let before = place_orders_together(
        &mut conn,
        vec![(
            api_actor(),
            new_order("B-STORED", "stored@example.com", &[("HOT", 1)], "h-stored"),
        )],
        today,
    );
    assert_eq!(answer(&before[0]), (201, Some("B-STORED".to_owned())));

    let batch = vec![
        new_order("B-1", "one@example.com", &[("HOT", 1)], "h-1"),
        new_order(
            "B-UNKNOWN",
            "unknown@example.com",
            &[("HOT", 1), ("NO-SUCH", 1)],
            "h-u",
        ),
        new_order("B-STORED", "stored@example.com", &[("HOT", 1)], "h-stored"),
        new_order("B-STORED", "other@example.com", &[("HOT", 2)], "h-other"),
        new_order("B-2", "Two@Example.com", &[("HOT", 2)], "h-2"),
        new_order("B-2", "two@example.com", &[("HOT", 2)], "h-2"),
        new_order("B-2", "two@example.com", &[("HOT", 3)], "h-2b"),
        new_order("B-3", "two@example.com", &[("HOT", 1), ("HOT", 1)], "h-3"),
    ];
    let answers: Vec<(u16, Option<String>)> = place_orders_together(
        &mut conn,
        batch
            .into_iter()
            .map(|order| (api_actor(), order))
            .collect(),
        today,
    )
    .iter()
    .map(answer)
    .collect();
    let some = |n: &str| Some(n.to_owned());
    assert_eq!(
        answers,
        [
            (201, some("B-1")),
            (422, None),
            (200, some("B-STORED")),
            (409, None),
            (201, some("B-2")),
            (200, some("B-2")),
            (409, None),
            (201, some("B-3")),
        ]
    );
    assert_eq!(
        api.count("SELECT count(*) FROM orders WHERE number = 'B-UNKNOWN'"),
        0
    );
    assert_eq!(
        api.count("SELECT count(*) FROM customers WHERE email = 'unknown@example.com'"),
        0,
        "a refused order stores no customer"
    );
    assert_eq!(
        api.count("SELECT count(*) FROM customers WHERE lower(email) = 'two@example.com'"),
        1,
        "one customer, however the email is written"
    );
    assert_eq!(
        api.count("SELECT count(*) FROM messages WHERE kind = 'backorder_notice'"),
        2,
        "a backorder notice to each order that waits (B-2, B-3), and only once"
    );
    // The two units went to the first two orders, the rest wait in arrival order.
    let lines = hot_lines(&api);
    let numbers: Vec<(&str, i32, i32, Option<i32>)> = lines
        .iter()
        .map(|l| (l.number.as_str(), l.allocated, l.waiting, l.queue_position))
        .collect();
    assert_eq!(
        numbers,
        [
            ("B-STORED", 1, 0, None),
            ("B-1", 1, 0, None),
            ("B-2", 0, 2, Some(1)),
            ("B-3", 0, 1, Some(2)),
            ("B-3", 0, 1, Some(3)),
        ]
    );
    assert_eq!(
        api.count(
            "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id
              WHERE o.number LIKE 'B-%' AND l.waiting > 0 AND l.eta_worst IS NULL"
        ),
        0,
        "every waiting line has its date"
    );
    let broken = crate::engine_db::broken_invariants(&mut conn);
    assert!(broken.is_empty(), "{broken:#?}");
}

/// Counts the statements a connection sends, BEGIN and COMMIT included.
fn counting(conn: &mut PgConnection) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { .. } = event {
            seen.fetch_add(1, Ordering::Relaxed);
        }
    });
    count
}

/// Places batches of `sizes` orders of 1 unit, each for a new customer, the i-th order of
/// the whole run on `sku(i)`; the statements each batch cost, in order.
fn statements_per_batch(
    conn: &mut PgConnection,
    prefix: &str,
    sizes: &[usize],
    sku: impl Fn(usize) -> String,
) -> Vec<usize> {
    let today = backorder_desk::clock::today();
    let mut next = 0;
    let mut statements = Vec::new();
    for (batch, &size) in sizes.iter().enumerate() {
        let orders = (0..size)
            .map(|i| {
                let (number, sku) = (format!("{prefix}-{batch}-{i}"), sku(next));
                next += 1;
                let email = format!("{}{batch}-{i}@example.com", prefix.to_lowercase());
                (
                    api_actor(),
                    new_order(&number, &email, &[(&sku, 1)], &number),
                )
            })
            .collect();
        let count = counting(conn);
        let placed = place_orders_together(conn, orders, today);
        assert!(placed.iter().all(|p| matches!(p, Ok(Placed::Created(_)))));
        statements.push(count.load(Ordering::Relaxed));
        eprintln!(
            "{prefix}: a batch of {size} orders: {} statements",
            statements.last().unwrap()
        );
    }
    statements
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_costs_the_same_statements_whatever_its_size() {
    let api = Api::start().await;
    api.backorderable("HOT", 0, 14).await;
    let mut conn = api.app.conn();
    let statements = statements_per_batch(&mut conn, "S", &[1, 1, 8, 8, 32], |_| "HOT".to_owned());
    // The first batch reads what later ones find cached; after it, size costs nothing.
    assert_eq!(
        statements[3], statements[4],
        "8 orders vs 32: {statements:?}"
    );

    // Orders served from the shelf, each on a SKU of its own (a lane's mix of a sale).
    for i in 0..41 {
        api.product(
            &format!("SHELF-{i}"),
            json!({ "name": "On the shelf", "on_hand": 5 }),
        )
        .await;
    }
    let shelf = statements_per_batch(&mut conn, "F", &[1, 8, 32], |i| format!("SHELF-{i}"));
    assert_eq!(shelf[1], shelf[2], "8 orders vs 32: {shelf:?}");
    let broken = crate::engine_db::broken_invariants(&mut conn);
    assert!(broken.is_empty(), "{broken:#?}");
}

/// Random SKUs (a sale over the catalogue): each order of a batch on a backordered SKU of
/// its own, with lines already waiting ahead and two alternatives to offer (one waiting
/// too, one on the shelf). Dating the new lines and offering the alternatives cost the
/// same statements for 1, 8 or 32 products.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_many_backordered_skus_costs_the_same_statements_whatever_its_size() {
    let api = Api::start().await;
    api.backorderable("ALT-WAIT", 0, 7).await;
    api.product(
        "ALT-SHELF",
        json!({ "name": "On the shelf", "on_hand": 1000 }),
    )
    .await;
    let sizes = [1, 1, 8, 32];
    let skus: Vec<String> = (0..sizes.iter().sum::<usize>())
        .map(|i| format!("WIDE-{i}"))
        .collect();
    for (i, sku) in skus.iter().enumerate() {
        api.backorderable(sku, 0, 14).await;
        let alternatives = if i % 2 == 0 {
            ["ALT-WAIT", "ALT-SHELF"]
        } else {
            ["ALT-SHELF", "ALT-WAIT"]
        };
        api.product(sku, json!({ "alternatives": alternatives }))
            .await;
    }
    let mut conn = api.app.conn();
    let today = backorder_desk::clock::today();
    // A line waits on every SKU, and on the waiting alternative, before the batches.
    let ahead: Vec<(Actor, NewOrder)> = skus
        .iter()
        .chain([&"ALT-WAIT".to_owned()])
        .map(|sku| {
            let number = format!("AHEAD-{sku}");
            let email = format!("ahead-{}@example.com", sku.to_lowercase());
            (
                api_actor(),
                new_order(&number, &email, &[(sku, 2)], &number),
            )
        })
        .collect();
    let placed = place_orders_together(&mut conn, ahead, today);
    assert!(placed.iter().all(|p| matches!(p, Ok(Placed::Created(_)))));

    let statements = statements_per_batch(&mut conn, "W", &sizes, |i| skus[i].clone());
    // The first batch reads what later ones find cached; after it, size costs nothing.
    assert_eq!(
        (statements[1], statements[2]),
        (statements[3], statements[3]),
        "1, 8 and 32 products: {statements:?}"
    );
    assert_eq!(
        api.count(
            "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id
              WHERE o.number LIKE 'W-%' AND (l.waiting <> 1 OR l.queue_position <> 2 OR l.eta_worst IS NULL)"
        ),
        0,
        "every new line waits second in its queue, dated"
    );
    assert_eq!(
        api.count("SELECT count(*) FROM messages WHERE kind = 'backorder_notice'"),
        api.count("SELECT count(*) FROM orders"),
        "a backorder notice to every order"
    );
    // The alternative on the shelf ships sooner than a 14-day wait: offered to every
    // order waiting on a SKU that lists it.
    assert_eq!(
        api.count("SELECT count(*) FROM messages WHERE kind = 'backorder_notice' AND body_text LIKE '%ALT-SHELF%'"),
        api.count(
            "SELECT count(DISTINCT l.order_id) FROM order_lines l
               JOIN product_alternatives a ON a.product_id = l.product_id
               JOIN products p ON p.id = a.alternative_id WHERE p.sku = 'ALT-SHELF'"
        ),
        "the shelf's alternative offered in every notice of its SKUs"
    );
    let broken = crate::engine_db::broken_invariants(&mut conn);
    assert!(broken.is_empty(), "{broken:#?}");
}
