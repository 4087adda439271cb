//! The benchmark's large shop, loaded small: the stock, the ledger, the queue counters and
//! the queue positions agree as the engine keeps them, and the pages open on it.

use backorder_desk::db::users::Role;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::helpers::{TestDatabase, spawn_app_on};

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::dsl::sql::<BigInt>(sql)
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn a_small_large_shop_keeps_the_engines_invariants_and_its_pages_open() {
    // Arrange: 200 products and 2,000 orders through the bulk loader.
    let database = TestDatabase::new();
    let mut conn = database.connect();
    let shop = backorder_desk::seed_large::load(&mut conn, 200, 2000).expect("seed");
    assert_eq!(shop.products, 200);
    assert_eq!(shop.orders, 2000);
    assert!(shop.order_lines > 4000, "{} lines", shop.order_lines);
    assert!(shop.waiting_lines > 50, "{} waiting", shop.waiting_lines);
    assert!(shop.open_purchase_order_lines >= 20);

    // Assert: the invariants, in SQL.
    let checks = [
        (
            "a product allocates more than it has",
            "SELECT count(*) FROM products WHERE allocated > on_hand",
        ),
        (
            "on_hand or allocated differ from the ledger",
            "SELECT count(*) FROM products p
             LEFT JOIN (SELECT product_id, sum(on_hand_delta) AS on_hand,
                               sum(allocated_delta) AS allocated
                        FROM stock_movements GROUP BY product_id) m ON m.product_id = p.id
             WHERE p.on_hand <> coalesce(m.on_hand, 0) OR p.allocated <> coalesce(m.allocated, 0)",
        ),
        (
            "allocated differs from the lines' allocations",
            "SELECT count(*) FROM products p
             LEFT JOIN (SELECT product_id, sum(allocated) AS allocated FROM order_lines
                        GROUP BY product_id) l ON l.product_id = p.id
             WHERE p.allocated <> coalesce(l.allocated, 0)",
        ),
        (
            "the waiting counters differ from the lines",
            "SELECT count(*) FROM products p
             LEFT JOIN (SELECT product_id, count(*) AS lines,
                               sum(qty - allocated - shipped - cancelled) AS units
                        FROM order_lines WHERE qty > allocated + shipped + cancelled
                        GROUP BY product_id) w ON w.product_id = p.id
             WHERE p.waiting_lines <> coalesce(w.lines, 0) OR p.waiting_units <> coalesce(w.units, 0)",
        ),
        (
            "a waiting line has no position, ETA, promise or start",
            "SELECT count(*) FROM order_lines WHERE qty > allocated + shipped + cancelled
               AND (queue_position IS NULL OR eta_worst IS NULL OR eta_likely IS NULL
                    OR promised_on IS NULL OR eta_reason IS NULL OR waiting_since IS NULL)",
        ),
        (
            "queue positions are not 1..n per product",
            "SELECT count(*) FROM (
                 SELECT queue_position, row_number() OVER (PARTITION BY product_id
                                                           ORDER BY placed_at, id) AS expected
                 FROM order_lines WHERE qty > allocated + shipped + cancelled) q
             WHERE queue_position <> expected",
        ),
        (
            "a product with waiting lines has free stock",
            "SELECT count(*) FROM products WHERE waiting_lines > 0 AND on_hand > allocated",
        ),
        (
            "a line's customer or time differs from its order",
            "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id
             WHERE l.customer_id <> o.customer_id OR l.placed_at <> o.placed_at",
        ),
    ];
    for (what, sql) in checks {
        assert_eq!(count(&mut conn, sql), 0, "{what}");
    }

    // A second load is refused: the database is not empty any more.
    let refused = backorder_desk::seed_large::load(&mut conn, 200, 2000)
        .err()
        .expect("a second seed is refused");
    assert!(refused.to_string().contains("not empty"), "{refused}");

    let number: String = diesel::dsl::sql::<Text>(
        "SELECT o.number FROM orders o JOIN order_lines l ON l.order_id = o.id
         WHERE l.qty > l.allocated + l.shipped + l.cancelled ORDER BY o.id LIMIT 1",
    )
    .get_result(&mut conn)
    .expect("a waiting order");
    let sku: String = diesel::dsl::sql::<Text>(
        "SELECT sku FROM products WHERE waiting_lines > 0 ORDER BY id LIMIT 1",
    )
    .get_result(&mut conn)
    .expect("a backordered product");
    drop(conn);

    // Act: a rep opens the pages.
    let app = spawn_app_on(database, |_| {}).await;
    app.login_as(Role::Rep).await;
    for path in [
        "/".to_owned(),
        "/queue".to_owned(),
        "/queue?overdue=1".to_owned(),
        "/queue?sort=delay".to_owned(),
        "/inventory".to_owned(),
        "/inventory?q=oak".to_owned(),
        format!("/inventory/{sku}"),
        "/orders?q=SO-00019".to_owned(),
        format!("/orders/{number}"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "GET {path}");
    }
}
