//! A big shop on demand, for the benchmark (issue 8): `seed --products N --orders M` loads
//! suppliers, products, customers, a year of orders, open and received purchase orders and
//! a waiting queue with its ETAs, all with set-based SQL in one transaction, so a million
//! orders load in minutes instead of the hours the services would take row by row.
//!
//! The data keeps the invariants the engine keeps: `on_hand` and `allocated` are the sums
//! of the ledger, `allocated <= on_hand`, a product with waiting lines has nothing free,
//! the per-product waiting counters match the lines, and every waiting line has a queue
//! position, a promise and an ETA computed from the open purchase orders.

use crate::progress::Progress;
use std::time::Instant;

use anyhow::{Context, bail};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

/// What was loaded, for the one-line summary.
pub struct LargeShop {
    pub products: i64,
    pub orders: i64,
    pub order_lines: i64,
    pub waiting_lines: i64,
    pub open_purchase_order_lines: i64,
    pub customers: i64,
    pub seconds: f64,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    value: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct IndexDef {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

/// The tables that get millions of rows: their secondary indexes and foreign keys are
/// dropped for the load and rebuilt once at the end (one sort each instead of millions of
/// index insertions and key lookups).
const BIG_TABLES: &str = "'customers', 'orders', 'order_lines', 'stock_movements'";

/// A non-negative deterministic hash of a bigint expression, so the same arguments load
/// the same shop.
fn h(expr: &str) -> String {
    format!("(hashint8(({expr})::bigint)::bigint & 2147483647)")
}

pub fn load(conn: &mut PgConnection, products: u32, orders: u32) -> anyhow::Result<LargeShop> {
    load_with(conn, products, orders, &Progress::hidden())
}

/// `load`, reporting each step (and each rebuilt index) as it is done.
pub fn load_with(
    conn: &mut PgConnection,
    products: u32,
    orders: u32,
    progress: &Progress,
) -> anyhow::Result<LargeShop> {
    if products < 10 {
        bail!("--products must be at least 10");
    }
    if orders < 1 {
        bail!("--orders must be at least 1");
    }
    let has_data: Flag = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM products)
             OR EXISTS (SELECT 1 FROM orders) OR EXISTS (SELECT 1 FROM customers)
             OR EXISTS (SELECT 1 FROM suppliers) AS value",
    )
    .get_result(conn)?;
    if has_data.value {
        bail!(
            "the database is not empty: `seed --products N --orders M` loads only into an empty database"
        );
    }

    let started = Instant::now();
    let p = i64::from(products);
    let o = i64::from(orders);
    let customers = (o / 5).max(10);
    let suppliers = (p / 1000).clamp(5, 200);
    // Orders after this id are the last ~33 days: their lines are still open.
    let recent_after = o - o * 9 / 100;

