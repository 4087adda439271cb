//! The backorder queue: filters, counts, the CSV export and bulk cancel with its preview.

use backorder_desk::db::users::Role;

use crate::helpers::spawn_app;
use crate::shop::{order, product, purchase_order, sql, text_of};

async fn arranged() -> crate::helpers::TestApp {
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    product(&app, "LAMP", 0, 1_000);
    purchase_order(&app, "PO-1", "TENT", 10, 4);
    purchase_order(&app, "PO-2", "LAMP", 10, 6);
    order(&app, "SO-1", "a@example.com", "Ann", "TENT", 2, 5);
    order(&app, "SO-2", "b@example.com", "Bob", "TENT", 1, 2);
    order(&app, "SO-3", "c@example.com", "Cy", "LAMP", 1, 0);
    sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE - 1 FROM orders o WHERE o.id = order_id AND o.number = 'SO-1'",
    );
    app.login_as(Role::Manager).await;
    app
}

#[tokio::test]
async fn the_queue_lists_every_waiting_line_with_its_place_and_flags() {
    let app = arranged().await;

    let text = text_of(&app.get("/queue").await.text().await.unwrap());

    assert!(text.contains("3 waiting lines for 3 customers"), "{text}");
    assert!(text.contains("Overdue (1)"), "{text}");
    assert!(
        text.contains("SO-1 Ann TENT Product TENT 2 5 days 1st"),
        "{text}"
    );
    assert!(
        text.contains("SO-2 Bob TENT Product TENT 1 2 days 2nd"),
        "{text}"
    );
    assert!(text.contains("overdue"), "{text}");

    let overdue = text_of(&app.get("/queue?overdue=1").await.text().await.unwrap());
    assert!(
        overdue.contains("SO-1") && !overdue.contains("SO-2") && !overdue.contains("SO-3"),
        "{overdue}"
    );
    let lamp = app.get_htmx("/queue?sku=LAMP").await.text().await.unwrap();
    assert!(
        !lamp.contains("<html") && lamp.contains("SO-3") && !lamp.contains("SO-1"),
        "{lamp}"
    );
}

#[tokio::test]
async fn the_csv_export_has_the_filtered_view() {
    let app = arranged().await;

    let response = app.get("/queue.csv?sku=TENT").await;

    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    let rows: Vec<&str> = body.lines().collect();
    assert!(rows[0].starts_with("order,customer,email,sku,product,waiting"));
    assert_eq!(rows.len(), 3, "{body}");
    assert!(rows[1].starts_with("SO-1,Ann,a@example.com,TENT"));
}

