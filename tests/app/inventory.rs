//! Inventory pages over HTTP: the list, the product page, inline settings, stock
//! adjustments, CSV export and import, and who may change what.

use backorder_desk::db::audit::Actor;
use backorder_desk::db::schema::{order_lines, orders, products, stock_movements};
use backorder_desk::db::users::Role;
use backorder_desk::services::inventory::catalog::{self, ProductChanges};
use backorder_desk::services::orders::{self as order_service, NewOrder, NewOrderLine};
use backorder_desk::services::purchasing::{self, NewPurchaseOrder};
use backorder_desk::types::{Email, Reference, Sku};
use chrono::{Duration, NaiveDate, Utc};
use diesel::prelude::*;

use crate::helpers::{TestApp, spawn_app};

pub fn today() -> NaiveDate {
    backorder_desk::clock::today()
}

/// A product of `supplier` with `on_hand` units (reorder point 2).
pub fn add_product(app: &TestApp, sku: &str, name: &str, supplier: &str, on_hand: i32) {
    catalog::upsert_product(
        &mut app.conn(),
        &Actor::System,
        ProductChanges {
            sku: Sku::parse(sku).unwrap(),
            name: Some(name.to_owned()),
            supplier: Some(supplier.to_owned()),
            on_hand: Some(on_hand),
            backorderable: Some(true),
            reorder_point: Some(2),
            safety_stock: Some(1),
            unit_price_cents: Some(1250),
            suppliers: None,
            preorder_release_on: None,
            alternatives: None,
        },
        today(),
    )
    .unwrap_or_else(|e| panic!("add product {sku}: {e}"));
}

/// An order for `qty` of `sku`, placed `minutes_ago` (older orders come first in the queue).
pub fn place_order(app: &TestApp, number: &str, sku: &str, qty: i32, minutes_ago: i64) {
    order_service::place_order(
        &mut app.conn(),
        &Actor::System,
        NewOrder {
            number: Reference::parse(number).unwrap(),
            placed_at: Some(Utc::now() - Duration::minutes(minutes_ago)),
            customer_email: Email::parse(&format!("{}@customers.test", number.to_lowercase()))
                .unwrap(),
            customer_name: format!("Customer of {number}"),
            lines: vec![NewOrderLine {
                sku: Sku::parse(sku).unwrap(),
                quantity: qty,
                unit_price_cents: 1250,
            }],
            payment_authorized_until: None,
            max_wait_until: None,
            request_hash: number.to_owned(),
        },
        today(),
    )
    .unwrap_or_else(|e| panic!("place order {number}: {e}"));
}

pub fn add_purchase_order(
    app: &TestApp,
    reference: &str,
    supplier: &str,
    lines: &[(&str, i32)],
    expected_in_days: i64,
) {
    purchasing::create_purchase_order(
        &mut app.conn(),
        &Actor::System,
        NewPurchaseOrder {
            reference: Reference::parse(reference).unwrap(),
            supplier: supplier.to_owned(),
            expected_on: today() + Duration::days(expected_in_days),
            lines: lines
                .iter()
                .map(|(sku, qty)| (Sku::parse(sku).unwrap(), *qty))
                .collect(),
        },
        today(),
    )
    .unwrap_or_else(|e| panic!("add purchase order {reference}: {e}"));
}

/// (on_hand, allocated, reorder_point, safety_stock, backorderable) of a product.
pub fn stock_of(app: &TestApp, sku: &str) -> (i32, i32, i32, i32, bool) {
    products::table
        .filter(products::sku.eq(sku))
        .select((
            products::on_hand,
            products::allocated,
            products::reorder_point,
            products::safety_stock,
            products::backorderable,
        ))
        .first(&mut app.conn())
        .unwrap()
}

/// Units allocated to the order's lines.
pub fn allocated_to(app: &TestApp, number: &str) -> i32 {
    order_lines::table
        .inner_join(orders::table)
        .filter(orders::number.eq(number))
        .select(order_lines::allocated)
        .first(&mut app.conn())
        .unwrap()
}

/// A shop with one product backordered by two customers and a purchase order on the way.
pub fn backordered_shop(app: &TestApp) {
    add_product(app, "ANVIL-1", "Cast iron anvil", "Acme Forge", 0);
    add_purchase_order(app, "PO-100", "Acme Forge", &[("ANVIL-1", 5)], 10);
    place_order(app, "A-1001", "ANVIL-1", 2, 30);
    place_order(app, "A-1002", "ANVIL-1", 2, 20);
}