    conn.transaction::<_, anyhow::Error, _>(|conn| {
        conn.batch_execute(
            "SET LOCAL synchronous_commit = off;
             SET LOCAL maintenance_work_mem = '256MB';
             SET LOCAL work_mem = '64MB';",
        )?;
        let indexes: Vec<IndexDef> = diesel::sql_query(format!(
            "SELECT i.indexname::text AS name, i.indexdef AS definition FROM pg_indexes i
             WHERE i.schemaname = current_schema() AND i.tablename IN ({BIG_TABLES})
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ))
        .load(conn)?;
        let foreign_keys: Vec<ForeignKey> = diesel::sql_query(format!(
            "SELECT conrelid::regclass::text AS table_name, conname::text AS name,
                    pg_get_constraintdef(oid) AS definition
             FROM pg_constraint
             WHERE contype = 'f' AND conrelid::regclass::text IN ({BIG_TABLES})"
        ))
        .load(conn)?;
        for fk in &foreign_keys {
            conn.batch_execute(&format!(
                "ALTER TABLE {} DROP CONSTRAINT \"{}\"",
                fk.table_name, fk.name
            ))?;
        }
        for index in &indexes {
            conn.batch_execute(&format!("DROP INDEX \"{}\"", index.name))?;
        }

        // The steps below, one `step` each.
        progress.stage("Large shop: loading", 9);
        step(conn, progress, "suppliers", &format!(
            "INSERT INTO suppliers (id, name, email, lead_time_days, created_at)
             SELECT i, 'Supplier ' || lpad(i::text, 3, '0') || ' ' ||
                    (ARRAY['Works','Trading','Imports','Manufacturing','Goods'])[1 + (i % 5)::int],
                    'orders@supplier' || i || '.example', 7 + (i * 7) % 35, now() - interval '3 years'
             FROM generate_series(1::bigint, {suppliers}) i"
        ))?;
        step(conn, progress, "products", &format!(
            "INSERT INTO products (id, sku, name, supplier_id, reorder_point, safety_stock,
                                   backorderable, unit_price_cents, created_at, updated_at)
             SELECT i, 'SKU-' || lpad(i::text, 6, '0'),
                    (ARRAY['Oak','Walnut','Steel','Brass','Linen','Wool','Cedar','Copper','Slate','Maple'])[1 + (i % 10)::int]
                    || ' ' ||
                    (ARRAY['desk lamp','bookshelf','side table','armchair','rug','mirror','coat rack',
                           'stool','planter','wall clock','cabinet','bench'])[1 + ((i / 10) % 12)::int]
                    || ' ' || i,
                    1 + {hs} % {suppliers}, 5 + i % 20, i % 5, true, 990 + {hp} % 40000,
                    now() - interval '2 years', now()
             FROM generate_series(1::bigint, {p}) i",
            hs = h("i"),
            hp = h("i * 31"),
        ))?;
        step(conn, progress, "customers", &format!(
            "INSERT INTO customers (id, email, name, tier, created_at)
             SELECT i, 'customer' || i || '@example.test',
                    (ARRAY['Ada','Ben','Chloe','Dan','Eva','Finn','Grace','Hugo','Iris','Jonas','Kim','Lena'])[1 + (i % 12)::int]
                    || ' ' ||
                    (ARRAY['Meyer','Novak','Okafor','Perez','Quinn','Rossi','Schmidt','Tanaka','Ulrich','Varga'])[1 + ((i / 12) % 10)::int],
                    CASE WHEN i % 20 = 0 THEN 1 ELSE 0 END, now() - interval '2 years'
             FROM generate_series(1::bigint, {customers}) i"
        ))?;
        // A year of orders, oldest first; the last 9% are recent and still open.
        step(conn, progress, "orders", &format!(
            "INSERT INTO orders (id, number, customer_id, placed_at, payment_authorized_until,
                                 payment_state, created_at)
             SELECT i, 'SO-' || lpad(i::text, 7, '0'), 1 + {hc} % {customers}, t.at,
                    CASE WHEN i > {recent_after} THEN (t.at + interval '30 days')::date END,
                    CASE WHEN i > {recent_after} THEN 'authorized' ELSE 'captured' END, t.at
             FROM generate_series(1::bigint, {o}) i
             CROSS JOIN LATERAL (
                 SELECT now() - ({o} - i) * (31536000.0 / {o}) * interval '1 second' AS at
             ) t",
            hc = h("i"),
        ))?;
        // One to four lines an order. Recent lines on every tenth product (the ones out of
        // stock) wait; other recent lines are allocated or shipped; older lines shipped or
        // cancelled, those of out-of-stock products after a wait of their own.
        // The copies of the order's fields are written here, set-based, with the row
        // trigger that keeps them (a lookup of the order per line) off for the load.
        step(conn, progress, "order lines", &format!(
            "ALTER TABLE order_lines DISABLE TRIGGER order_lines_copy_order_fields;
             INSERT INTO order_lines (order_id, product_id, customer_id, placed_at, qty, allocated,
                                      shipped, cancelled, unit_price_cents, promised_on,
                                      waiting_since, waiting_ended_at, waiting_ended_by,
                                      completed_at, created_at, lapses_on, wait_limit_on)
             SELECT o.id, pr.id, o.customer_id, o.placed_at, q.qty,
                    CASE s.state WHEN 'allocated' THEN q.qty
                                 WHEN 'waiting' THEN CASE WHEN q.qty >= 2 AND x.h % 10 = 0 THEN 1 ELSE 0 END
                                 ELSE 0 END,
                    CASE s.state WHEN 'shipped' THEN q.qty ELSE 0 END,
                    CASE s.state WHEN 'cancelled' THEN q.qty ELSE 0 END,
                    pr.unit_price_cents,
                    CASE WHEN s.waited AND s.state <> 'waiting' THEN (o.placed_at + interval '14 days')::date END,
                    CASE WHEN s.waited THEN o.placed_at END,
                    CASE WHEN s.waited AND s.state <> 'waiting' THEN o.placed_at + s.wait END,
                    CASE WHEN s.waited AND s.state = 'shipped' THEN 'filled'
                         WHEN s.waited AND s.state = 'cancelled' THEN 'cancelled' END,
                    CASE WHEN s.state IN ('shipped', 'cancelled')
                         THEN o.placed_at + CASE WHEN s.waited THEN s.wait + interval '1 day' ELSE interval '2 days' END END,
                    o.placed_at,
                    CASE WHEN o.payment_state = 'authorized' THEN o.payment_authorized_until END,
                    o.max_wait_until
             FROM orders o
             CROSS JOIN LATERAL generate_series(1::bigint, 1 + {hn} % 4) k
             CROSS JOIN LATERAL (SELECT {hl} AS h) x
             CROSS JOIN LATERAL (
                 SELECT CASE WHEN o.id > {recent_after} AND x.h % 100 < 40
                             THEN 10 * (1 + (x.h / 100 + k * 7) % ({p} / 10))
                             ELSE 1 + (x.h / 100 + k * 7919) % {p} END AS product_id
             ) pick
             JOIN products pr ON pr.id = pick.product_id
             CROSS JOIN LATERAL (SELECT 1 + (x.h / 7) % 3 AS qty) q
             CROSS JOIN LATERAL (
                 SELECT CASE WHEN o.id > {recent_after} AND pr.id % 10 = 0 THEN 'waiting'
                             WHEN o.id > {recent_after} AND x.h % 2 = 0 THEN 'allocated'
                             WHEN x.h % 100 < 3 THEN 'cancelled'
                             ELSE 'shipped' END AS state,
                        pr.id % 10 = 0 AS waited,
                        (5 + x.h % 20) * interval '1 day' AS wait
             ) s;
             ALTER TABLE order_lines ENABLE TRIGGER order_lines_copy_order_fields;",
            hn = h("o.id * 7 + 3"),
            hl = h("o.id * 4 + k"),
        ))?;