#[tokio::test]
async fn a_bulk_cancel_previews_then_runs_in_one_go() {
    let app = arranged().await;

    let preview = app
        .post_form(
            "/queue/bulk",
            &[
                ("action", "cancel"),
                ("scope", "all"),
                ("query", "sku=TENT"),
            ],
        )
        .await;
    let text = text_of(&preview.text().await.unwrap());
    assert!(
        text.contains("This touches 2 lines of 2 customers"),
        "{text}"
    );
    assert!(
        text_of(&app.get("/queue").await.text().await.unwrap()).contains("3 waiting lines"),
        "a preview changes nothing"
    );

    let refused = app
        .post_form(
            "/queue/bulk",
            &[
                ("action", "cancel"),
                ("scope", "all"),
                ("query", "sku=TENT"),
                ("confirm", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422, "a cancellation needs a reason");
    // The preview stays with the refusal, so the person still sees what it would touch.
    let text = text_of(&refused.text().await.unwrap());
    assert!(
        text.contains("give a reason for the cancellation")
            && text.contains("This touches 2 lines of 2 customers"),
        "{text}"
    );
    assert!(text_of(&app.get("/queue").await.text().await.unwrap()).contains("3 waiting lines"));

    let done = app
        .post_form(
            "/queue/bulk",
            &[
                ("action", "cancel"),
                ("scope", "all"),
                ("query", "sku=TENT"),
                ("confirm", "1"),
                ("reason", "supplier discontinued it"),
            ],
        )
        .await;
    let text = text_of(&done.text().await.unwrap());
    assert!(
        text.contains("Cancelled the waiting units of 2 lines for 2 customers"),
        "{text}"
    );
    let queue = text_of(&app.get("/queue").await.text().await.unwrap());
    assert!(queue.contains("1 waiting line for 1 customer"), "{queue}");
}

#[tokio::test]
async fn bulk_cancel_of_selected_lines_touches_only_those() {
    let app = arranged().await;
    let ids: Vec<i64> = {
        use backorder_desk::db::schema::order_lines;
        use diesel::prelude::*;
        order_lines::table
            .order(order_lines::id)
            .select(order_lines::id)
            .load(&mut app.conn())
            .unwrap()
    };
    let third = ids[2].to_string();

    let done = app
        .post_form(
            "/queue/bulk",
            &[
                ("action", "cancel"),
                ("scope", "selected"),
                ("line", &third),
                ("confirm", "1"),
                ("reason", "asked by phone"),
            ],
        )
        .await;

    assert!(
        text_of(&done.text().await.unwrap())
            .contains("Cancelled the waiting units of 1 lines for 1 customers")
    );
    let queue = text_of(&app.get("/queue").await.text().await.unwrap());
    assert!(
        queue.contains("2 waiting lines") && !queue.contains("SO-3"),
        "{queue}"
    );
}

#[tokio::test]
async fn the_flags_follow_changes_to_the_order_payment_and_wait_limit() {
    let app = arranged().await;
    // SO-2 waits for PO-1, due in 4 days: an authorization that ends tomorrow lapses
    // first, and a customer who will wait only until tomorrow has waited too long.
    sql(
        &app,
        "UPDATE orders SET payment_authorized_until = CURRENT_DATE + 1, max_wait_until = CURRENT_DATE + 1
          WHERE number = 'SO-2'",
    );
    let text = text_of(&app.get("/queue").await.text().await.unwrap());
    assert!(text.contains("Authorization lapsing (1)"), "{text}");
    assert!(text.contains("Waited too long (1)"), "{text}");
    let lapsing = text_of(&app.get("/queue?lapsing=1").await.text().await.unwrap());
    assert!(
        lapsing.contains("SO-2") && !lapsing.contains("SO-1"),
        "{lapsing}"
    );

    // Once part of the order is captured the authorization no longer lapses, and a
    // customer who lifts the limit no longer waits too long.
    sql(
        &app,
        "UPDATE orders SET payment_state = 'partially_captured', max_wait_until = NULL
          WHERE number = 'SO-2'",
    );
    let text = text_of(&app.get("/queue").await.text().await.unwrap());
    assert!(text.contains("Authorization lapsing (0)"), "{text}");
    assert!(text.contains("Waited too long (0)"), "{text}");
}

#[tokio::test]
async fn shared_counts_are_counted_again_after_a_change_made_here() {
    // Counts kept for a minute: only a change through the app makes them count again.
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.figures_max_age = std::time::Duration::from_secs(60);
    })
    .await;
    product(&app, "TENT", 0, 2_500);
    purchase_order(&app, "PO-1", "TENT", 10, 4);
    order(&app, "SO-1", "a@example.com", "Ann", "TENT", 2, 5);
    order(&app, "SO-2", "b@example.com", "Bob", "TENT", 1, 2);
    app.login_as(Role::Manager).await;
    let text = text_of(&app.get("/queue").await.text().await.unwrap());
    assert!(text.contains("2 waiting lines for 2 customers"), "{text}");

    // A row changed behind the app's back is not counted yet: the answer is shared.
    order(&app, "SO-3", "c@example.com", "Cy", "TENT", 1, 1);
    let text = text_of(&app.get("/queue").await.text().await.unwrap());
    assert!(text.contains("2 waiting lines for 2 customers"), "{text}");

    // A change made through the app (here: cancelling SO-1's line) counts again at once.
    let page = app.get("/orders/SO-1").await.text().await.unwrap();
    let line_id = page
        .split("/lines/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a line action on the order page")
        .to_owned();
    let response = app
        .post_form(
            &format!("/orders/SO-1/lines/{line_id}/cancel"),
            &[("reason", "customer asked"), ("confirm", "yes")],
        )
        .await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{}",
        response.status()
    );
    let text = text_of(&app.get("/queue").await.text().await.unwrap());
    assert!(text.contains("2 waiting lines for 2 customers"), "{text}");
    assert!(text.contains("SO-3") && !text.contains("SO-1 "), "{text}");
}

#[tokio::test]
async fn a_line_with_no_date_and_no_promise_yet_shows_in_the_queue() {
    let app = spawn_app().await;
    product(&app, "CHAIR", 0, 24_000);
    // One unit booked for a line of two, and no lead time: no date, so no promise yet.
    purchase_order(&app, "PO-3", "CHAIR", 1, 4);
    order(&app, "SO-1", "a@example.com", "Ann", "CHAIR", 2, 1);
    app.login_as(Role::Rep).await;
    let response = app.get("/queue").await;
    assert_eq!(response.status(), 200);
    let text = text_of(&response.text().await.unwrap());
    assert!(text.contains("SO-1") && text.contains("no ETA"), "{text}");
}

