//! The daily review's "promises kept" and `simulate` agree when given the same history
//! (issue 9): a generated history is replayed through `simulate` and, day by day,
//! through the services into a real database; the review's figure over the last 30 days
//! equals the replay's over the same promised days.

use std::collections::{BTreeMap, HashSet};

use backorder_desk::db::audit::Actor;
use backorder_desk::db::{self};
use backorder_desk::services::inventory::catalog::{self, ProductChanges};
use backorder_desk::services::orders::{self, NewOrder, NewOrderLine};
use backorder_desk::services::purchasing::{self, NewPurchaseOrder, ReceiptLine};
use backorder_desk::services::{orders::fulfilment, review};
use backorder_desk::sim::{EventKind, GenerateSettings, Profile, ReplaySettings, generate, replay};
use backorder_desk::types::{Email, Reference};
use chrono::{Duration, NaiveDate, NaiveTime};
use diesel::prelude::*;
use diesel::sql_types::{Date, Text, Timestamptz};

use crate::helpers::TestDatabase;

#[derive(QueryableByName)]
struct Ready {
    #[diesel(sql_type = Text)]
    number: String,
}

#[test]
fn the_reviews_promises_kept_matches_simulate_on_the_same_history() {
    let events = generate(&GenerateSettings {
        days: 90,
        seed: 11,
        products: 8,
        profile: Profile::One,
    });
    let simulated = replay(&events, &ReplaySettings::default()).expect("the replay");
    let today = backorder_desk::clock::today();
    // Day numbers map onto the calendar so the replay's last day is yesterday.
    let base = today - Duration::days(i64::from(simulated.last_day) + 1);
    let date = |day: i64| base + Duration::days(day);

    let database = TestDatabase::new();
    let pool = db::connect(&database.url, 2).unwrap();
    let conn = &mut pool.get().unwrap();
    // The replay's engine settings: 400 samples, the 90th percentile, one handling day.
    diesel::sql_query(
        "UPDATE shop_settings SET eta_samples = 400, eta_worst_percentile = 90, handling_days = 1",
    )
    .execute(conn)
    .unwrap();
    let actor = Actor::System;
    let mut arrivals: BTreeMap<u32, Vec<(String, String, i32)>> = BTreeMap::new();
    let mut complete_on: BTreeMap<String, u32> = BTreeMap::new();
    let mut shipped: HashSet<String> = HashSet::new();
    let mut next = 0;
    let first = events.first().map_or(0, |e| e.day);
    for day in first..=simulated.last_day {
        let on = date(i64::from(day));
        // Lines fully allocated on an earlier day ship today, as in the replay.
        let ready: Vec<String> = complete_on
            .iter()
            .filter(|&(n, &d)| d < day && !shipped.contains(n))
            .map(|(n, _)| n.clone())
            .collect();
        for number in ready {
            fulfilment::ship_allocated(conn, &actor, &number, on).unwrap();
            diesel::sql_query(
                "UPDATE order_lines SET completed_at = $2 FROM orders o WHERE o.id = order_id AND o.number = $1",
            )
            .bind::<Text, _>(&number)
            .bind::<Timestamptz, _>(on.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap()).and_utc())
            .execute(conn)
            .unwrap();
            shipped.insert(number);
        }
        for (reference, sku, quantity) in arrivals.remove(&day).unwrap_or_default() {
            let lines = vec![ReceiptLine {
                sku: backorder_desk::types::Sku::parse(&sku).unwrap(),
                quantity,
            }];
            purchasing::receive::receive(conn, &actor, &reference, lines, None, on).unwrap();
        }
        while let Some(event) = events.get(next).filter(|e| e.day == day) {
            next += 1;
            match &event.kind {
                EventKind::Supplier {
                    name, lead_days, ..
                } => {
                    let id = catalog::supplier_id(conn, name).unwrap();
                    diesel::sql_query("UPDATE suppliers SET lead_time_days = $2 WHERE id = $1")
                        .bind::<diesel::sql_types::BigInt, _>(id)
                        .bind::<diesel::sql_types::Nullable<diesel::sql_types::Int4>, _>(
                            lead_days.map(|d| d as i32),
                        )
                        .execute(conn)
                        .unwrap();
                }
                EventKind::Product {
                    sku,
                    supplier,
                    on_hand,
                } => {
                    let changes = ProductChanges {
                        sku: sku.clone(),
                        name: Some(format!("Product {sku}")),
                        supplier: supplier.clone(),
                        on_hand: Some(*on_hand as i32),
                        backorderable: Some(true),
                        reorder_point: Some(0),
                        safety_stock: None,
                        unit_price_cents: Some(1_000),
                        suppliers: None,
                        preorder_release_on: None,
                        alternatives: None,
                    };
                    catalog::upsert_product(conn, &actor, changes, on).unwrap();
                }
                EventKind::PurchaseOrder {
                    reference,
                    sku,
                    quantity,
                    expected_day,
                    arrives_day,
                } => {
                    let supplier: String = diesel::sql_query(
                        "SELECT s.name AS number FROM products p JOIN suppliers s ON s.id = p.supplier_id WHERE p.sku = $1",
                    )
                    .bind::<Text, _>(sku.as_str())
                    .get_result::<Ready>(conn)
                    .unwrap()
                    .number;
                    let order = NewPurchaseOrder {
                        reference: Reference::parse(reference).unwrap(),
                        supplier,
                        expected_on: date(i64::from(*expected_day)),
                        lines: vec![(sku.clone(), quantity.get() as i32)],
                    };
                    purchasing::create_purchase_order(conn, &actor, order, on).unwrap();
                    let arrival = (reference.clone(), sku.to_string(), quantity.get() as i32);
                    if *arrives_day == day {
                        let lines = vec![ReceiptLine {
                            sku: sku.clone(),
                            quantity: arrival.2,
                        }];
                        purchasing::receive::receive(conn, &actor, reference, lines, None, on)
                            .unwrap();
                    } else {
                        arrivals.entry(*arrives_day).or_default().push(arrival);
                    }
                }
                EventKind::Order {
                    number,
                    sku,
                    quantity,
                } => {
                    let order = NewOrder {
                        number: Reference::parse(number).unwrap(),
                        placed_at: Some(on.and_time(NaiveTime::MIN).and_utc()),
                        customer_email: Email::parse(&format!(
                            "{}@example.com",
                            number.to_lowercase()
                        ))
                        .unwrap(),
                        customer_name: format!("Customer {number}"),
                        lines: vec![NewOrderLine {
                            sku: sku.clone(),
                            quantity: quantity.get() as i32,
                            unit_price_cents: 1_000,
                        }],
                        payment_authorized_until: None,
                        max_wait_until: None,
                        request_hash: number.clone(),
                    };
                    orders::place_order(conn, &actor, order, on).unwrap();
                }
            }
            // Orders whose line now waits for nothing, noted with the day it happened.
            let complete: Vec<Ready> = diesel::sql_query(
                "SELECT o.number FROM orders o JOIN order_lines l ON l.order_id = o.id
                  WHERE l.allocated > 0 AND l.qty = l.allocated + l.shipped + l.cancelled",
            )
            .load(conn)
            .unwrap();
            for row in complete {
                complete_on.entry(row.number).or_insert(day);
            }
        }
        // Receipts at the start of the day also complete lines.
        let complete: Vec<Ready> = diesel::sql_query(
            "SELECT o.number FROM orders o JOIN order_lines l ON l.order_id = o.id
              WHERE l.allocated > 0 AND l.qty = l.allocated + l.shipped + l.cancelled",
        )
        .load(conn)
        .unwrap();
        for row in complete {
            complete_on.entry(row.number).or_insert(day);
        }
    }

    // The replay's figure over promises due in the review's window: [today - 30, today).
    let window = |promised: NaiveDate| promised >= today - Duration::days(30) && promised < today;
    let due: Vec<_> = simulated
        .lines
        .iter()
        .filter(|l| l.promised_day.is_some_and(|p| window(date(p))))
        .collect();
    let kept = due
        .iter()
        .filter(|l| matches!((l.shipped_day, l.promised_day), (Some(s), Some(p)) if s <= p))
        .count();

    // The database made the same promises...
    for line in &due {
        let promised: NaiveDate = diesel::sql_query(
            "SELECT l.promised_on AS day FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.number = $1",
        )
        .bind::<Text, _>(&line.number)
        .get_result::<Promised>(conn)
        .unwrap()
        .day;
        assert_eq!(
            promised,
            date(line.promised_day.unwrap()),
            "the promise of {}",
            line.number
        );
    }
    // ...and the review reads the same share from them.
    let figure = review::promises_kept(conn, today).unwrap();
    assert!(
        due.len() >= 20,
        "the history has promises to compare: {}",
        due.len()
    );
    assert_eq!((figure.due, figure.kept), (due.len() as i64, kept as i64));
}

#[derive(QueryableByName)]
struct Promised {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
}
