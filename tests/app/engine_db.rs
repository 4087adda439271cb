//! The backorder engine against PostgreSQL: the queue is served in its order, shipping
//! and cancelling move units the way the design says, and many events at once on a few
//! products leave every invariant true in the database.

use std::sync::{Arc, Mutex};

use backorder_desk::db::audit::Actor;
use backorder_desk::error::AppError;
use backorder_desk::services::inventory::catalog::{self, ProductChanges};
use backorder_desk::services::orders::fulfilment;
use backorder_desk::services::orders::{self, NewOrder, NewOrderLine};
use backorder_desk::services::purchasing::{self, NewPurchaseOrder, ReceiptLine};
use backorder_desk::types::{Email, Reference, Sku};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{Api, in_days, today};
use crate::helpers::TestDatabase;

fn line_id(api: &Api, number: &str) -> i64 {
    api.count(&format!(
        "SELECT l.id FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.number = '{number}'"
    ))
}

fn units(line: &Value) -> (i64, i64, i64, i64) {
    (
        line["allocated"].as_i64().unwrap(),
        line["shipped"].as_i64().unwrap(),
        line["cancelled"].as_i64().unwrap(),
        line["waiting"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_receipt_serves_the_oldest_waiting_orders_first() {
    let api = Api::start().await;
    api.backorderable("SKU-Q1", 0, 30).await;
    api.purchase_order(
        "PO-Q1",
        in_days(5),
        json!([{ "sku": "SKU-Q1", "quantity": 10 }]),
    )
    .await;
    api.order("ORD-NEWEST", "SKU-Q1", 2, 10).await;
    api.order("ORD-OLDEST", "SKU-Q1", 2, 30).await;
    api.order("ORD-MIDDLE", "SKU-Q1", 2, 20).await;

    let (status, receipt) = api
        .receive("PO-Q1", "r1", json!([{ "sku": "SKU-Q1", "quantity": 4 }]))
        .await;

    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(units(&api.order_line("ORD-OLDEST").await), (2, 0, 0, 0));
    assert_eq!(units(&api.order_line("ORD-MIDDLE").await), (2, 0, 0, 0));
    let newest = api.order_line("ORD-NEWEST").await;
    assert_eq!(units(&newest), (0, 0, 0, 2));
    assert!(
        newest["reason"]
            .as_str()
            .unwrap()
            .starts_with("1st in line for SKU-Q1; PO-Q1 brings 6 units"),
        "{newest}"
    );
}

#[tokio::test]
async fn with_tier_first_a_higher_tier_customer_is_served_first() {
    let api = Api::start().await;
    api.sql("UPDATE shop_settings SET queue_tier_first = true");
    api.backorderable("SKU-Q2", 0, 30).await;
    api.purchase_order(
        "PO-Q2",
        in_days(5),
        json!([{ "sku": "SKU-Q2", "quantity": 10 }]),
    )
    .await;
    api.order("ORD-OLD", "SKU-Q2", 2, 30).await;
    api.order("ORD-MID", "SKU-Q2", 2, 20).await;
    api.order("ORD-VIP", "SKU-Q2", 2, 10).await;
    api.sql("UPDATE customers SET tier = 2 WHERE email = 'ord-vip@example.com'");

    let (status, receipt) = api
        .receive("PO-Q2", "r1", json!([{ "sku": "SKU-Q2", "quantity": 4 }]))
        .await;

    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(
        receipt["allocated"],
        json!([{ "order": "ORD-VIP", "sku": "SKU-Q2", "quantity": 2 },
               { "order": "ORD-OLD", "sku": "SKU-Q2", "quantity": 2 }])
    );
    assert_eq!(units(&api.order_line("ORD-VIP").await), (2, 0, 0, 0));
    assert_eq!(units(&api.order_line("ORD-OLD").await), (2, 0, 0, 0));
    assert_eq!(units(&api.order_line("ORD-MID").await), (0, 0, 0, 2));
}

#[tokio::test]
async fn shipping_ships_only_what_is_allocated_and_the_rest_stays_queued() {
    let api = Api::start().await;
    api.backorderable("SKU-S1", 3, 30).await;
    api.purchase_order(
        "PO-S1",
        in_days(5),
        json!([{ "sku": "SKU-S1", "quantity": 10 }]),
    )
    .await;
    api.order("ORD-S1", "SKU-S1", 5, 10).await;

    let shipment =
        fulfilment::ship_allocated(&mut api.app.conn(), &Actor::System, "ORD-S1", today())
            .expect("ship what is allocated");

    assert!(shipment.is_partial);
    assert_eq!(shipment.lines, vec![("SKU-S1".to_owned(), 3)]);
    let (_, order) = api.get("/api/v1/orders/ORD-S1").await;
    assert_eq!(order["status"], "backordered");
    assert_eq!(units(&order["lines"][0]), (0, 3, 0, 2));
    assert!(
        order["lines"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("1st in line")
    );
    let (_, product) = api.put("/api/v1/products/SKU-S1", &json!({})).await;
    assert_eq!(
        (product["on_hand"].clone(), product["allocated"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(product["waiting"], 2);
    assert_eq!(
        api.count("SELECT count(*) FROM stock_movements WHERE reason = 'shipment' AND on_hand_delta = -3 AND allocated_delta = -3"),
        1
    );
    let nothing =
        fulfilment::ship_allocated(&mut api.app.conn(), &Actor::System, "ORD-S1", today());
    assert!(matches!(nothing, Err(AppError::Conflict(_))), "{nothing:?}");

    api.receive("PO-S1", "r1", json!([{ "sku": "SKU-S1", "quantity": 2 }]))
        .await;
    let rest = fulfilment::ship_allocated(&mut api.app.conn(), &Actor::System, "ORD-S1", today())
        .expect("ship the rest");
    assert!(!rest.is_partial);
    let (_, order) = api.get("/api/v1/orders/ORD-S1").await;
    assert_eq!(order["status"], "shipped");
    assert_eq!(units(&order["lines"][0]), (0, 5, 0, 0));
    assert_eq!(
        api.count("SELECT count(*) FROM orders WHERE payment_state = 'captured'"),
        1
    );
}

#[tokio::test]
async fn cancelling_an_allocated_line_releases_its_units_to_the_next_in_line() {
    let api = Api::start().await;
    api.backorderable("SKU-C1", 4, 30).await;
    api.order("ORD-FIRST", "SKU-C1", 4, 30).await;
    api.order("ORD-SECOND", "SKU-C1", 3, 20).await;
    api.order("ORD-THIRD", "SKU-C1", 2, 10).await;

    // Waiting units go first: cancelling 1 of the third's 2 touches no stock.
    let partial = fulfilment::cancel_line(
        &mut api.app.conn(),
        &Actor::System,
        line_id(&api, "ORD-THIRD"),
        Some(1),
        "customer asked",
        today(),
    )
    .expect("cancel one waiting unit");
    assert_eq!((partial.cancelled, partial.released), (1, 0));
    assert_eq!(units(&api.order_line("ORD-THIRD").await), (0, 0, 1, 1));

    let cancelled = fulfilment::cancel_line(
        &mut api.app.conn(),
        &Actor::System,
        line_id(&api, "ORD-FIRST"),
        None,
        "customer asked",
        today(),
    )
    .expect("cancel the allocated line");

    assert_eq!((cancelled.cancelled, cancelled.released), (4, 4));
    let (_, first) = api.get("/api/v1/orders/ORD-FIRST").await;
    assert_eq!(first["status"], "cancelled");
    assert_eq!(units(&first["lines"][0]), (0, 0, 4, 0));
    assert_eq!(units(&api.order_line("ORD-SECOND").await), (3, 0, 0, 0));
    assert_eq!(units(&api.order_line("ORD-THIRD").await), (1, 0, 1, 0));
    let (_, product) = api.get("/api/v1/products/SKU-C1/availability").await;
    assert_eq!(product["available"], 0);
    assert_eq!(
        api.count(
            "SELECT sum(allocated_delta)::int8 FROM stock_movements WHERE reason = 'release'"
        ),
        -4
    );

    let again = fulfilment::cancel_line(
        &mut api.app.conn(),
        &Actor::System,
        line_id(&api, "ORD-FIRST"),
        None,
        "again",
        today(),
    );
    assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
}

// --- Many events at once ---

const SKUS: [&str; 3] = ["SKU-X1", "SKU-X2", "SKU-X3"];
const THREADS: usize = 8;
const EVENTS_PER_THREAD: usize = 30;
const PURCHASE_ORDERS: usize = 6;

/// A refusal the shop gives on purpose (more than outstanding, nothing left to cancel...)
/// is fine under contention; anything else (a deadlock, a broken constraint) is a bug.
fn is_refusal(error: &AppError) -> bool {
    matches!(
        error,
        AppError::Invalid { .. } | AppError::Conflict(_) | AppError::NotFound(_)
    )
}

fn sku(raw: &str) -> Sku {
    Sku::parse(raw).unwrap()
}

fn product(raw: &str, on_hand: i32) -> ProductChanges {
    ProductChanges {
        sku: sku(raw),
        name: Some(format!("Product {raw}")),
        supplier: Some("Acme Supply".to_owned()),
        on_hand: Some(on_hand),
        backorderable: Some(true),
        reorder_point: None,
        safety_stock: None,
        unit_price_cents: Some(1000),
        suppliers: None,
        preorder_release_on: None,
        alternatives: None,
    }
}

fn first_text(conn: &mut PgConnection, query: &str) -> Option<String> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        value: String,
    }
    diesel::sql_query(query)
        .get_result::<Row>(conn)
        .optional()
        .expect(query)
        .map(|row| row.value)
}

fn first_id(conn: &mut PgConnection, query: &str) -> Option<i64> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        value: i64,
    }
    diesel::sql_query(query)
        .get_result::<Row>(conn)
        .optional()
        .expect(query)
        .map(|row| row.value)
}

/// One thread's share of the events; returns what went wrong that should not have.
fn run_events(
    database_url: String,
    thread: usize,
    placing: Arc<Mutex<()>>,
) -> (Vec<String>, [usize; 6]) {
    let mut conn = PgConnection::establish(&database_url).expect("connect");
    let mut rng = StdRng::seed_from_u64(thread as u64);
    let actor = Actor::System;
    let mut failures = Vec::new();
    let mut done = [0usize; 6];
    for event in 0..EVENTS_PER_THREAD {
        let kind = match rng.random_range(0..100) {
            0..32 => 0,
            32..50 => 1,
            50..60 => 2,
            60..78 => 3,
            78..93 => 4,
            _ => 5,
        };
        let outcome: Result<(), AppError> = match kind {
            0 => {
                // Orders are stamped and placed one group at a time, so queue order
                // (placed_at) is arrival order and the served-in-order check below is
                // exact. Every other event still runs against them concurrently. A group
                // of several is placed together, as the API's lanes place a burst.
                let turn = placing.lock().unwrap();
                let group: Vec<(Actor, NewOrder)> = (0..rng.random_range(1..=4))
                    .map(|k| {
                        let lines = (0..rng.random_range(1..=3))
                            .map(|_| NewOrderLine {
                                sku: sku(SKUS[rng.random_range(0..SKUS.len())]),
                                quantity: rng.random_range(1..=4),
                                unit_price_cents: 1000,
                            })
                            .collect();
                        let customer = rng.random_range(0..10);
                        let order = NewOrder {
                            number: Reference::parse(&format!("T{thread}-{event}-{k}")).unwrap(),
                            placed_at: Some(Utc::now()),
                            customer_email: Email::parse(&format!("c{customer}@example.com"))
                                .unwrap(),
                            customer_name: format!("Customer {customer}"),
                            lines,
                            payment_authorized_until: None,
                            max_wait_until: None,
                            request_hash: format!("hash-{thread}-{event}-{k}"),
                        };
                        (actor.clone(), order)
                    })
                    .collect();
                let placed = orders::place_orders_together(&mut conn, group, today())
                    .into_iter()
                    .map(|placed| placed.map(|_| ()))
                    .find(Result::is_err)
                    .unwrap_or(Ok(()));
                drop(turn);
                placed
            }
            1 => {
                let po = rng.random_range(0..PURCHASE_ORDERS);
                let mut lines: Vec<ReceiptLine> = Vec::new();
                for raw in SKUS {
                    if rng.random_bool(0.5) {
                        lines.push(ReceiptLine {
                            sku: sku(raw),
                            quantity: rng.random_range(1..=8),
                        });
                    }
                }
                if lines.is_empty() {
                    lines.push(ReceiptLine {
                        sku: sku(SKUS[0]),
                        quantity: 3,
                    });
                }
                // Now and then the same delivery is sent twice, maybe by two threads at once.
                let key = if rng.random_bool(0.25) {
                    format!("shared-{po}-{}", rng.random_range(0..3))
                } else {
                    format!("delivery-t{thread}-e{event}")
                };
                purchasing::receive::receive(
                    &mut conn,
                    &actor,
                    &format!("PO-X{po}"),
                    lines,
                    Some(key),
                    today(),
                )
                .map(|_| ())
            }
            2 => {
                let raw = SKUS[rng.random_range(0..SKUS.len())];
                let current = backorder_desk::db::stock::find_by_sku(&mut conn, raw)
                    .expect("read a product")
                    .expect("the product")
                    .on_hand;
                let mut changes = product(raw, current + rng.random_range(1..=5));
                changes.name = None;
                // A storefront may send the supplier every time: that locks the supplier's
                // row before the product's, as creating a purchase order does.
                if rng.random_bool(0.5) {
                    changes.supplier = None;
                }
                catalog::upsert_product(&mut conn, &actor, changes, today()).map(|_| ())
            }
            3 => match first_id(
                &mut conn,
                "SELECT id AS value FROM order_lines WHERE qty > shipped + cancelled ORDER BY random() LIMIT 1",
            ) {
                Some(line) => {
                    let units = rng.random_bool(0.5).then(|| rng.random_range(1..=3));
                    fulfilment::cancel_line(&mut conn, &actor, line, units, "test", today())
                        .map(|_| ())
                }
                None => Ok(()),
            },
            4 => match first_text(
                &mut conn,
                "SELECT o.number AS value FROM orders o JOIN order_lines l ON l.order_id = o.id
                  WHERE l.allocated > 0 ORDER BY random() LIMIT 1",
            ) {
                Some(number) => {
                    fulfilment::ship_allocated(&mut conn, &actor, &number, today()).map(|_| ())
                }
                None => Ok(()),
            },
            _ => {
                // A purchase order placed while stock moves, its lines in any order.
                let mut lines: Vec<(Sku, i32)> = Vec::new();
                for raw in SKUS {
                    if rng.random_bool(0.7) {
                        lines.push((sku(raw), rng.random_range(1..=10)));
                    }
                }
                if rng.random_bool(0.5) {
                    lines.reverse();
                }
                if lines.is_empty() {
                    lines.push((sku(SKUS[2]), 5));
                }
                purchasing::create_purchase_order(
                    &mut conn,
                    &actor,
                    NewPurchaseOrder {
                        reference: Reference::parse(&format!("PO-T{thread}-{event}")).unwrap(),
                        supplier: "Acme Supply".to_owned(),
                        expected_on: today() + Duration::days(rng.random_range(1..=20)),
                        lines,
                    },
                    today(),
                )
                .map(|_| ())
            }
        };
        match outcome {
            Ok(()) => done[kind] += 1,
            Err(error) if is_refusal(&error) => {}
            Err(error) => failures.push(format!(
                "thread {thread} event {event} (kind {kind}): {error:?}"
            )),
        }
    }
    (failures, done)
}

/// Rows of a query that must return none; each row is one broken invariant, described.
fn violations(conn: &mut PgConnection, what: &str, query: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        value: String,
    }
    diesel::sql_query(query)
        .load::<Row>(conn)
        .expect(query)
        .into_iter()
        .map(|row| format!("{what}: {}", row.value))
        .collect()
}

#[test]
fn many_events_at_once_keep_every_invariant_in_the_database() {
    let database = TestDatabase::new();
    let mut conn = database.connect();
    let actor = Actor::System;
    for raw in SKUS {
        catalog::upsert_product(&mut conn, &actor, product(raw, 5), today()).expect("a product");
    }
    diesel::sql_query("UPDATE suppliers SET lead_time_days = 14")
        .execute(&mut conn)
        .unwrap();
    for po in 0..PURCHASE_ORDERS {
        purchasing::create_purchase_order(
            &mut conn,
            &actor,
            NewPurchaseOrder {
                reference: Reference::parse(&format!("PO-X{po}")).unwrap(),
                supplier: "Acme Supply".to_owned(),
                expected_on: today() + Duration::days(3 + po as i64),
                lines: SKUS.iter().map(|raw| (sku(raw), 15)).collect(),
            },
            today(),
        )
        .expect("a purchase order");
    }

    let placing = Arc::new(Mutex::new(()));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let url = database.url.clone();
            let placing = placing.clone();
            std::thread::spawn(move || run_events(url, thread, placing))
        })
        .collect();
    let mut failures = Vec::new();
    let mut done = [0usize; 6];
    for handle in handles {
        let (thread_failures, thread_done) = handle.join().expect("a thread panicked");
        failures.extend(thread_failures);
        for (total, n) in done.iter_mut().zip(thread_done) {
            *total += n;
        }
    }
    assert!(
        failures.is_empty(),
        "events failed:\n{}",
        failures.join("\n")
    );
    // Each kind of event happened, so the checks below are about something.
    assert!(
        done.iter().all(|&n| n > 3),
        "events done per kind: {done:?}"
    );

    let broken = broken_invariants(&mut conn);
    assert!(
        broken.is_empty(),
        "invariants broken:\n{}",
        broken.join("\n")
    );
}