/// A product of `supplier` with an open purchase order from it (so lines can wait).
fn supplied_product(app: &crate::helpers::TestApp, sku: &str, supplier: &str) {
    use backorder_desk::db::audit::Actor;
    use backorder_desk::services::inventory::catalog::{self, ProductChanges};
    use backorder_desk::services::purchasing::{self, NewPurchaseOrder};
    use backorder_desk::types::{Reference, Sku};
    catalog::upsert_product(
        &mut app.conn(),
        &Actor::System,
        ProductChanges {
            sku: Sku::parse(sku).unwrap(),
            name: Some(format!("Product {sku}")),
            supplier: Some(supplier.to_owned()),
            on_hand: Some(0),
            backorderable: Some(true),
            reorder_point: Some(2),
            safety_stock: None,
            unit_price_cents: Some(1_000),
            suppliers: None,
            preorder_release_on: None,
            alternatives: None,
        },
        crate::shop::today(),
    )
    .unwrap();
    purchasing::create_purchase_order(
        &mut app.conn(),
        &Actor::System,
        NewPurchaseOrder {
            reference: Reference::parse(&format!("PO-{sku}")).unwrap(),
            supplier: supplier.to_owned(),
            expected_on: crate::shop::today() + chrono::Duration::days(5),
            lines: vec![(Sku::parse(sku).unwrap(), 50)],
        },
        crate::shop::today(),
    )
    .unwrap();
}

/// Two suppliers: Acme's TENT has 3 waiting lines, Borealis's LAMP and OAR have 4.
pub async fn two_suppliers() -> (crate::helpers::TestApp, i64) {
    let app = spawn_app().await;
    supplied_product(&app, "TENT", "Acme");
    supplied_product(&app, "LAMP", "Borealis");
    supplied_product(&app, "OAR", "Borealis");
    for (i, (sku, name)) in [
        ("TENT", "Ann"),
        ("LAMP", "Bob"),
        ("TENT", "Cy"),
        ("OAR", "Dee"),
        ("LAMP", "Eve"),
        ("TENT", "Fay"),
        ("OAR", "Gus"),
    ]
    .into_iter()
    .enumerate()
    {
        let number = format!("SO-{}", i + 1);
        let email = format!("{}@example.com", name.to_lowercase());
        order(&app, &number, &email, name, sku, 1, 7 - i as i64);
    }
    let borealis: i64 = {
        use diesel::prelude::*;
        diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT id FROM suppliers WHERE name = 'Borealis'",
        )
        .get_result(&mut app.conn())
        .unwrap()
    };
    (app, borealis)
}

/// The value of the first `attribute="..."` after `marker` in `html`, unescaped.
fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let rest = &html[html.find(marker)?..];
    let start = rest.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    let value = &rest[start..start + rest[start..].find('"')?];
    Some(value.replace("&#38;", "&").replace("&amp;", "&"))
}

#[tokio::test]
async fn after_filtering_in_place_the_preview_and_the_csv_hold_exactly_the_lines_shown() {
    let (app, borealis) = two_suppliers().await;
    app.login_as(Role::Manager).await;

    // What htmx swaps in when the supplier is chosen on the page.
    let fragment = app
        .get_htmx(&format!("/queue?supplier={borealis}"))
        .await
        .text()
        .await
        .unwrap();
    let shown = fragment.matches("name=\"line\"").count();
    assert_eq!(shown, 4, "{fragment}");

    // The bulk form and the CSV link that came with the lines carry the same filter.
    let query = attribute_after(&fragment, "name=\"query\"", "value")
        .expect("the bulk form's query is in the swapped fragment");
    let csv = attribute_after(&fragment, "<p class=\"actions\"><a href", "href")
        .filter(|href| href.starts_with("/queue.csv?"))
        .expect("the CSV link is in the swapped fragment");
    assert_eq!(query, format!("supplier={borealis}"));

    let preview = app
        .post_form(
            "/queue/bulk",
            &[("action", "cancel"), ("scope", "all"), ("query", &query)],
        )
        .await;
    let text = text_of(&preview.text().await.unwrap());
    assert!(
        text.contains(&format!("This touches {shown} lines of {shown} customers")),
        "{text}"
    );
    // The first customers affected, in queue order, with their orders.
    assert!(
        text.contains("Customers affected Bob (SO-2) Dee (SO-4) Eve (SO-5) Gus (SO-7)"),
        "{text}"
    );
    assert!(!text.contains("Ann"), "{text}");

    let body = app.get(&csv).await.text().await.unwrap();
    let rows: Vec<&str> = body.lines().skip(1).collect();
    assert_eq!(rows.len(), shown, "{body}");
    assert!(
        rows.iter()
            .all(|row| row.contains(",LAMP,") || row.contains(",OAR,")),
        "{body}"
    );

    // The counts and quick filters come along out of band, with the same filter.
    assert!(
        text_of(&fragment).contains("4 waiting lines for 4 customers"),
        "{fragment}"
    );
    assert!(
        fragment.contains(&format!(
            "href=\"/queue?supplier={borealis}&#38;overdue=1\""
        )),
        "{fragment}"
    );
}