/// A multipart body with the CSRF token and one `file` field, as a browser sends the
/// upload form.
pub async fn upload_csv(app: &TestApp, bytes: &[u8]) -> reqwest::Response {
    let token = app.csrf().await;
    upload_to(app, "/inventory/import", Some(&token), bytes).await
}

/// An upload of `bytes` as the `file` field to `path`, with a `csrf_token` field when
/// given.
pub async fn upload_to(
    app: &TestApp,
    path: &str,
    csrf: Option<&str>,
    bytes: &[u8],
) -> reqwest::Response {
    let boundary = "----backorder-desk-test-boundary";
    let mut body = Vec::new();
    if let Some(token) = csrf {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"products.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.client
        .post(app.url(path))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("POST an upload")
}

/// Page text with the entities Askama writes for quotes turned back into quotes.
pub fn unescaped(html: &str) -> String {
    html.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

pub async fn post_htmx(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let token = app.csrf().await;
    app.client
        .post(app.url(path))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .form(fields)
        .send()
        .await
        .expect("POST (htmx)")
}

#[tokio::test]
async fn the_inventory_searches_filters_sorts_and_pages_products() {
    let app = spawn_app().await;
    backordered_shop(&app);
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 40);
    {
        let mut conn = app.conn();
        let rows: Vec<_> = (0..60)
            .map(|i| {
                (
                    products::sku.eq(format!("WIDGET-{i:03}")),
                    products::name.eq(format!("Widget number {i}")),
                    products::on_hand.eq(100 + i),
                )
            })
            .collect();
        diesel::insert_into(products::table)
            .values(rows)
            .execute(&mut conn)
            .unwrap();
    }
    app.login_as(Role::Rep).await;

    let page = app.get("/inventory").await.text().await.unwrap();
    assert!(page.contains("<h1>Inventory</h1>"), "{page}");
    assert!(page.contains("ANVIL-1") && page.contains("Acme Forge"));
    assert!(page.contains("badge-backorder"), "the anvil is backordered");
    assert!(page.contains("after="), "a next page link: {page}");

    let results = app
        .get_htmx("/inventory?q=anvil")
        .await
        .text()
        .await
        .unwrap();
    assert!(!results.contains("<html"), "htmx gets the fragment only");
    assert!(results.contains("ANVIL-1") && !results.contains("BOLT-7"));

    let backordered = app
        .get("/inventory?status=backorder")
        .await
        .text()
        .await
        .unwrap();
    assert!(backordered.contains("ANVIL-1") && !backordered.contains("BOLT-7"));

    let by_supplier = app.get("/inventory?q=bolt").await.text().await.unwrap();
    assert!(by_supplier.contains("BOLT-7") && !by_supplier.contains("ANVIL-1"));

    // Sorted by on hand, most first: the widgets with 159 units lead.
    let sorted = app
        .get("/inventory?sort=on_hand&dir=desc")
        .await
        .text()
        .await
        .unwrap();
    let first = sorted
        .find("WIDGET-059")
        .expect("the biggest stock is listed");
    assert!(first < sorted.find("WIDGET-058").unwrap());

    // The second page continues where the first ended, and links back.
    let first_page = app.get("/inventory?q=widget").await.text().await.unwrap();
    assert!(first_page.contains("WIDGET-049") && !first_page.contains("WIDGET-050"));
    let start = first_page
        .find("href=\"/inventory?q=widget&#38;after=")
        .unwrap_or_else(|| {
            panic!(
                "next link in {}",
                &first_page[first_page.find("Pages of products").unwrap_or(0)..]
            )
        });
    let href = &first_page[start + 6..];
    let href = href[..href.find('"').unwrap()].replace("&#38;", "&");
    let second_page = app.get(&href).await.text().await.unwrap();
    assert!(second_page.contains("WIDGET-050") && second_page.contains("WIDGET-059"));
    assert!(!second_page.contains("WIDGET-049"));
    assert!(second_page.contains("Previous page"));
}

#[tokio::test]
async fn the_product_page_shows_figures_queue_incoming_ledger_and_timeline() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Rep).await;

    let page = app.get("/inventory/ANVIL-1").await.text().await.unwrap();

    assert!(page.contains("<h1>Cast iron anvil</h1>"), "{page}");
    assert!(page.contains("Queue (2 waiting lines)"));
    let first = page.find("A-1001").unwrap();
    assert!(first < page.find("A-1002").unwrap(), "oldest first");
    assert!(page.contains("1st") && page.contains("2nd"));
    assert!(page.contains("PO-100"), "the incoming purchase order");
    assert!(page.contains("<svg class=\"timeline\""));
    assert!(page.contains("<title id=\"timeline-title\">"));
    assert!(
        page.contains("PO-100 +5"),
        "the arrival is labelled in the chart"
    );
    assert!(page.contains("Stock ledger"));
    assert!(
        !page.contains("Adjust stock"),
        "a rep gets no adjustment form"
    );
}