        // The open lines (waiting or allocated): a few percent of all lines.
        step(conn, progress, "open lines", &format!(
            "CREATE TEMP TABLE seed_open_lines ON COMMIT DROP AS
             SELECT id, product_id, placed_at, allocated, qty - allocated - shipped - cancelled AS short,
                    {hw} AS h
             FROM order_lines WHERE qty > shipped + cancelled;
             CREATE TEMP TABLE seed_waiting ON COMMIT DROP AS
             SELECT id, product_id, short, h,
                    row_number() OVER w AS position,
                    sum(short) OVER (w ROWS UNBOUNDED PRECEDING) AS need_to
             FROM seed_open_lines WHERE short > 0
             WINDOW w AS (PARTITION BY product_id ORDER BY placed_at, id);",
            hw = h("id"),
        ))?;
        // Stock: what is allocated is on the shelf; out-of-stock products have nothing
        // more, the others a little free stock.
        step(conn, progress, "stock", &format!(
            "UPDATE products p
             SET allocated = coalesce(a.allocated, 0), waiting_units = coalesce(w.units, 0),
                 waiting_lines = coalesce(w.lines, 0),
                 on_hand = coalesce(a.allocated, 0) + CASE WHEN p.id % 10 = 0 THEN 0 ELSE 3 + {hq} % 60 END
             FROM products p2
             LEFT JOIN (SELECT product_id, sum(allocated)::int AS allocated FROM seed_open_lines
                        GROUP BY product_id) a ON a.product_id = p2.id
             LEFT JOIN (SELECT product_id, sum(short)::int AS units, count(*)::int AS lines
                        FROM seed_waiting GROUP BY product_id) w ON w.product_id = p2.id
             WHERE p.id = p2.id;
             INSERT INTO stock_movements (product_id, reason, on_hand_delta, allocated_delta, note, created_at)
             SELECT id, 'adjustment', on_hand, 0, 'opening stock', now() - interval '2 years'
             FROM products WHERE on_hand > 0;
             INSERT INTO stock_movements (product_id, reason, on_hand_delta, allocated_delta,
                                          order_line_id, created_at)
             SELECT product_id, 'allocation', 0, allocated, id, placed_at
             FROM seed_open_lines WHERE allocated > 0;",
            hq = h("p.id * 13"),
        ))?;