#[tokio::test]
async fn a_rep_cannot_bulk_cancel_more_lines_than_the_shop_allows_and_a_manager_can() {
    let (app, borealis) = two_suppliers().await;
    let admin = app.add_user(Role::Admin);
    app.login(&admin, crate::helpers::PASSWORD).await;

    // The limit is a setting with a label, checked like every other.
    let page = app.get("/admin/settings").await.text().await.unwrap();
    assert!(
        page.contains(
            "<label for=\"s-bulk_cancel_max_lines\">Bulk cancel without a manager: up to this many lines</label>"
        ),
        "{page}"
    );
    let mut fields: Vec<(String, String)> = [
        "shop_name",
        "currency",
        "handling_days",
        "eta_worst_percentile",
        "delay_discount_percent",
        "delay_discount_after_days",
        "expiry_limit_days",
        "status_update_after_days",
        "placed_at_max_age_days",
    ]
    .iter()
    .map(|name| {
        let value = attribute_after(&page, &format!("name=\"{name}\""), "value").unwrap();
        (name.to_string(), value)
    })
    .collect();
    fields.push(("bulk_cancel_max_lines".into(), "many".into()));
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = app.post_form("/admin/settings", &form).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("<small id=\"e-bulk_cancel_max_lines\" class=\"field-error\">enter a whole number from 0 to 100000</small>"),
        "{html}"
    );
    fields.pop();
    fields.push(("bulk_cancel_max_lines".into(), "3".into()));
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let saved = app.post_form("/admin/settings", &form).await;
    assert_eq!(saved.status(), 303);

    // A rep asks to cancel Borealis's 4 lines: told why not, with no button to confirm.
    app.login_as(Role::Rep).await;
    let query = format!("supplier={borealis}");
    let cancel = [
        ("action", "cancel"),
        ("scope", "all"),
        ("query", query.as_str()),
    ];
    let preview = app.post_form("/queue/bulk", &cancel).await;
    let html = preview.text().await.unwrap();
    let text = text_of(&html);
    assert!(
        text.contains("This touches 4 lines of 4 customers"),
        "{text}"
    );
    assert!(
        text.contains(
            "Cancelling more than 3 lines at once needs a manager. Nothing was cancelled."
        ),
        "{text}"
    );
    assert!(!html.contains("Confirm: "), "{html}");

    // Confirming anyway (an old tab) is refused and changes nothing.
    let mut confirm = cancel.to_vec();
    confirm.extend([("confirm", "1"), ("reason", "supplier stopped")]);
    let forced = app.post_form("/queue/bulk", &confirm).await;
    assert_eq!(forced.status(), 403);
    let queue = text_of(&app.get("/queue").await.text().await.unwrap());
    assert!(queue.contains("7 waiting lines"), "{queue}");

    // Three lines are within the rep's limit.
    let acme = text_of(
        &app.post_form(
            "/queue/bulk",
            &[
                ("action", "cancel"),
                ("scope", "all"),
                ("query", "sku=TENT"),
            ],
        )
        .await
        .text()
        .await
        .unwrap(),
    );
    assert!(acme.contains("Confirm: Cancel the waiting units"), "{acme}");

    // A manager sees the same preview, is told it is over the limit, and may confirm.
    app.login_as(Role::Manager).await;
    let preview = text_of(
        &app.post_form("/queue/bulk", &cancel)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(
        preview.contains("as a manager you may confirm it"),
        "{preview}"
    );
    let done = app.post_form("/queue/bulk", &confirm).await;
    assert_eq!(done.status(), 200);
    assert!(
        text_of(&done.text().await.unwrap())
            .contains("Cancelled the waiting units of 4 lines for 4 customers")
    );
    let queue = text_of(&app.get("/queue").await.text().await.unwrap());
    assert!(queue.contains("3 waiting lines"), "{queue}");
}