/// A queue longer than the product page reads: the page lists its first lines in the
/// shop's queue order, whatever the policy, and counts the whole queue.
#[tokio::test]
async fn the_product_page_shows_the_front_of_a_long_queue_in_the_shops_order_and_counts_it_all() {
    let app = spawn_app().await;
    add_product(&app, "LAMP-9", "Desk lamp", "Acme Forge", 0);
    add_purchase_order(&app, "PO-900", "Acme Forge", &[("LAMP-9", 40)], 10);
    let lines = 320;
    for i in 0..lines {
        place_order(
            &app,
            &format!("L-{i:04}"),
            "LAMP-9",
            1 + i % 3,
            2000 - i64::from(i),
        );
    }
    // Tiers and authorizations that disagree with age, so each policy orders differently.
    crate::shop::sql(&app, "UPDATE customers SET tier = (id * 7 % 3)");
    crate::shop::sql(
        &app,
        "UPDATE orders SET payment_authorized_until = current_date + (id * 5 % 9)::int
          WHERE id % 4 <> 0",
    );
    let units: i32 = (0..lines).map(|i| 1 + i % 3).sum();
    app.login_as(Role::Rep).await;

    for (tier_first, lapsing_first) in [(false, false), (true, false), (false, true), (true, true)]
    {
        crate::shop::sql(
            &app,
            &format!(
                "UPDATE shop_settings SET queue_tier_first = {tier_first}, queue_lapsing_first = {lapsing_first}"
            ),
        );
        let policy = backorder_desk::domain::QueuePolicy {
            higher_tier_first: tier_first,
            soonest_lapsing_first: lapsing_first,
        };
        let expected: Vec<String> = backorder_desk::services::engine::queue(
            &mut app.conn(),
            product_id(&app, "LAMP-9"),
            &policy,
        )
        .unwrap()
        .into_iter()
        .take(50)
        .map(|row| row.order_number)
        .collect();

        let page = app.get("/inventory/LAMP-9").await.text().await.unwrap();

        assert!(
            page.contains(&format!("Queue ({lines} waiting lines)")),
            "{page}"
        );
        assert!(page.contains(&format!("The first 50 of {lines} waiting lines.")));
        assert!(
            page.contains(&format!("{units} waiting on {lines} lines.")),
            "the timeline's summary counts every line"
        );
        let table = &page[page.find("id=\"queue-heading\"").unwrap()..];
        let table = &table[..table.find("The first 50 of").unwrap()];
        let mut shown: Vec<(usize, &str)> = expected
            .iter()
            .filter_map(|number| {
                table
                    .find(&format!(">{number}<"))
                    .map(|at| (at, number.as_str()))
            })
            .collect();
        shown.sort_unstable();
        let shown: Vec<&str> = shown.into_iter().map(|(_, number)| number).collect();
        assert_eq!(
            shown, expected,
            "the first 50 lines in the queue's order (tiers first: {tier_first}, lapsing first: {lapsing_first})"
        );
    }
}

fn product_id(app: &TestApp, sku: &str) -> i64 {
    products::table
        .filter(products::sku.eq(sku))
        .select(products::id)
        .get_result(&mut app.conn())
        .unwrap()
}