/// Every invariant of the stock and the queue that the database breaks, described; empty
/// when all hold. Other test modules check the database with it after a fault.
pub fn broken_invariants(conn: &mut PgConnection) -> Vec<String> {
    let mut broken = Vec::new();
    broken.extend(violations(
        conn,
        "allocated differs from its lines (a unit allocated twice or lost)",
        "SELECT p.sku || ' allocated ' || p.allocated || ', lines ' || coalesce(sum(l.allocated), 0) AS value
           FROM products p LEFT JOIN order_lines l ON l.product_id = p.id
          GROUP BY p.id HAVING p.allocated <> coalesce(sum(l.allocated), 0)",
    ));
    broken.extend(violations(
        conn,
        "more allocated than on hand",
        "SELECT sku || ' ' || allocated || ' > ' || on_hand AS value FROM products WHERE allocated > on_hand",
    ));
    broken.extend(violations(
        conn,
        "the ledger does not sum to the stock columns",
        "SELECT p.sku || ' on_hand ' || p.on_hand || '/' || coalesce(sum(m.on_hand_delta), 0)
                || ' allocated ' || p.allocated || '/' || coalesce(sum(m.allocated_delta), 0) AS value
           FROM products p LEFT JOIN stock_movements m ON m.product_id = p.id
          GROUP BY p.id
         HAVING p.on_hand <> coalesce(sum(m.on_hand_delta), 0)
             OR p.allocated <> coalesce(sum(m.allocated_delta), 0)",
    ));
    broken.extend(violations(
        conn,
        "waiting counters differ from the lines",
        "SELECT p.sku || ' units ' || p.waiting_units || '/' || coalesce(w.units, 0)
                || ' lines ' || p.waiting_lines || '/' || coalesce(w.lines, 0) AS value
           FROM products p
           LEFT JOIN (SELECT product_id, sum(qty - allocated - shipped - cancelled) AS units,
                             count(*) AS lines
                        FROM order_lines WHERE qty > allocated + shipped + cancelled
                       GROUP BY product_id) w ON w.product_id = p.id
          WHERE p.waiting_units <> coalesce(w.units, 0) OR p.waiting_lines <> coalesce(w.lines, 0)",
    ));
    broken.extend(violations(
        conn,
        "free units while someone waits",
        "SELECT sku || ' available ' || (on_hand - allocated) || ', waiting ' || waiting_units AS value
           FROM products WHERE on_hand > allocated AND waiting_units > 0",
    ));
    broken.extend(violations(
        conn,
        "a line served before an older line that still waits",
        "SELECT p.sku || ': ' || lo.number || ' waits ' || (a.qty - a.allocated - a.shipped - a.cancelled)
                || ' while later ' || ln.number || ' got ' || (b.allocated + b.shipped) AS value
           FROM order_lines a
           JOIN order_lines b ON b.product_id = a.product_id AND (b.placed_at, b.id) > (a.placed_at, a.id)
           JOIN orders lo ON lo.id = a.order_id
           JOIN orders ln ON ln.id = b.order_id
           JOIN products p ON p.id = a.product_id
          WHERE a.qty > a.allocated + a.shipped + a.cancelled AND b.allocated + b.shipped > 0",
    ));
    broken.extend(violations(
        conn,
        "units not conserved (receipts + adjustments - shipments <> on hand)",
        "SELECT p.sku || ' on_hand ' || p.on_hand || ', received ' || r.units || ', adjusted ' || a.units
                || ', shipped ' || s.units AS value
           FROM products p
           CROSS JOIN LATERAL (SELECT coalesce(sum(rl.quantity), 0) AS units FROM receipt_lines rl
                                 JOIN purchase_order_lines pl ON pl.id = rl.purchase_order_line_id
                                WHERE pl.product_id = p.id) r
           CROSS JOIN LATERAL (SELECT coalesce(sum(on_hand_delta), 0) AS units FROM stock_movements
                                WHERE product_id = p.id AND reason = 'adjustment') a
           CROSS JOIN LATERAL (SELECT coalesce(sum(sl.quantity), 0) AS units FROM shipment_lines sl
                                 JOIN order_lines l ON l.id = sl.order_line_id
                                WHERE l.product_id = p.id) s
          WHERE p.on_hand <> r.units + a.units - s.units",
    ));
    broken.extend(violations(
        conn,
        "purchase order lines differ from their receipts",
        "SELECT pl.id::text || ' received ' || pl.qty_received || ' of ' || pl.qty_ordered AS value
           FROM purchase_order_lines pl
          WHERE pl.qty_received > pl.qty_ordered
             OR pl.qty_received <> (SELECT coalesce(sum(quantity), 0) FROM receipt_lines
                                     WHERE purchase_order_line_id = pl.id)",
    ));
    broken.extend(violations(
        conn,
        "a line's units do not add up",
        "SELECT id::text AS value FROM order_lines
          WHERE allocated < 0 OR shipped < 0 OR cancelled < 0
             OR allocated + shipped + cancelled > qty
             OR shipped <> (SELECT coalesce(sum(quantity), 0) FROM shipment_lines
                             WHERE order_line_id = order_lines.id)",
    ));
    broken.extend(violations(
        conn,
        "a waiting line without a position or a date",
        "SELECT id::text AS value FROM order_lines
          WHERE qty > allocated + shipped + cancelled
            AND (queue_position IS NULL OR eta_worst IS NULL OR promised_on IS NULL)",
    ));
    broken.extend(violations(
        conn,
        "an order without lines",
        "SELECT o.number AS value FROM orders o
          WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)",
    ));
    broken
}

