//! The demo shop: six suppliers of differing reliability, a few hundred products, a few
//! hundred customers and two months of history played day by day through the same
//! services the server uses, so every order, receipt, ETA and promise comes from the
//! engine.

use crate::progress::Progress;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::audit::Actor;
use crate::db::models::PoStatus;
use crate::db::schema::{customers, order_lines, orders, purchase_orders, suppliers};
use crate::db::users::{self, Role};
use crate::services::inventory::catalog::{self, ProductChanges};
use crate::services::orders::{NewOrder, NewOrderLine};
use crate::services::purchasing::{self, NewPurchaseOrder, ReceiptLine};
use crate::services::{admin::accounts, orders::fulfilment};
use crate::types::{Email, Reference, Sku};

pub struct DemoLogin {
    pub role: &'static str,
    pub email: &'static str,
    pub password: &'static str,
}

pub fn demo_logins() -> Vec<DemoLogin> {
    vec![
        DemoLogin {
            role: "rep",
            email: "rep@demo.backorder-desk.test",
            password: "rep-demo-password",
        },
        DemoLogin {
            role: "manager",
            email: "manager@demo.backorder-desk.test",
            password: "manager-demo-password",
        },
        DemoLogin {
            role: "admin",
            email: "admin@demo.backorder-desk.test",
            password: "admin-demo-password",
        },
    ]
}

/// True when nobody has been added yet: the demo goes only into an empty database.
pub fn is_empty(conn: &mut PgConnection) -> anyhow::Result<bool> {
    Ok(users::count(conn)? == 0)
}

/// A supplier's habits: lead time, and how late its deliveries come (mean, spread).
struct SupplierProfile {
    name: &'static str,
    email: &'static str,
    lead_days: i64,
    mean_slip: f64,
    slip_spread: f64,
}

/// The demo's pre-order: released in three weeks, a few customers already queued for it
/// (stock is ordered to arrive before the release and will be held until the day).
fn add_preorder(
    conn: &mut PgConnection,
    customers: &[(String, String)],
    today: NaiveDate,
) -> anyhow::Result<()> {
    let err = |e: crate::error::AppError| anyhow::anyhow!("{e}");
    let sku = "KIT-PRE1";
    let release = today + Duration::days(21);
    // Its alternative, on the shelf now: customers queued for the pre-order are offered
    // "take KIT-ALT1 instead" (emails, status page, order page).
    catalog::upsert_product(
        conn,
        &Actor::System,
        ProductChanges {
            name: Some("Chef's knife, classic edition".to_owned()),
            supplier: Some(SUPPLIERS[0].name.to_owned()),
            on_hand: Some(12),
            backorderable: Some(true),
            reorder_point: Some(2),
            safety_stock: Some(1),
            unit_price_cents: Some(11_900),
            ..ProductChanges::of(Sku::parse("KIT-ALT1").map_err(|e| anyhow::anyhow!("{e}"))?)
        },
        today,
    )
    .map_err(err)?;
    catalog::upsert_product(
        conn,
        &Actor::System,
        ProductChanges {
            sku: Sku::parse(sku).map_err(|e| anyhow::anyhow!("{e}"))?,
            name: Some("Chef's knife, anniversary edition".to_owned()),
            supplier: Some(SUPPLIERS[0].name.to_owned()),
            on_hand: Some(0),
            backorderable: Some(true),
            reorder_point: Some(0),
            safety_stock: Some(0),
            unit_price_cents: Some(12_900),
            suppliers: None,
            preorder_release_on: Some(Some(release)),
            alternatives: Some(vec!["KIT-ALT1".to_owned()]),
        },
        today,
    )
    .map_err(err)?;
    purchasing::create_purchase_order(
        conn,
        &Actor::System,
        NewPurchaseOrder {
            reference: Reference::parse("PO-PRE1").map_err(|e| anyhow::anyhow!(e))?,
            supplier: SUPPLIERS[0].name.to_owned(),
            expected_on: release - Duration::days(4),
            lines: vec![(Sku::parse(sku).map_err(|e| anyhow::anyhow!("{e}"))?, 6)],
        },
        today,
    )
    .map_err(err)?;
    for (i, (email, name)) in customers.iter().take(4).enumerate() {
        let number = format!("SO-PRE-{}", i + 1);
        let order = NewOrder {
            number: Reference::parse(&number).map_err(|e| anyhow::anyhow!(e))?,
            placed_at: None,
            customer_email: Email::parse(email).map_err(|e| anyhow::anyhow!(e))?,
            customer_name: name.clone(),
            lines: vec![NewOrderLine {
                sku: Sku::parse(sku).map_err(|e| anyhow::anyhow!("{e}"))?,
                quantity: 1 + (i as i32 % 2),
                unit_price_cents: 12_900,
            }],
            payment_authorized_until: Some(release + Duration::days(7)),
            max_wait_until: None,
            request_hash: format!("demo-{number}"),
        };
        crate::services::orders::place_order(conn, &Actor::System, order, today).map_err(err)?;
    }
    Ok(())
}