#[tokio::test]
async fn a_rep_sees_inventory_but_every_change_is_refused() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Rep).await;
    let before = stock_of(&app, "ANVIL-1");

    assert_eq!(app.get("/inventory").await.status(), 200);
    assert_eq!(app.get("/inventory/ANVIL-1").await.status(), 200);
    assert_eq!(app.get_htmx("/inventory/ANVIL-1/edit").await.status(), 403);
    let settings = app
        .post_form(
            "/inventory/ANVIL-1/settings",
            &[("reorder_point", "9"), ("safety_stock", "3")],
        )
        .await;
    assert_eq!(settings.status(), 403);
    let adjust = app
        .post_form(
            "/inventory/ANVIL-1/adjust",
            &[("change", "5"), ("reason", "found_stock")],
        )
        .await;
    assert_eq!(adjust.status(), 403);
    let import = upload_csv(&app, b"sku,name\nNEW-1,New thing\n").await;
    assert_eq!(import.status(), 403);

    assert_eq!(stock_of(&app, "ANVIL-1"), before);
    let created: i64 = products::table
        .filter(products::sku.eq("NEW-1"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(created, 0);
}

#[tokio::test]
async fn a_manager_edits_stock_settings_inline() {
    let app = spawn_app().await;
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 40);
    app.login_as(Role::Manager).await;

    let edit = app.get_htmx("/inventory/BOLT-7/edit").await;
    assert_eq!(edit.status(), 200);
    let edit = edit.text().await.unwrap();
    assert!(
        edit.trim_start().starts_with("<tr") && edit.contains("name=\"reorder_point\""),
        "{edit}"
    );

    let saved = post_htmx(
        &app,
        "/inventory/BOLT-7/settings",
        &[("reorder_point", "12"), ("safety_stock", "4")],
    )
    .await;

    assert_eq!(saved.status(), 200);
    let row = saved.text().await.unwrap();
    assert!(
        row.trim_start().starts_with("<tr") && row.contains(">12<"),
        "{row}"
    );
    assert_eq!(stock_of(&app, "BOLT-7"), (40, 0, 12, 4, false));
}

#[tokio::test]
async fn an_invalid_reorder_point_shows_the_error_in_place_and_changes_nothing() {
    let app = spawn_app().await;
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 40);
    app.login_as(Role::Manager).await;
    let before = stock_of(&app, "BOLT-7");

    let inline = post_htmx(
        &app,
        "/inventory/BOLT-7/settings",
        &[
            ("reorder_point", "-3"),
            ("safety_stock", "lots"),
            ("backorderable", "yes"),
        ],
    )
    .await;

    assert_eq!(inline.status(), 422);
    let row = inline.text().await.unwrap();
    assert!(
        row.trim_start().starts_with("<tr"),
        "the edit row comes back: {row}"
    );
    assert!(
        row.contains("Reorder point: must be between 0 and"),
        "{row}"
    );
    assert!(
        unescaped(&row).contains("Safety stock: \"lots\" is not a whole number"),
        "{row}"
    );
    assert!(row.contains("aria-invalid=\"true\"") && row.contains("value=\"-3\""));
    assert_eq!(stock_of(&app, "BOLT-7"), before);

    let plain = app
        .post_form(
            "/inventory/BOLT-7/settings",
            &[("reorder_point", "1.5"), ("safety_stock", "1")],
        )
        .await;
    assert_eq!(plain.status(), 422);
    assert!(unescaped(&plain.text().await.unwrap()).contains("\"1.5\" is not a whole number"));
    assert_eq!(stock_of(&app, "BOLT-7"), before);
}

#[tokio::test]
async fn a_decrease_below_allocated_units_is_refused() {
    let app = spawn_app().await;
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 5);
    place_order(&app, "B-1", "BOLT-7", 3, 5);
    app.login_as(Role::Manager).await;
    assert_eq!(stock_of(&app, "BOLT-7").1, 3);

    let refused = app
        .post_form(
            "/inventory/BOLT-7/adjust",
            &[("change", "-3"), ("reason", "damaged"), ("note", "dropped")],
        )
        .await;

    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("BOLT-7 cannot lose 3 units: only 2 are not allocated to orders"),
        "{page}"
    );
    assert_eq!(stock_of(&app, "BOLT-7").0, 5);

    let allowed = app
        .post_form(
            "/inventory/BOLT-7/adjust",
            &[("change", "-2"), ("reason", "damaged"), ("note", "dropped")],
        )
        .await;
    assert_eq!(allowed.status(), 303);
    assert_eq!(stock_of(&app, "BOLT-7").0, 3);
    let page = app.get("/inventory/BOLT-7").await.text().await.unwrap();
    assert!(
        page.contains("Damaged: dropped"),
        "the ledger keeps the reason"
    );
}