/// Every waiting line's stored place and dates, in id order.
fn stored_dates(conn: &mut PgConnection, raw: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        value: String,
    }
    diesel::sql_query(
        "SELECT concat_ws(' | ', l.id, l.queue_position, l.eta_likely, l.eta_worst, l.eta_is_estimate,
                          l.promised_on, l.eta_reason) AS value
           FROM order_lines l JOIN products p ON p.id = l.product_id
          WHERE p.sku = $1 AND l.waiting > 0 ORDER BY l.id",
    )
    .bind::<Text, _>(raw)
    .load::<Row>(conn)
    .expect("the waiting lines")
    .into_iter()
    .map(|row| row.value)
    .collect()
}

/// Intake dates a new order from the queue's totals and re-dates only the lines behind
/// one that goes in ahead of others. After every order, dating the whole queue again
/// (what intake did before, and what every other event still does) changes nothing: the
/// same places, dates, reasons and promises, and nothing for customers to hear of. For
/// oldest-first queues, tiers first and soonest-lapsing first, with orders arriving out of
/// `placed_at` order, in batches over several products dated together.
#[test]
fn dating_a_new_order_from_the_queue_totals_equals_dating_the_whole_queue() {
    use backorder_desk::db::shop_settings;
    use backorder_desk::db::stock;
    use backorder_desk::domain::EtaCause;
    use backorder_desk::services::engine::{self, Ctx};

    let database = TestDatabase::new();
    let mut conn = database.connect();
    let actor = Actor::System;
    let policies = [(false, false), (true, false), (false, true), (true, true)];
    for (run, (tier_first, lapsing_first)) in policies.into_iter().enumerate() {
        let raws: Vec<String> = (0..3).map(|k| format!("SKU-INC{run}-{k}")).collect();
        for raw in &raws {
            catalog::upsert_product(&mut conn, &actor, product(raw, 0), today())
                .expect("a product");
        }
        diesel::sql_query("UPDATE suppliers SET lead_time_days = 14")
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(format!(
            "UPDATE shop_settings SET queue_tier_first = {tier_first}, queue_lapsing_first = {lapsing_first}"
        ))
        .execute(&mut conn)
        .unwrap();
        // Each product its own supply: the dates of one must not leak into another's.
        for (k, raw) in raws.iter().enumerate() {
            for (i, (units, days)) in [(6, 4), (5, 9)].into_iter().enumerate() {
                purchasing::create_purchase_order(
                    &mut conn,
                    &actor,
                    NewPurchaseOrder {
                        reference: Reference::parse(&format!("PO-INC{run}-{k}-{i}")).unwrap(),
                        supplier: "Acme Supply".to_owned(),
                        expected_on: today() + Duration::days(days + 3 * k as i64),
                        lines: vec![(sku(raw), units + 2 * k as i32)],
                    },
                    today(),
                )
                .expect("a purchase order");
            }
        }
        let mut rng = StdRng::seed_from_u64(17 + run as u64);
        for customer in 0..8 {
            diesel::sql_query(
                "INSERT INTO customers (email, name, tier) VALUES ($1, 'Customer', $2)
                 ON CONFLICT ((lower(email))) DO UPDATE SET tier = EXCLUDED.tier",
            )
            .bind::<Text, _>(format!("inc{customer}@example.com"))
            .bind::<diesel::sql_types::SmallInt, _>(rng.random_range(0..3i16))
            .execute(&mut conn)
            .unwrap();
        }
        for i in 0..30 {
            // One to six orders at a time over the products, placed together as the
            // API's lanes do.
            let group: Vec<(Actor, NewOrder)> = (0..rng.random_range(1..=6))
                .map(|k| {
                    let order = NewOrder {
                        number: Reference::parse(&format!("INC{run}-{i}-{k}")).unwrap(),
                        // Mostly now (the back of the queue), now and then hours earlier.
                        placed_at: Some(if rng.random_bool(0.3) {
                            Utc::now() - Duration::minutes(rng.random_range(1..600))
                        } else {
                            Utc::now()
                        }),
                        customer_email: Email::parse(&format!(
                            "inc{}@example.com",
                            rng.random_range(0..8)
                        ))
                        .unwrap(),
                        customer_name: "Customer".to_owned(),
                        lines: (0..rng.random_range(1..=2))
                            .map(|_| NewOrderLine {
                                sku: sku(&raws[rng.random_range(0..raws.len())]),
                                quantity: rng.random_range(1..=3),
                                unit_price_cents: 1000,
                            })
                            .collect(),
                        payment_authorized_until: rng
                            .random_bool(0.6)
                            .then(|| today() + Duration::days(rng.random_range(1..20))),
                        max_wait_until: None,
                        request_hash: format!("inc-{run}-{i}-{k}"),
                    };
                    (actor.clone(), order)
                })
                .collect();
            for placed in orders::place_orders_together(&mut conn, group, today()) {
                assert!(
                    matches!(placed, Ok(orders::Placed::Created(_))),
                    "policy {run}, group {i}: {:?}",
                    placed.err()
                );
            }

            let settings = shop_settings::load(&mut conn).unwrap();
            let ctx = Ctx {
                actor: &actor,
                today: today(),
                settings: &settings,
            };
            for raw in &raws {
                let dated = stored_dates(&mut conn, raw);
                let product = stock::find_by_sku(&mut conn, raw).unwrap().unwrap();
                let effects =
                    engine::refresh_etas(&mut conn, &ctx, &product, &EtaCause::QueueAhead).unwrap();
                assert!(
                    effects.later_than_told.is_empty() && effects.delayed.is_empty(),
                    "policy {run}, {raw} after group {i}: dating the whole queue found news {effects:?}"
                );
                assert_eq!(
                    stored_dates(&mut conn, raw),
                    dated,
                    "policy {run}, {raw} after group {i}: dating the whole queue changed what intake stored"
                );
            }
        }
        let broken = broken_invariants(&mut conn);
        assert!(broken.is_empty(), "policy {run}: {broken:?}");
    }
}