/// A few products with waiting lines get an alternative from the shelf (the same kind of
/// item where there is one), so the queue, the order page and the status page offer swaps.
fn add_alternatives(conn: &mut PgConnection, today: NaiveDate) -> anyhow::Result<()> {
    use crate::db::schema::products;
    let waiting: Vec<String> = products::table
        .filter(products::waiting_lines.gt(0))
        .filter(products::sku.ne("KIT-PRE1"))
        .order(products::waiting_lines.desc())
        .select(products::sku)
        .limit(4)
        .load(conn)?;
    let on_shelf: Vec<String> = products::table
        .filter(products::waiting_lines.eq(0))
        .filter((products::on_hand - products::allocated).ge(10))
        .order(products::sku.asc())
        .select(products::sku)
        .limit(8)
        .load(conn)?;
    for (i, sku) in waiting.iter().enumerate() {
        let list: Vec<String> = on_shelf.iter().skip(i * 2).take(2).cloned().collect();
        if list.is_empty() {
            continue;
        }
        crate::services::inventory::set_alternatives(conn, &Actor::System, sku, list, today)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

const SUPPLIERS: [SupplierProfile; 6] = [
    SupplierProfile {
        name: "Nordic Kitchenware",
        email: "orders@nordic-kitchen.example.com",
        lead_days: 14,
        mean_slip: 0.5,
        slip_spread: 1.5,
    },
    SupplierProfile {
        name: "Atlas Outdoor Supply",
        email: "sales@atlas-outdoor.example.com",
        lead_days: 21,
        mean_slip: 4.0,
        slip_spread: 4.0,
    },
    SupplierProfile {
        name: "Brightline Electronics",
        email: "b2b@brightline.example.com",
        lead_days: 28,
        mean_slip: 7.0,
        slip_spread: 6.0,
    },
    SupplierProfile {
        name: "Casa Textiles",
        email: "export@casa-textiles.example.com",
        lead_days: 10,
        mean_slip: 1.0,
        slip_spread: 2.0,
    },
    SupplierProfile {
        name: "Pioneer Tools",
        email: "orders@pioneer-tools.example.com",
        lead_days: 18,
        mean_slip: 2.5,
        slip_spread: 3.0,
    },
    SupplierProfile {
        name: "Greenleaf Garden",
        email: "hello@greenleaf.example.com",
        lead_days: 12,
        mean_slip: -0.5,
        slip_spread: 1.0,
    },
];

const CATEGORIES: [(&str, &[&str]); 6] = [
    (
        "KIT",
        &[
            "Cast-iron skillet",
            "Chef's knife",
            "Espresso maker",
            "Dutch oven",
            "Stand mixer",
            "Kettle",
            "Cutting board",
        ],
    ),
    (
        "OUT",
        &[
            "Trail tent",
            "Sleeping bag",
            "Camping stove",
            "Hiking pack",
            "Headlamp",
            "Water filter",
            "Trekking poles",
        ],
    ),
    (
        "ELE",
        &[
            "Bluetooth speaker",
            "Desk lamp",
            "USB-C dock",
            "Noise-cancelling headphones",
            "Smart plug",
            "Webcam",
        ],
    ),
    (
        "TEX",
        &[
            "Linen duvet cover",
            "Wool throw",
            "Bath towel set",
            "Cotton tablecloth",
            "Cushion cover",
        ],
    ),
    (
        "TOO",
        &[
            "Cordless drill",
            "Socket set",
            "Tape measure",
            "Workbench vise",
            "Spirit level",
            "Hand saw",
        ],
    ),
    (
        "GAR",
        &[
            "Pruning shears",
            "Raised bed kit",
            "Watering can",
            "Garden hose",
            "Seed starter tray",
        ],
    ),
];
const STYLES: [&str; 8] = [
    "Classic", "Pro", "Compact", "Large", "Slate", "Sand", "Forest", "Midnight",
];
const FIRST_NAMES: [&str; 24] = [
    "Ana", "Ben", "Chloé", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lena",
    "Marco", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tove", "Umar", "Vera", "Wim", "Yara",
];
const LAST_NAMES: [&str; 20] = [
    "Andersen", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Huber", "Ivanova",
    "Jansen", "Kowalski", "Larsen", "Moreau", "Novak", "O'Brien", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Weber",
];

struct DemoProduct {
    sku: String,
    supplier: usize,
    price_cents: i64,
    popularity: u32,
    reorder_point: i32,
}

/// A normal-ish draw (sum of uniforms), enough for slips.
fn normalish(rng: &mut StdRng, mean: f64, spread: f64) -> f64 {
    let sum: f64 = (0..6).map(|_| rng.random::<f64>()).sum();
    mean + (sum - 3.0) * spread / 0.707
}

pub fn load_demo(conn: &mut PgConnection, order_count: u32) -> anyhow::Result<Vec<DemoLogin>> {
    load_demo_with(conn, order_count, &Progress::hidden())
}

/// `load_demo`, reporting the days of history as it plays them.
pub fn load_demo_with(
    conn: &mut PgConnection,
    order_count: u32,
    progress: &Progress,
) -> anyhow::Result<Vec<DemoLogin>> {
    let logins = demo_logins();
    let names = ["Riley Rep", "Morgan Manager", "Alex Admin"];
    for (login, name) in logins.iter().zip(names) {
        let role: Role = login.role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        if users::find_by_email(conn, login.email)?.is_none() {
            accounts::add_user(
                conn,
                &Actor::System,
                login.email,
                name,
                role,
                login.password,
            )
            .map_err(|e| anyhow::anyhow!("adding the demo {}: {e}", login.role))?;
        }
    }
    if order_count > 0 {
        load_history(conn, order_count, progress)?;
    }
    Ok(logins)
}

fn load_history(
    conn: &mut PgConnection,
    order_count: u32,
    progress: &Progress,
) -> anyhow::Result<()> {
    // Thousands of small transactions: while seeding, this session does not wait for
    // each commit to reach the disk (a crash mid-seed loses demo data, never
    // consistency). The connection goes back to a pool, so the setting is put back.
    diesel::sql_query("SET synchronous_commit TO OFF").execute(conn)?;
    let result = play_history(conn, order_count, progress);
    diesel::sql_query("SET synchronous_commit TO DEFAULT").execute(conn)?;
    result
}

/// A few demo products (the first style of each category's first two items) can also be
/// bought from the next supplier: sooner or later, dearer or cheaper (issue 18, part 3).
fn two_suppliers(
    item: usize,
    style: usize,
    primary: usize,
    price_cents: i64,
) -> Option<Vec<crate::services::purchasing::sourcing::SupplierEntry>> {
    if item > 1 || style != 0 {
        return None;
    }
    let second = (primary + 1) % SUPPLIERS.len();
    let entry = |profile: &SupplierProfile, percent: i64| {
        crate::services::purchasing::sourcing::SupplierEntry {
            name: profile.name.to_owned(),
            lead_time_days: Some(profile.lead_days as i32),
            unit_cost_cents: Some(price_cents * percent / 100),
            contact_email: Some(Some(profile.email.to_owned())),
        }
    };
    Some(vec![
        entry(&SUPPLIERS[primary], 45),
        entry(&SUPPLIERS[second], if item == 0 { 52 } else { 40 }),
    ])
}

fn play_history(
    conn: &mut PgConnection,
    order_count: u32,
    progress: &Progress,
) -> anyhow::Result<()> {
    let err = |e: crate::error::AppError| anyhow::anyhow!("{e}");
    let mut rng = StdRng::seed_from_u64(20261122);
    let actor = Actor::System;
    let today = crate::clock::today();
    let start = today - Duration::days(60);

    for profile in &SUPPLIERS {
        diesel::insert_into(suppliers::table)
            .values((
                suppliers::name.eq(profile.name),
                suppliers::email.eq(profile.email),
                suppliers::lead_time_days.eq(profile.lead_days as i32),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
    }

    let mut products = Vec::new();
    for (c, (prefix, items)) in CATEGORIES.iter().enumerate() {
        for (i, item) in items.iter().enumerate() {
            for (s, style) in STYLES.iter().enumerate() {
                let sku = format!("{prefix}-{:02}{:02}", i + 1, s + 1);
                let supplier = if rng.random_bool(0.8) {
                    c
                } else {
                    rng.random_range(0..SUPPLIERS.len())
                };
                let price_cents = rng.random_range(8..250) * 100 - 1;
                let reorder_point = rng.random_range(3..12);
                let on_hand = if rng.random_bool(0.3) {
                    0
                } else {
                    rng.random_range(2..40)
                };
                catalog::upsert_product(
                    conn,
                    &actor,
                    ProductChanges {
                        sku: Sku::parse(&sku).map_err(|e| anyhow::anyhow!("{e}"))?,
                        name: Some(format!("{item}, {style}")),
                        supplier: Some(SUPPLIERS[supplier].name.to_owned()),
                        on_hand: Some(on_hand),
                        backorderable: Some(!rng.random_bool(0.05)),
                        reorder_point: Some(reorder_point),
                        safety_stock: Some(reorder_point / 2),
                        unit_price_cents: Some(price_cents),
                        suppliers: two_suppliers(i, s, supplier, price_cents),
                        preorder_release_on: None,
                        alternatives: None,
                    },
                    start,
                )
                .map_err(err)?;
                let popularity = if rng.random_bool(0.15) {
                    rng.random_range(8..20)
                } else {
                    rng.random_range(1..5)
                };
                products.push(DemoProduct {
                    sku,
                    supplier,
                    price_cents,
                    popularity,
                    reorder_point,
                });
            }
        }
    }
    let weights: Vec<u32> = products.iter().map(|p| p.popularity).collect();
    let total_weight: u32 = weights.iter().sum();
    let pick = |rng: &mut StdRng| {
        let mut x = rng.random_range(0..total_weight);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    };

    let customers: Vec<(String, String)> = (0..400)
        .map(|i| {
            let first = FIRST_NAMES[i % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i / FIRST_NAMES.len() + i) % LAST_NAMES.len()];
            let email = format!(
                "{}.{}{}@example.com",
                first.to_lowercase().replace('é', "e"),
                last.to_lowercase().replace(['í', '\''], ""),
                i
            );
            (email, format!("{first} {last}"))
        })
        .collect();

    // Purchase orders in flight: reference, arrival day, lines (SKU, units).
    type InFlight = (String, NaiveDate, Vec<(String, i32)>);
    let mut in_flight: Vec<InFlight> = Vec::new();
    let mut po_number = 1000;
    let per_day = (order_count as f64 / 60.0).max(1.0);
    let mut order_number = 10_000;

    let manager = users::find_by_email(conn, demo_logins()[1].email)?
        .map(|u| Actor::User {
            id: u.id,
            email: u.email,
        })
        .ok_or_else(|| anyhow::anyhow!("the demo manager is missing"))?;
    progress.stage("Demo shop: days of history", 61);
    for day_index in 0..=60 {
        let day = start + Duration::days(day_index);
        // The delivery worker's job for the day first: date-change emails whose window
        // (first change + the shop's window) is over by this afternoon, rendered from the
        // state then. They are dated noon, before the day's events, so one order's emails
        // are a whole window apart, as the worker keeps them in a live shop.
        let sending = clock_now(conn)?;
        crate::services::messages::eta_updates::send_due_eta_updates(
            conn,
            day_noon(day) + Duration::hours(6),
            day,
        )
        .map_err(err)?;
        pin_to(conn, sending, day_noon(day))?;
        let mark = clock_now(conn)?;
        // Goods that arrive today are received first.
        let (arriving, later): (Vec<_>, Vec<_>) = in_flight
            .into_iter()
            .partition(|(_, arrives, _)| *arrives <= day);
        in_flight = later;
        for (reference, _, lines) in arriving {
            let lines = lines
                .into_iter()
                .map(|(sku, quantity)| {
                    Ok(ReceiptLine {
                        sku: Sku::parse(&sku).map_err(|e| anyhow::anyhow!("{e}"))?,
                        quantity,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            purchasing::receive::receive(
                conn,
                &actor,
                &reference,
                lines,
                Some(format!("demo:{reference}")),
                day,
            )
            .map_err(err)?;
        }
        // The worker sends the receipts' restock emails at once, before the day's shipments
        // (today's wait for the delivery worker).
        if day < today {
            crate::services::messages::seed::render_queued_restock_emails(conn, day)?;
        }

        // The day's orders.
        let count = (per_day * rng.random_range(0.6..1.4)).round() as u32;
        for _ in 0..count {
            order_number += 1;
            let (email, name) = &customers[rng.random_range(0..customers.len())];
            let mut lines: Vec<NewOrderLine> = Vec::new();
            for _ in 0..rng.random_range(1..=3) {
                let product = &products[pick(&mut rng)];
                if lines.iter().any(|l| l.sku.as_str() == product.sku) {
                    continue;
                }
                lines.push(NewOrderLine {
                    sku: Sku::parse(&product.sku).map_err(|e| anyhow::anyhow!("{e}"))?,
                    quantity: if rng.random_bool(0.8) {
                        1
                    } else {
                        rng.random_range(2..5)
                    },
                    unit_price_cents: product.price_cents,
                });
            }
            // Today's orders are placed by now, not later today (intake refuses those).
            let placed_at = Utc
                .from_utc_datetime(
                    &day.and_hms_opt(rng.random_range(7..22), rng.random_range(0..60), 0)
                        .unwrap_or_default(),
                )
                .min(crate::clock::now());
            let order = NewOrder {
                number: Reference::parse(&format!("SO-{order_number}"))
                    .map_err(|e| anyhow::anyhow!(e))?,
                placed_at: Some(placed_at),
                customer_email: Email::parse(email).map_err(|e| anyhow::anyhow!(e))?,
                customer_name: name.clone(),
                lines,
                payment_authorized_until: Some(day + Duration::days(7)),
                max_wait_until: None,
                request_hash: format!("demo-{order_number}"),
            };
            // Some products cannot be backordered: the storefront would refuse those orders.
            match crate::services::orders::place_order(conn, &actor, order, day) {
                Ok(_) | Err(crate::error::AppError::Invalid { .. }) => {}
                Err(other) => return Err(err(other)),
            }
        }

        // Ship most orders that have something allocated and were placed before today.
        let ready: Vec<String> = orders::table
            .inner_join(order_lines::table)
            .filter(order_lines::allocated.gt(0))
            .filter(
                orders::placed_at
                    .lt(Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())),
            )
            .select(orders::number)
            .distinct()
            .load(conn)?;
        for number in &ready {
            if day_index < 60 && rng.random_bool(0.85) {
                fulfilment::ship_allocated(conn, &actor, number, day).map_err(err)?;
            }
        }

        // Once a week each supplier gets a purchase order for what runs short.
        if day_index % 7 == (day_index / 7) % 3 {
            for (s, profile) in SUPPLIERS.iter().enumerate() {
                let mut lines = Vec::new();
                for product in products.iter().filter(|p| p.supplier == s) {
                    let row: (i32, i32, i32) = crate::db::schema::products::table
                        .filter(crate::db::schema::products::sku.eq(&product.sku))
                        .select((
                            crate::db::schema::products::on_hand,
                            crate::db::schema::products::allocated,
                            crate::db::schema::products::waiting_units,
                        ))
                        .first(conn)?;
                    let incoming: i64 = in_flight
                        .iter()
                        .flat_map(|(_, _, lines)| lines.iter())
                        .filter(|(sku, _)| sku == &product.sku)
                        .map(|(_, q)| i64::from(*q))
                        .sum();
                    let projected = i64::from(row.0 - row.1 - row.2) + incoming;
                    if projected <= i64::from(product.reorder_point) {
                        let quantity =
                            (i64::from(product.reorder_point) * 3 - projected).clamp(5, 500) as i32;
                        lines.push((product.sku.clone(), quantity));
                    }
                }
                if lines.is_empty() {
                    continue;
                }
                po_number += 1;
                let reference = format!("PO-{po_number}");
                let expected_on = day + Duration::days(profile.lead_days);
                let slip =
                    normalish(&mut rng, profile.mean_slip, profile.slip_spread).round() as i64;
                let arrives = expected_on + Duration::days(slip.max(-profile.lead_days + 1));
                purchasing::create_purchase_order(
                    conn,
                    &actor,
                    NewPurchaseOrder {
                        reference: Reference::parse(&reference).map_err(|e| anyhow::anyhow!(e))?,
                        supplier: profile.name.to_owned(),
                        expected_on,
                        lines: lines
                            .iter()
                            .map(|(sku, q)| {
                                Ok((Sku::parse(sku).map_err(|e| anyhow::anyhow!("{e}"))?, *q))
                            })
                            .collect::<anyhow::Result<Vec<_>>>()?,
                    },
                    day,
                )
                .map_err(err)?;
                in_flight.push((reference, arrives, lines));
            }
        }
        decide_old_proposals(conn, &manager, day, &mut rng)?;
        if day < today {
            crate::services::messages::seed::render_queued_restock_emails(conn, day)?;
        }
        backdate(conn, mark, day)?;
        progress.advance(1);
    }
    progress.finish();
    add_preorder(conn, &customers, today)?;
    // One open purchase order was emailed to its supplier already (issue 18, part 5).
    let first_open: Option<String> = purchase_orders::table
        .filter(purchase_orders::status.eq(PoStatus::Open))
        .order(purchase_orders::id)
        .select(purchase_orders::reference)
        .first(conn)
        .optional()?;
    if let Some(reference) = first_open {
        crate::services::purchasing::supplier_loop::send(conn, &manager, &reference, today)
            .map_err(err)?;
    }
    add_alternatives(conn, today)?;
    // Emails of past days went out on their day (the restock emails were rendered then);
    // today's wait for the delivery worker, and so does any still unrendered: a row marked
    // sent must hold what was sent.
    diesel::sql_query(
        "UPDATE messages SET status = 'sent', attempts = 1, sent_at = created_at + interval '2 minutes',
                smtp_response = '250 2.0.0 Ok (sent during the demo shop''s history)'
          WHERE status = 'queued' AND created_at < $1 AND facts IS NULL",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(day_noon(today))
    .execute(conn)?;
    // The Messages page shows every state of the outbox.
    crate::services::messages::seed::seed_messages(conn).map_err(err)?;
    // Customers who buy often are promoted, so the tier setting has something to sort.
    diesel::sql_query(
        "UPDATE customers c SET tier = CASE WHEN n >= 8 THEN 2 WHEN n >= 5 THEN 1 ELSE 0 END
           FROM (SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id) o
          WHERE o.customer_id = c.id",
    )
    .execute(conn)?;
    let open_pos: i64 = purchase_orders::table
        .filter(purchase_orders::status.eq(PoStatus::Open))
        .count()
        .get_result(conn)?;
    let waiting: i64 = order_lines::table
        .filter(
            order_lines::qty
                .gt(order_lines::allocated + order_lines::shipped + order_lines::cancelled),
        )
        .count()
        .get_result(conn)?;
    let customer_count: i64 = customers::table.count().get_result(conn)?;
    let order_total: i64 = orders::table.count().get_result(conn)?;
    println!(
        "Demo shop: {} products, {customer_count} customers, {order_total} orders ({waiting} lines waiting), {open_pos} open purchase orders.",
        products.len()
    );
    Ok(())
}

/// The database's clock now (not the transaction's start).
fn clock_now(conn: &mut PgConnection) -> anyhow::Result<chrono::DateTime<Utc>> {
    Ok(
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Timestamptz>(
            "clock_timestamp()",
        ))
        .get_result(conn)?,
    )
}

/// Noon of a local day, as an instant.
fn day_noon(day: NaiveDate) -> chrono::DateTime<Utc> {
    day.and_hms_opt(12, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).unwrap_or_default()))
}

/// Dates the emails queued (and the dates they told) since `mark` at `at` exactly.
fn pin_to(
    conn: &mut PgConnection,
    mark: chrono::DateTime<Utc>,
    at: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    for statement in [
        "UPDATE messages SET created_at = $2, next_attempt_at = $2 WHERE created_at >= $1",
        "UPDATE told_dates SET told_at = $2 WHERE told_at >= $1",
    ] {
        diesel::sql_query(statement)
            .bind::<diesel::sql_types::Timestamptz, _>(mark)
            .bind::<diesel::sql_types::Timestamptz, _>(at)
            .execute(conn)?;
    }
    Ok(())
}

/// Moves the timestamps written while replaying `day` (real time, from `mark` on) into
/// that day, keeping their order, so the review's trends, "today" counts and promises
/// kept read the demo's history as it would have happened.
fn backdate(
    conn: &mut PgConnection,
    mark: chrono::DateTime<Utc>,
    day: NaiveDate,
) -> anyhow::Result<()> {
    const COLUMNS: [(&str, &str); 21] = [
        ("order_lines", "waiting_ended_at"),
        ("order_lines", "completed_at"),
        ("order_lines", "created_at"),
        ("orders", "created_at"),
        ("customers", "created_at"),
        ("order_line_eta_changes", "changed_at"),
        ("shipments", "created_at"),
        ("stock_movements", "created_at"),
        ("messages", "created_at"),
        ("messages", "next_attempt_at"),
        ("audit_log", "created_at"),
        ("discount_proposals", "created_at"),
        ("discount_proposals", "decided_at"),
        ("purchase_orders", "created_at"),
        ("purchase_order_receipts", "created_at"),
        ("products", "updated_at"),
        ("told_dates", "told_at"),
        ("eta_updates_pending", "first_changed_at"),
        ("eta_updates_pending", "last_changed_at"),
        ("eta_updates_pending", "due_at"),
        ("eta_update_causes", "changed_at"),
    ];
    for (table, column) in COLUMNS {
        diesel::sql_query(format!(
            "UPDATE {table} SET {column} = $2 + ({column} - $1) WHERE {column} >= $1"
        ))
        .bind::<diesel::sql_types::Timestamptz, _>(mark)
        .bind::<diesel::sql_types::Timestamptz, _>(day_noon(day))
        .execute(conn)?;
    }
    Ok(())
}

/// Managers decide proposals a couple of days after they are made: most approved (with
/// a coupon and an offer email), some rejected with a note. Today's stay pending.
fn decide_old_proposals(
    conn: &mut PgConnection,
    manager: &Actor,
    day: NaiveDate,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    use crate::db::schema::discount_proposals::dsl as d;
    use crate::services::approvals::proposals::{self, Decision};
    let cutoff = day_noon(day - Duration::days(2));
    let due: Vec<i64> = d::discount_proposals
        .filter(d::status.eq("proposed"))
        .filter(d::created_at.lt(cutoff))
        .select(d::id)
        .load(conn)?;
    for id in due {
        let decision = if rng.random_bool(0.75) {
            Decision::Approve { value: None }
        } else {
            Decision::Reject {
                note: "Already compensated with free shipping on the next order".to_owned(),
            }
        };
        proposals::decide(conn, manager, Role::Manager, id, decision)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}
