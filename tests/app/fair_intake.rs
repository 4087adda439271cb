//! First come, first served under load (issue 13): many storefront orders at once for a
//! product with few units, over real HTTP from many threads. Units go to the earliest
//! orders, the queue is in `placed_at` order (ties by arrival), nothing is oversold.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Timestamptz};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use crate::api::Api;

const ORDERS: usize = 50;
const UNITS: i64 = 5;

#[derive(Debug, QueryableByName)]
struct Line {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    placed_at: DateTime<Utc>,
    #[diesel(sql_type = Int4)]
    allocated: i32,
    #[diesel(sql_type = Int4)]
    waiting: i32,
    #[diesel(sql_type = Nullable<Int4>)]
    queue_position: Option<i32>,
}

/// Sends one order per body, each from its own thread, all released at once; returns the
/// status codes.
fn send_all_at_once(url: String, token: String, bodies: Vec<Value>) -> Vec<u16> {
    crate::group_intake::all_at_once(bodies, move |client, body| {
        let (url, token) = (url.clone(), token.clone());
        async move {
            // All at once is more than the pool serves in its wait: a 503 says
            // "try again", and a storefront does (the same order, idempotent).
            let mut retried = false;
            loop {
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("POST /api/v1/orders");
                let status = response.status().as_u16();
                if status == 503 {
                    retried = true;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
                // Stored by an earlier try whose answer was lost: 200, the same order.
                let placed = status == 201 || (retried && status == 200);
                assert!(
                    placed,
                    "{status}: {}",
                    response.text().await.unwrap_or_default()
                );
                return status;
            }
        }
    })
}

fn order_body(i: usize, placed_at: Option<DateTime<Utc>>) -> Value {
    let mut body = json!({
        "number": format!("FAIR-{i:03}"),
        "customer": { "email": format!("c{i}@example.com"), "name": format!("Customer {i}") },
        "lines": [{ "sku": "FAIR", "quantity": 1, "unit_price_cents": 1000 }],
    });
    if let Some(at) = placed_at {
        body["placed_at"] = json!(at.to_rfc3339());
    }
    body
}

/// A shop with `UNITS` of FAIR, backorderable (its supplier has a lead time).
async fn shop() -> Api {
    let api = Api::start().await;
    api.backorderable("FAIR", UNITS, 14).await;
    api
}

async fn place_all(api: &Api, bodies: Vec<Value>) {
    let url = api.app.url("/api/v1/orders");
    let token = api.token.clone();
    let statuses = tokio::task::spawn_blocking(move || send_all_at_once(url, token, bodies))
        .await
        .expect("the order threads");
    assert_eq!(statuses.len(), ORDERS);
}

fn lines(api: &Api) -> Vec<Line> {
    diesel::sql_query(
        "SELECT l.id, l.placed_at, l.allocated, l.waiting, l.queue_position
           FROM order_lines l JOIN products p ON p.id = l.product_id
          WHERE p.sku = 'FAIR' ORDER BY l.id",
    )
    .load(&mut api.app.conn())
    .expect("the lines")
}

/// Nothing oversold, every unit given out, and the waiting lines numbered 1, 2, ... in
/// (`placed_at`, id) order.
fn assert_stock_and_queue(api: &Api, lines: &[Line]) {
    let (on_hand, allocated): (i32, i32) = {
        use backorder_desk::db::schema::products;
        products::table
            .filter(products::sku.eq("FAIR"))
            .select((products::on_hand, products::allocated))
            .first(&mut api.app.conn())
            .unwrap()
    };
    let given: i32 = lines.iter().map(|l| l.allocated).sum();
    assert_eq!(given, allocated, "the product's count matches its lines");
    assert!(allocated <= on_hand, "oversold: {allocated} of {on_hand}");
    assert_eq!(
        i64::from(allocated),
        UNITS,
        "every unit went to someone waiting"
    );

    let mut waiting: Vec<&Line> = lines.iter().filter(|l| l.waiting > 0).collect();
    assert_eq!(waiting.len(), ORDERS - UNITS as usize);
    waiting.sort_by_key(|l| l.queue_position);
    let positions: Vec<Option<i32>> = waiting.iter().map(|l| l.queue_position).collect();
    let expected: Vec<Option<i32>> = (1..=waiting.len() as i32).map(Some).collect();
    assert_eq!(positions, expected, "places 1, 2, 3, ... without gaps");
    for pair in waiting.windows(2) {
        assert!(
            (pair[0].placed_at, pair[0].id) < (pair[1].placed_at, pair[1].id),
            "place {:?} ({}, line {}) is ahead of place {:?} ({}, line {})",
            pair[0].queue_position,
            pair[0].placed_at,
            pair[0].id,
            pair[1].queue_position,
            pair[1].placed_at,
            pair[1].id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_orders_at_once_are_served_in_the_order_they_were_placed() {
    let api = shop().await;

    // The storefront sends no time of its own: the server's clock decides.
    place_all(&api, (0..ORDERS).map(|i| order_body(i, None)).collect()).await;

    let lines = lines(&api);
    assert_stock_and_queue(&api, &lines);
    let served: Vec<&Line> = lines.iter().filter(|l| l.allocated > 0).collect();
    let latest_served = served
        .iter()
        .map(|l| (l.placed_at, l.id))
        .max()
        .expect("someone was served");
    let earliest_waiting = lines
        .iter()
        .filter(|l| l.waiting > 0)
        .map(|l| (l.placed_at, l.id))
        .min()
        .expect("someone waits");
    assert!(
        latest_served < earliest_waiting,
        "an order placed at {} (line {}) got a unit while one placed at {} (line {}) waits",
        latest_served.0,
        latest_served.1,
        earliest_waiting.0,
        earliest_waiting.1
    );
    let broken = crate::engine_db::broken_invariants(&mut api.app.conn());
    assert!(broken.is_empty(), "{broken:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_with_their_own_times_arriving_out_of_order_queue_by_those_times() {
    let api = shop().await;
    // Times a second apart, sent in a shuffled order all at once.
    let base = Utc::now() - Duration::hours(1);
    let mut times: Vec<DateTime<Utc>> = (0..ORDERS as i64)
        .map(|i| base + Duration::seconds(i))
        .collect();
    times.shuffle(&mut StdRng::seed_from_u64(13));
    let bodies = times
        .iter()
        .enumerate()
        .map(|(i, at)| order_body(i, Some(*at)))
        .collect();

    place_all(&api, bodies).await;

    let lines = lines(&api);
    assert_stock_and_queue(&api, &lines);
    // Units given at intake are not taken back (README, "Place in line"): a line placed
    // after one that waits holds units only because it arrived first, when the units
    // were free. Any later arrival queues by its own time.
    for served in lines.iter().filter(|l| l.allocated > 0) {
        for waits in lines.iter().filter(|l| l.waiting > 0) {
            assert!(
                served.placed_at < waits.placed_at || served.id < waits.id,
                "line {} (placed {}) got a unit though it arrived after line {} (placed {}), which waits",
                served.id,
                served.placed_at,
                waits.id,
                waits.placed_at
            );
        }
    }
    // The first to arrive are the ones served: the first five line ids.
    let served: Vec<i64> = lines
        .iter()
        .filter(|l| l.allocated > 0)
        .map(|l| l.id)
        .collect();
    let first: Vec<i64> = lines.iter().take(UNITS as usize).map(|l| l.id).collect();
    assert_eq!(served, first);
}

#[tokio::test]
async fn free_units_found_at_intake_go_to_the_earliest_waiting_lines_not_the_newcomer() {
    let api = Api::start().await;
    api.backorderable("FAIR", 0, 14).await;
    let hour_ago = Utc::now() - Duration::hours(1);
    for i in 0..3 {
        let (status, body) = api
            .post(
                "/api/v1/orders",
                &order_body(i, Some(hour_ago + Duration::minutes(i as i64))),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    // Two units that reached the shelf without filling the queue (a repair, a hand edit).
    api.sql("UPDATE products SET on_hand = 2 WHERE sku = 'FAIR'");

    let (status, body) = api.post("/api/v1/orders", &order_body(3, None)).await;

    assert_eq!(status, 201, "{body}");
    assert_eq!(body["lines"][0]["allocated"], 0, "{body}");
    let lines = lines(&api);
    let allocated: Vec<i32> = lines.iter().map(|l| l.allocated).collect();
    assert_eq!(allocated, [1, 1, 0, 0], "the two earliest get the units");
    let places: Vec<Option<i32>> = lines.iter().map(|l| l.queue_position).collect();
    assert_eq!(places, [None, None, Some(1), Some(2)]);
}