#[tokio::test]
async fn an_adjustment_needs_a_reason_and_an_increase_serves_the_queue() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Manager).await;

    let no_reason = app
        .post_form(
            "/inventory/ANVIL-1/adjust",
            &[("change", "3"), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status(), 422);
    assert!(no_reason.text().await.unwrap().contains("choose a reason"));
    assert_eq!(stock_of(&app, "ANVIL-1").0, 0);

    let found = app
        .post_form(
            "/inventory/ANVIL-1/adjust",
            &[
                ("change", "3"),
                ("reason", "found_stock"),
                ("note", "behind the shelf"),
            ],
        )
        .await;

    assert_eq!(found.status(), 303);
    assert_eq!(stock_of(&app, "ANVIL-1"), (3, 3, 2, 1, true));
    assert_eq!(
        allocated_to(&app, "A-1001"),
        2,
        "the oldest order is served first"
    );
    assert_eq!(allocated_to(&app, "A-1002"), 1);
    let reasons: Vec<String> = stock_movements::table
        .inner_join(products::table)
        .filter(products::sku.eq("ANVIL-1"))
        .order(stock_movements::id)
        .select(stock_movements::reason)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(reasons, ["adjustment", "allocation", "allocation"]);
}

#[tokio::test]
async fn the_csv_export_holds_the_filtered_view() {
    let app = spawn_app().await;
    backordered_shop(&app);
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 40);
    app.login_as(Role::Rep).await;

    let response = app.get("/inventory.csv?status=backorder").await;

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = response.text().await.unwrap();
    let mut lines = body.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("sku,name,supplier,on_hand,allocated")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{body}");
    assert!(rows[0].starts_with("ANVIL-1,Cast iron anvil,Acme Forge,0,0,0,4,2,5,"));
}

#[tokio::test]
async fn a_csv_import_creates_and_updates_products_and_an_export_imports_back() {
    let app = spawn_app().await;
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 40);
    app.login_as(Role::Manager).await;

    let response = upload_csv(
        &app,
        "sku,name,supplier,reorder_point,safety_stock,backorderable,unit_price\n\
         BOLT-7,,,9,2,no,\n\
         NUT-3,Hex nut,Bolt Brothers,4,1,yes,0.15\n\
         CAF-1,Café table,Möbel AG,1,0,yes,120\n"
            .as_bytes(),
    )
    .await;

    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Imported: 2 products created, 1 updated.")
    );
    assert_eq!(stock_of(&app, "BOLT-7"), (40, 0, 9, 2, false));
    assert_eq!(stock_of(&app, "NUT-3"), (0, 0, 4, 1, true));
    let name: String = products::table
        .filter(products::sku.eq("CAF-1"))
        .select(products::name)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(name, "Café table");

    let export = app.get("/inventory.csv").await.bytes().await.unwrap();
    let again = upload_csv(&app, &export).await;
    assert_eq!(again.status(), 200);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("0 products created, 3 updated")
    );
    assert_eq!(stock_of(&app, "BOLT-7"), (40, 0, 9, 2, false));
}