        // Purchase orders: eight received ones per supplier in the past (its delivery
        // history: a few days early to a week late), and one open line for every
        // out-of-stock product, in four waves per supplier (the first one overdue).
        step(conn, progress, "purchase orders", &format!(
            "INSERT INTO purchase_orders (reference, supplier_id, status, ordered_on, expected_on,
                                          received_on, created_at)
             SELECT 'PO-H-' || s.id || '-' || n, s.id, 'received',
                    current_date - 40 * n - s.lead_time_days, current_date - 40 * n,
                    current_date - 40 * n + ({hslip} % 9)::int - 2,
                    now() - (40 * n + s.lead_time_days) * interval '1 day'
             FROM suppliers s CROSS JOIN generate_series(1, 8) n;
             INSERT INTO purchase_order_lines (purchase_order_id, product_id, qty_ordered, qty_received)
             SELECT po.id, pr.id, 20 + pr.id % 30, 20 + pr.id % 30
             FROM purchase_orders po
             JOIN products pr ON pr.supplier_id = po.supplier_id
                             AND {hprod} % 8 = split_part(po.reference, '-', 4)::int - 1
             WHERE po.status = 'received';
             INSERT INTO purchase_order_receipts (purchase_order_id, received_on, expected_on, created_at)
             SELECT id, received_on, expected_on, received_on::timestamptz
             FROM purchase_orders WHERE status = 'received';
             INSERT INTO receipt_lines (receipt_id, purchase_order_line_id, quantity)
             SELECT r.id, l.id, l.qty_received
             FROM purchase_order_receipts r
             JOIN purchase_order_lines l ON l.purchase_order_id = r.purchase_order_id;
             INSERT INTO purchase_orders (reference, supplier_id, status, ordered_on, expected_on, created_at)
             SELECT DISTINCT ON (pr.supplier_id, (pr.id / 10) % 4)
                    'PO-' || pr.supplier_id || '-' || (pr.id / 10) % 4, pr.supplier_id, 'open',
                    current_date - 20, current_date + ((pr.id / 10) % 4)::int * 9 - 4 + (pr.supplier_id % 3)::int,
                    now() - interval '20 days'
             FROM products pr WHERE pr.id % 10 = 0;
             INSERT INTO purchase_order_lines (purchase_order_id, product_id, qty_ordered)
             SELECT po.id, pr.id,
                    greatest(5, pr.waiting_units * (40 + ({hcov} % 80)::int) / 100)
             FROM products pr
             JOIN purchase_orders po ON po.reference = 'PO-' || pr.supplier_id || '-' || (pr.id / 10) % 4
             WHERE pr.id % 10 = 0;",
            hslip = h("s.id * 100 + n"),
            hprod = h("pr.id * 17"),
            hcov = h("pr.id * 7"),
        ))?;

        // ETAs: each waiting line is covered by the first open purchase order whose running
        // total of incoming units reaches the line's place in the queue; past them all, the
        // supplier's lead time gives an estimate.
        step(conn, progress, "etas",
            "CREATE TEMP TABLE seed_incoming ON COMMIT DROP AS
             SELECT l.product_id, po.reference, po.expected_on, l.qty_ordered - l.qty_received AS units,
                    sum(l.qty_ordered - l.qty_received)
                        OVER (PARTITION BY l.product_id ORDER BY po.expected_on, po.id) AS cum
             FROM purchase_order_lines l JOIN purchase_orders po ON po.id = l.purchase_order_id
             WHERE po.status = 'open' AND l.qty_received < l.qty_ordered;
             CREATE INDEX ON seed_incoming (product_id, cum);
             ANALYZE seed_incoming;
             ANALYZE seed_waiting;
             UPDATE order_lines l
             SET queue_position = e.position, eta_likely = e.likely, eta_worst = e.worst,
                 eta_is_estimate = e.is_estimate,
                 promised_on = CASE WHEN e.h % 100 < 15 THEN current_date - 1 - (e.h % 20)::int
                                    ELSE e.worst END,
                 eta_reason = e.position ||
                     CASE WHEN e.position % 100 BETWEEN 11 AND 13 THEN 'th'
                          WHEN e.position % 10 = 1 THEN 'st' WHEN e.position % 10 = 2 THEN 'nd'
                          WHEN e.position % 10 = 3 THEN 'rd' ELSE 'th' END
                     || ' in line for ' || e.sku || '; ' ||
                     CASE WHEN e.reference IS NULL
                          THEN 'past all incoming purchase orders, estimated from the supplier''s '
                               || e.lead_time_days || '-day lead time'
                          WHEN e.expected_on < current_date
                          THEN e.reference || ' brings ' || e.units || CASE WHEN e.units = 1 THEN ' unit' ELSE ' units' END
                               || ', due ' || to_char(e.expected_on, 'FMDy FMDD Mon') || ' and '
                               || (current_date - e.expected_on) || CASE WHEN current_date - e.expected_on = 1 THEN ' day' ELSE ' days' END
                               || ' overdue'
                          ELSE e.reference || ' brings ' || e.units || CASE WHEN e.units = 1 THEN ' unit' ELSE ' units' END
                               || ' on ' || to_char(e.expected_on, 'FMDy FMDD Mon') END
             FROM (
                 SELECT w.id, w.position, w.h, pr.sku, s.lead_time_days, c.reference, c.expected_on, c.units,
                        c.reference IS NULL AS is_estimate,
                        CASE WHEN c.reference IS NULL THEN current_date + s.lead_time_days
                             ELSE greatest(c.expected_on, current_date) + 1 END AS likely,
                        CASE WHEN c.reference IS NULL THEN current_date + s.lead_time_days + 7 + s.lead_time_days / 2
                             ELSE greatest(c.expected_on, current_date) + 3 + (pr.supplier_id % 5)::int END AS worst
                 FROM seed_waiting w
                 JOIN products pr ON pr.id = w.product_id
                 JOIN suppliers s ON s.id = pr.supplier_id
                 LEFT JOIN LATERAL (
                     SELECT i.reference, i.expected_on, i.units FROM seed_incoming i
                     WHERE i.product_id = w.product_id AND i.cum >= w.need_to
                     ORDER BY i.cum LIMIT 1
                 ) c ON true
             ) e
             WHERE l.id = e.id;"
        )?;

        progress.stage("Large shop: rebuilding indexes", indexes.len() as u64);
        for index in &indexes {
            let started = Instant::now();
            conn.batch_execute(&index.definition)
                .with_context(|| format!("rebuilding {}", index.name))?;
            progress.note(&format!(
                "  index {}: {} ms",
                index.name,
                started.elapsed().as_millis()
            ));
            progress.advance(1);
        }
        progress.finish();
        for fk in &foreign_keys {
            conn.batch_execute(&format!(
                "ALTER TABLE {} ADD CONSTRAINT \"{}\" {}",
                fk.table_name, fk.name, fk.definition
            ))
            .with_context(|| format!("restoring {}", fk.name))?;
        }
        conn.batch_execute(
            "SELECT setval(pg_get_serial_sequence('suppliers', 'id'), (SELECT max(id) FROM suppliers));
             SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT max(id) FROM products));
             SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers));
             SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders));",
        )?;
        Ok(())
    })?;
    // Outside the transaction: the visibility map lets the queue's partial indexes answer
    // from the index alone, and the planner needs statistics for the new rows.
    conn.batch_execute(
        "VACUUM (ANALYZE) suppliers, products, customers, orders, order_lines, stock_movements,
                 purchase_orders, purchase_order_lines, purchase_order_receipts, receipt_lines",
    )?;

    let count = |conn: &mut PgConnection, sql: &str| -> anyhow::Result<i64> {
        Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n)
    };
    Ok(LargeShop {
        products: count(conn, "SELECT count(*) AS n FROM products")?,
        orders: count(conn, "SELECT count(*) AS n FROM orders")?,
        order_lines: count(conn, "SELECT count(*) AS n FROM order_lines")?,
        waiting_lines: count(
            conn,
            "SELECT coalesce(sum(waiting_lines), 0)::bigint AS n FROM products",
        )?,
        open_purchase_order_lines: count(
            conn,
            "SELECT count(*) AS n FROM purchase_order_lines WHERE qty_received < qty_ordered",
        )?,
        customers: count(conn, "SELECT count(*) AS n FROM customers")?,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Runs one step of the load and says how long it took.
fn step(conn: &mut PgConnection, progress: &Progress, what: &str, sql: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    conn.batch_execute(sql)
        .with_context(|| format!("loading {what}"))?;
    progress.note(&format!("  {what}: {} ms", started.elapsed().as_millis()));
    progress.advance(1);
    Ok(())
}