#[tokio::test]
async fn a_csv_import_with_any_error_changes_nothing_and_names_row_and_column() {
    let app = spawn_app().await;
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 40);
    app.login_as(Role::Manager).await;
    let before = stock_of(&app, "BOLT-7");
    let count =
        |app: &TestApp| -> i64 { products::table.count().get_result(&mut app.conn()).unwrap() };

    let bad_rows = upload_csv(
        &app,
        b"sku,name,reorder_point\nBOLT-7,Hex bolt,8\nNUT-3,Hex nut,lots\nBOLT-7,Again,1\nWASHER-1,,2\n",
    )
    .await;
    assert_eq!(bad_rows.status(), 422);
    let page = bad_rows.text().await.unwrap();
    assert!(page.contains("The import changed nothing"), "{page}");
    let page = unescaped(&page);
    assert!(
        page.contains(
            "<td class=\"num\">3</td><td>reorder_point</td><td>\"lots\" is not a whole number</td>"
        ),
        "{page}"
    );
    assert!(
        page.contains("BOLT-7 appears twice in the file (rows 2 and 4)"),
        "{page}"
    );
    assert_eq!(
        stock_of(&app, "BOLT-7"),
        before,
        "the valid row changed nothing either"
    );
    assert_eq!(count(&app), 1);

    let new_without_name = upload_csv(&app, b"sku,name\nBOLT-7,Renamed\nWASHER-1,\n").await;
    assert_eq!(new_without_name.status(), 422);
    let page = new_without_name.text().await.unwrap();
    assert!(
        page.contains("WASHER-1 is a new product and needs a name"),
        "{page}"
    );
    let name: String = products::table
        .filter(products::sku.eq("BOLT-7"))
        .select(products::name)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(name, "Hex bolt", "rolled back with the rest");

    let latin1 = upload_csv(&app, b"sku,name\nCAF-1,Caf\xe9 table\n").await;
    assert_eq!(latin1.status(), 422);
    let page = latin1.text().await.unwrap();
    assert!(
        page.contains("<td class=\"num\">2</td><td>name</td><td>is not UTF-8 text"),
        "{page}"
    );

    let wrong_header = upload_csv(&app, b"sku,colour\nBOLT-7,red\n").await;
    assert_eq!(wrong_header.status(), 422);
    let page = unescaped(&wrong_header.text().await.unwrap());
    assert!(
        page.contains("<td class=\"num\">1</td><td>colour</td><td>unknown column \"colour\""),
        "{page}"
    );

    let no_sku = upload_csv(&app, b"name,reorder_point\nHex bolt,3\n").await;
    assert_eq!(no_sku.status(), 422);
    assert!(
        no_sku
            .text()
            .await
            .unwrap()
            .contains("the sku column is missing")
    );
    assert_eq!(count(&app), 1);
    assert_eq!(stock_of(&app, "BOLT-7"), before);
}

#[tokio::test]
async fn in_the_browser_a_buyer_receives_a_purchase_order_and_sees_the_queue_shrink() {
    let Some(browser) = crate::browser_helpers::Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    backordered_shop(&app);
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 40);
    let email = app.add_user(Role::Manager);

    browser.goto(&app.url("/login")).await;
    browser.fill_in("Email", &email).await;
    browser.fill_in("Password", crate::helpers::PASSWORD).await;
    browser.press("Sign in").await;
    for _ in 0..150 {
        let at = browser.client.current_url().await.expect("the address");
        if at.path() != "/login" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Only what the inventory walk logs counts below.
    let _ = browser.console_errors().await;

    // Search as you type: htmx swaps the results without a reload.
    browser.goto(&app.url("/inventory")).await;
    browser.heading("Inventory").await;
    browser.fill_in("SKU or name", "anvil").await;
    let mut results = String::new();
    for _ in 0..150 {
        results = browser.text().await;
        if results.contains("ANVIL-1") && !results.contains("BOLT-7") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        results.contains("ANVIL-1") && !results.contains("BOLT-7"),
        "{results}"
    );
    let address = browser.client.current_url().await.expect("the address");
    assert!(
        address.as_str().contains("q=anvil"),
        "the search is in the address: {address}"
    );
    browser
        .client
        .find(fantoccini::Locator::LinkText("ANVIL-1"))
        .await
        .expect("the product's link")
        .click()
        .await
        .expect("open the product");

    browser.heading("Cast iron anvil").await;
    browser.heading("Queue (2 waiting lines)").await;
    browser
        .client
        .find(fantoccini::Locator::LinkText("PO-100"))
        .await
        .expect("the incoming purchase order")
        .click()
        .await
        .expect("open the purchase order");

    browser.heading("Purchase order PO-100").await;
    browser
        .fill_in("ANVIL-1: units arrived (up to 5)", "3")
        .await;
    browser.press("Preview the receipt").await;
    browser.heading("What this receipt will release").await;
    let preview = browser.text().await;
    assert!(
        preview.contains("A-1001") && preview.contains("1st in line"),
        "{preview}"
    );
    browser.press("Receive these units").await;
    browser.heading("Receipts").await;
    let page = browser.text().await;
    assert!(page.contains("Allocated to waiting orders"), "{page}");

    browser.goto(&app.url("/inventory/ANVIL-1")).await;
    browser.heading("Queue (1 waiting line)").await;
    let product = browser.text().await;
    assert!(
        product.contains("A-1002") && !product.contains("A-1001\n"),
        "{product}"
    );
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "the browser reported: {errors:#?}");
    browser.close().await;
}
