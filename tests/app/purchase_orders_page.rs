//! Purchase-order pages over HTTP: the list, creating with several lines, the previewed
//! date change and receipt, receiving once however often the form is posted, cancelling,
//! reorder suggestions, and who may change what.

use backorder_desk::db::audit::Actor;
use backorder_desk::db::schema::{
    order_lines, orders, purchase_order_date_changes, purchase_order_lines,
    purchase_order_receipts, purchase_orders,
};
use backorder_desk::db::users::Role;
use backorder_desk::services::inventory::subscriptions;
use backorder_desk::types::{Email, Sku};
use chrono::{Duration, NaiveDate};
use diesel::prelude::*;

use crate::helpers::{TestApp, spawn_app};
use crate::inventory::{
    add_product, add_purchase_order, allocated_to, backordered_shop, place_order, stock_of, today,
};

fn line_id(app: &TestApp, reference: &str) -> i64 {
    purchase_order_lines::table
        .inner_join(purchase_orders::table)
        .filter(purchase_orders::reference.eq(reference))
        .select(purchase_order_lines::id)
        .first(&mut app.conn())
        .unwrap()
}

fn received(app: &TestApp, reference: &str) -> i32 {
    purchase_order_lines::table
        .inner_join(purchase_orders::table)
        .filter(purchase_orders::reference.eq(reference))
        .select(purchase_order_lines::qty_received)
        .first(&mut app.conn())
        .unwrap()
}

fn po_state(app: &TestApp, reference: &str) -> (String, NaiveDate) {
    purchase_orders::table
        .filter(purchase_orders::reference.eq(reference))
        .select((purchase_orders::status, purchase_orders::expected_on))
        .first(&mut app.conn())
        .unwrap()
}

fn eta_worst(app: &TestApp, number: &str) -> Option<NaiveDate> {
    order_lines::table
        .inner_join(orders::table)
        .filter(orders::number.eq(number))
        .select(order_lines::eta_worst)
        .first(&mut app.conn())
        .unwrap()
}

/// The value of a hidden input in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn the_list_shows_open_purchase_orders_with_outstanding_units_and_late_flag() {
    let app = spawn_app().await;
    backordered_shop(&app);
    add_purchase_order(&app, "PO-LATE", "Acme Forge", &[("ANVIL-1", 3)], 10);
    diesel::update(purchase_orders::table.filter(purchase_orders::reference.eq("PO-LATE")))
        .set(purchase_orders::expected_on.eq(today() - Duration::days(2)))
        .execute(&mut app.conn())
        .unwrap();
    app.login_as(Role::Rep).await;

    let page = app.get("/purchase-orders").await.text().await.unwrap();

    assert!(page.contains("<h1>Purchase orders</h1>"), "{page}");
    assert!(page.contains("PO-100") && page.contains("Acme Forge"));
    let late = page.find("PO-LATE").unwrap();
    assert!(
        late < page.find("PO-100").unwrap(),
        "the late one comes first"
    );
    assert!(page[late..].contains("late</span>"));
    assert!(
        !page.contains("New purchase order"),
        "a rep is not offered to create one"
    );
}

#[tokio::test]
async fn a_manager_creates_a_purchase_order_with_several_lines() {
    let app = spawn_app().await;
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 4);
    add_product(&app, "NUT-3", "Hex nut", "Bolt Brothers", 4);
    app.login_as(Role::Manager).await;
    let form = app.get("/purchase-orders/new").await.text().await.unwrap();
    assert!(form.contains("Add a line"), "{form}");
    let line = app
        .get_htmx("/purchase-orders/new/line")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        line.starts_with("<fieldset") && line.contains("name=\"sku\""),
        "{line}"
    );
    let expected = (today() + Duration::days(7)).to_string();

    let response = app
        .post_form(
            "/purchase-orders",
            &[
                ("reference", "PO-2001"),
                ("supplier", "Bolt Brothers"),
                ("expected_on", &expected),
                ("sku", "BOLT-7"),
                ("qty", "100"),
                ("sku", "NUT-3"),
                ("qty", "250"),
                ("sku", ""),
                ("qty", ""),
            ],
        )
        .await;

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/purchase-orders/PO-2001");
    let page = app
        .get("/purchase-orders/PO-2001")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Purchase order PO-2001")
            && page.contains("BOLT-7")
            && page.contains("NUT-3")
    );
    let inventory = app.get("/inventory?q=bolt").await.text().await.unwrap();
    assert!(
        inventory.contains(">100<"),
        "the bolts are incoming: {inventory}"
    );
}

#[tokio::test]
async fn a_purchase_order_with_bad_lines_is_not_created() {
    let app = spawn_app().await;
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 4);
    app.login_as(Role::Manager).await;
    let expected = (today() + Duration::days(7)).to_string();
    // Issue 13: a purchase order may be dated up to a year back (a late order still on its
    // way), not further.
    let too_old = (today() - Duration::days(400)).to_string();

    let bad_qty = app
        .post_form(
            "/purchase-orders",
            &[
                ("reference", "PO-2002"),
                ("supplier", "Bolt Brothers"),
                ("expected_on", &too_old),
                ("sku", "BOLT-7"),
                ("qty", "0"),
                ("sku", "BOLT-7"),
                ("qty", "5"),
            ],
        )
        .await;
    assert_eq!(bad_qty.status(), 422);
    let page = bad_qty.text().await.unwrap();
    assert!(
        page.contains("the expected date cannot be more than a year ago"),
        "{page}"
    );
    assert!(
        page.contains("line 1: order between 1 and 10,000,000 units"),
        "{page}"
    );

    let unknown = app
        .post_form(
            "/purchase-orders",
            &[
                ("reference", "PO-2002"),
                ("supplier", "Bolt Brothers"),
                ("expected_on", &expected),
                ("sku", "NOPE-1"),
                ("qty", "5"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), 422);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("there is no product with SKU NOPE-1")
    );
    let stored: i64 = purchase_orders::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn a_date_change_says_who_gets_a_later_eta_before_it_is_confirmed() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Manager).await;
    let before = eta_worst(&app, "A-1001").expect("an ETA from the purchase order");
    let later = today() + Duration::days(30);

    let preview = app
        .get_htmx(&format!("/purchase-orders/PO-100?expected_on={later}"))
        .await;

    assert_eq!(preview.status(), 200);
    let fragment = preview.text().await.unwrap();
    assert!(
        fragment
            .trim_start()
            .starts_with("<section id=\"date-change\""),
        "{fragment}"
    );
    assert!(
        fragment.contains("2 waiting customers</strong> will get a later ETA (2 lines)"),
        "{fragment}"
    );
    assert!(
        fragment.contains("moved later than they were told"),
        "{fragment}"
    );
    assert_eq!(
        po_state(&app, "PO-100").1,
        today() + Duration::days(10),
        "a preview stores nothing"
    );
    assert_eq!(eta_worst(&app, "A-1001"), Some(before));

    // Posting the date without the preview's confirmation only previews it (a form
    // from elsewhere, a double click): nothing changes.
    let unconfirmed = app
        .post_form(
            "/purchase-orders/PO-100/expected-date",
            &[("expected_on", &later.to_string())],
        )
        .await;
    assert_eq!(unconfirmed.status(), 200);
    assert!(
        unconfirmed
            .text()
            .await
            .unwrap()
            .contains("name=\"confirm\" value=\"yes\"")
    );
    assert_eq!(po_state(&app, "PO-100").1, today() + Duration::days(10));
    assert_eq!(eta_worst(&app, "A-1001"), Some(before));

    let confirmed = app
        .post_form(
            "/purchase-orders/PO-100/expected-date",
            &[("expected_on", &later.to_string()), ("confirm", "yes")],
        )
        .await;

    assert_eq!(confirmed.status(), 303);
    assert_eq!(po_state(&app, "PO-100").1, later);
    assert!(
        eta_worst(&app, "A-1001").unwrap() > before,
        "ETAs were recomputed"
    );
    let history: Vec<(NaiveDate, NaiveDate)> = purchase_order_date_changes::table
        .select((
            purchase_order_date_changes::old_expected_on,
            purchase_order_date_changes::new_expected_on,
        ))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(history, [(today() + Duration::days(10), later)]);
    let page = app
        .get("/purchase-orders/PO-100")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Expected-date history") && page.contains(" by Test Manager"));

    for confirm in ["", "yes"] {
        let past = app
            .post_form(
                "/purchase-orders/PO-100/expected-date",
                &[
                    ("expected_on", &(today() - Duration::days(400)).to_string()),
                    ("confirm", confirm),
                ],
            )
            .await;
        assert_eq!(past.status(), 422);
    }
    assert_eq!(po_state(&app, "PO-100").1, later);
}

#[tokio::test]
async fn a_receipt_preview_names_the_orders_it_releases_and_why() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Manager).await;
    let line = line_id(&app, "PO-100");

    let preview = app
        .get_htmx(&format!("/purchase-orders/PO-100/receive?qty_{line}=3"))
        .await;

    assert_eq!(preview.status(), 200);
    let fragment = preview.text().await.unwrap();
    assert!(
        fragment.trim_start().starts_with("<section id=\"receive\""),
        "{fragment}"
    );
    let first = fragment
        .find("A-1001")
        .expect("the first order is released");
    assert!(first < fragment.find("A-1002").unwrap());
    assert!(fragment.contains("1st in line") && fragment.contains("2nd in line"));
    assert!(fragment.contains("ready to ship") && fragment.contains("still waits for more"));
    assert!(
        fragment.contains("1 line still waits after this."),
        "{fragment}"
    );
    assert_eq!(received(&app, "PO-100"), 0, "a preview stores nothing");
}

#[tokio::test]
async fn receiving_allocates_down_the_queue_and_the_page_shows_to_whom() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Manager).await;
    let line = line_id(&app, "PO-100");
    let preview = app
        .get(&format!("/purchase-orders/PO-100/receive?qty_{line}=3"))
        .await
        .text()
        .await
        .unwrap();
    let key = hidden(&preview, "receipt_key");

    let response = app
        .post_form(
            "/purchase-orders/PO-100/receive",
            &[("receipt_key", &key), (&format!("qty_{line}"), "3")],
        )
        .await;

    assert_eq!(response.status(), 303);
    assert_eq!(received(&app, "PO-100"), 3);
    assert_eq!(allocated_to(&app, "A-1001"), 2);
    assert_eq!(allocated_to(&app, "A-1002"), 1);
    assert_eq!(stock_of(&app, "ANVIL-1").0, 3);
    let page = app
        .get("/purchase-orders/PO-100")
        .await
        .text()
        .await
        .unwrap();
    let receipts = &page[page.find("id=\"receipts\"").unwrap()..];
    assert!(
        receipts.contains("Allocated to waiting orders"),
        "{receipts}"
    );
    assert!(receipts.contains("A-1001") && receipts.contains("A-1002"));
}

#[tokio::test]
async fn receiving_more_than_outstanding_is_refused() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Manager).await;
    let line = line_id(&app, "PO-100");

    let preview = app
        .get(&format!("/purchase-orders/PO-100/receive?qty_{line}=6"))
        .await;
    assert_eq!(preview.status(), 422);
    assert!(
        preview
            .text()
            .await
            .unwrap()
            .contains("ANVIL-1: only 5 units are outstanding on PO-100; 6 cannot be received")
    );

    let posted = app
        .post_form(
            "/purchase-orders/PO-100/receive",
            &[
                ("receipt_key", "0123456789abcdef0123456789abcdef"),
                (&format!("qty_{line}"), "6"),
            ],
        )
        .await;
    assert_eq!(posted.status(), 422);
    assert!(
        posted
            .text()
            .await
            .unwrap()
            .contains("only 5 units are outstanding")
    );
    assert_eq!(received(&app, "PO-100"), 0);
    assert_eq!(stock_of(&app, "ANVIL-1").0, 0);
}

#[tokio::test]
async fn a_double_submitted_receipt_is_received_once() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Manager).await;
    let line = line_id(&app, "PO-100");
    let field = format!("qty_{line}");
    let form = [
        ("receipt_key", "feedfacefeedfacefeedfacefeedface"),
        (field.as_str(), "2"),
    ];

    let (first, second) = tokio::join!(
        app.post_form("/purchase-orders/PO-100/receive", &form),
        app.post_form("/purchase-orders/PO-100/receive", &form),
    );
    let third = app
        .post_form("/purchase-orders/PO-100/receive", &form)
        .await;

    assert_eq!(first.status(), 303);
    assert_eq!(second.status(), 303);
    assert_eq!(third.status(), 303);
    assert_eq!(received(&app, "PO-100"), 2);
    assert_eq!(stock_of(&app, "ANVIL-1").0, 2);
    let receipts: i64 = purchase_order_receipts::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(receipts, 1);
}

#[tokio::test]
async fn cancelling_an_open_purchase_order_recomputes_etas() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Manager).await;
    assert!(eta_worst(&app, "A-1001").is_some());

    // The first click previews; only the preview's confirmation cancels.
    let preview = app.post_form("/purchase-orders/PO-100/cancel", &[]).await;
    assert_eq!(preview.status(), 200);
    assert!(
        preview
            .text()
            .await
            .unwrap()
            .contains("Confirm: cancel purchase order PO-100")
    );
    assert_eq!(
        po_state(&app, "PO-100").0,
        "open",
        "a preview changes nothing"
    );
    assert!(eta_worst(&app, "A-1001").is_some());

    let response = app
        .post_form("/purchase-orders/PO-100/cancel", &[("confirm", "yes")])
        .await;

    assert_eq!(response.status(), 303);
    assert_eq!(po_state(&app, "PO-100").0, "cancelled");
    assert_eq!(
        eta_worst(&app, "A-1001"),
        None,
        "no supply is known any more"
    );
    for confirm in ["", "yes"] {
        let again = app
            .post_form("/purchase-orders/PO-100/cancel", &[("confirm", confirm)])
            .await;
        assert_eq!(again.status(), 409);
        assert!(again.text().await.unwrap().contains("PO-100 is cancelled"));
    }
}

#[tokio::test]
async fn a_rep_sees_purchase_orders_but_every_change_is_refused() {
    let app = spawn_app().await;
    backordered_shop(&app);
    app.login_as(Role::Rep).await;
    let line = line_id(&app, "PO-100");
    let later = (today() + Duration::days(30)).to_string();

    assert_eq!(app.get("/purchase-orders").await.status(), 200);
    assert_eq!(app.get("/purchase-orders/suggestions").await.status(), 200);
    let page = app
        .get("/purchase-orders/PO-100")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Purchase order PO-100") && !page.contains("Receive these units"));
    assert!(
        !page.contains("Preview the receipt"),
        "no receive form for a rep"
    );
    assert_eq!(app.get("/purchase-orders/new").await.status(), 403);
    assert_eq!(
        app.get(&format!("/purchase-orders/PO-100?expected_on={later}"))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get(&format!("/purchase-orders/PO-100/receive?qty_{line}=1"))
            .await
            .status(),
        403
    );
    let create = app
        .post_form(
            "/purchase-orders",
            &[
                ("reference", "PO-9"),
                ("supplier", "Acme Forge"),
                ("expected_on", &later),
                ("sku", "ANVIL-1"),
                ("qty", "1"),
            ],
        )
        .await;
    assert_eq!(create.status(), 403);
    let receive = app
        .post_form(
            "/purchase-orders/PO-100/receive",
            &[
                ("receipt_key", "0123456789abcdef0123456789abcdef"),
                (&format!("qty_{line}"), "1"),
            ],
        )
        .await;
    assert_eq!(receive.status(), 403);
    let date = app
        .post_form(
            "/purchase-orders/PO-100/expected-date",
            &[("expected_on", &later)],
        )
        .await;
    assert_eq!(date.status(), 403);
    for confirm in ["", "yes"] {
        assert_eq!(
            app.post_form("/purchase-orders/PO-100/cancel", &[("confirm", confirm)])
                .await
                .status(),
            403
        );
    }

    assert_eq!(
        po_state(&app, "PO-100"),
        ("open".to_owned(), today() + Duration::days(10))
    );
    assert_eq!(received(&app, "PO-100"), 0);
    let count: i64 = purchase_orders::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn reorder_suggestions_start_a_purchase_order_for_one_supplier() {
    let app = spawn_app().await;
    backordered_shop(&app);
    // Four more units wanted than the purchase order brings, and one "notify me".
    place_order(&app, "A-1003", "ANVIL-1", 5, 10);
    add_product(&app, "BOLT-7", "Hex bolt", "Bolt Brothers", 40);
    add_product(&app, "NUT-3", "Hex nut", "Bolt Brothers", 1);
    subscriptions::subscribe(
        &mut app.conn(),
        &Actor::System,
        &Sku::parse("ANVIL-1").unwrap(),
        &Email::parse("waiting@customers.test").unwrap(),
    )
    .unwrap();
    app.login_as(Role::Manager).await;

    let page = app
        .get("/purchase-orders/suggestions")
        .await
        .text()
        .await
        .unwrap();

    assert!(page.contains("ANVIL-1") && page.contains("NUT-3"), "{page}");
    assert!(!page.contains("BOLT-7"), "well stocked");
    // ANVIL-1: available 0 + incoming 5 - waiting 9 - soft 1 = -5; to 2 + 1 -> order 8.
    let anvil = &page[page.find("ANVIL-1").unwrap()..];
    let cells: Vec<&str> = anvil
        .split("class=\"num\">")
        .skip(1)
        .take(8)
        .map(|c| c.split('<').next().unwrap())
        .collect();
    assert_eq!(cells, ["0", "9", "5", "4", "1", "-5", "2", "1"]);
    let row_end = anvil.find("</tr>").unwrap();
    assert!(anvil[..row_end].contains("<strong>8</strong>"), "{anvil}");
    assert!(page.contains("Start a purchase order for Acme Forge (1 product)"));

    let supplier_id: i64 = backorder_desk::db::schema::suppliers::table
        .filter(backorder_desk::db::schema::suppliers::name.eq("Acme Forge"))
        .select(backorder_desk::db::schema::suppliers::id)
        .first(&mut app.conn())
        .unwrap();
    let form = app
        .get(&format!("/purchase-orders/new?supplier_id={supplier_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains("value=\"Acme Forge\""), "{form}");
    assert!(
        form.contains("value=\"ANVIL-1\"") && form.contains("value=\"8\""),
        "{form}"
    );
    assert!(
        !form.contains("value=\"NUT-3\""),
        "only this supplier's products"
    );
}

/// Two customers waiting on PO-1 (in 5 days); PO-2 (in 40 days) brings more behind it.
fn two_waiting_on_po_1(app: &TestApp) {
    crate::shop::product(app, "KETTLE", 0, 2_500);
    crate::shop::purchase_order(app, "PO-1", "KETTLE", 4, 5);
    crate::shop::purchase_order(app, "PO-2", "KETTLE", 10, 40);
    crate::shop::order(
        app,
        "W-1",
        "ada@example.com",
        "Ada Lovelace",
        "KETTLE",
        2,
        2,
    );
    crate::shop::order(app, "W-2", "bo@example.com", "Bo Diddley", "KETTLE", 2, 1);
}

fn message_count(app: &TestApp, kind: &str) -> i64 {
    diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "SELECT count(*) FROM messages WHERE kind = '{kind}'"
    ))
    .get_result(&mut app.conn())
    .unwrap()
}

#[tokio::test]
async fn cancelling_a_purchase_order_previews_lines_new_dates_and_emails_then_needs_a_confirmation()
{
    let app = spawn_app().await;
    two_waiting_on_po_1(&app);
    app.login_as(Role::Manager).await;
    let before = eta_worst(&app, "W-1").expect("a date from PO-1");

    let preview = app.post_form("/purchase-orders/PO-1/cancel", &[]).await;
    assert_eq!(preview.status(), 200);
    let page = preview.text().await.unwrap();
    let text = crate::shop::text_of(&page);
    assert!(
        text.contains("Cancelling PO-1: nothing has changed yet"),
        "{text}"
    );
    assert!(
        page.contains("2 waiting customers</strong> will get a later ETA (2 lines)"),
        "{page}"
    );
    assert!(
        text.contains(
            "2 customers are moved later than they were told and will get a date-change email"
        ),
        "{text}"
    );
    assert!(
        text.contains("2 emails will go out, to 2 customers: Ada and Bo."),
        "{text}"
    );
    // Nothing changed, nothing was queued.
    assert_eq!(po_state(&app, "PO-1").0, "open");
    assert_eq!(eta_worst(&app, "W-1"), Some(before));
    assert_eq!(message_count(&app, "delay_notice"), 0);
    let audited: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM audit_log WHERE action = 'purchase_order_cancelled'",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(audited, 0);

    let confirmed = app
        .post_form("/purchase-orders/PO-1/cancel", &[("confirm", "yes")])
        .await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(po_state(&app, "PO-1").0, "cancelled");
    // The emails the preview named: one date-change email per order, due when the
    // shop's coalescing window ends.
    let due: i64 =
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM eta_updates_pending")
            .get_result(&mut app.conn())
            .unwrap();
    assert_eq!(due, 2, "the emails the preview named");
    // The preview showed each line's date before and after, as they now are.
    let after = eta_worst(&app, "W-1").expect("a date from PO-2");
    assert!(after > before);
    let words = |d: NaiveDate| backorder_desk::domain::format::human_date(d, today());
    assert!(
        text.contains(&format!(
            "W-1 Ada Lovelace KETTLE {} {}",
            words(before),
            words(after)
        )),
        "{text}"
    );
}

#[tokio::test]
async fn moving_a_date_previews_the_emails_and_an_earlier_date_sends_none() {
    let app = spawn_app().await;
    two_waiting_on_po_1(&app);
    app.login_as(Role::Manager).await;
    let later = today() + Duration::days(60);

    let preview = app
        .post_form(
            "/purchase-orders/PO-1/expected-date",
            &[("expected_on", &later.to_string())],
        )
        .await;
    assert_eq!(preview.status(), 200);
    let text = crate::shop::text_of(&preview.text().await.unwrap());
    assert!(
        text.contains("2 emails will go out, to 2 customers: Ada and Bo."),
        "{text}"
    );
    assert_eq!(po_state(&app, "PO-1").1, today() + Duration::days(5));
    assert_eq!(message_count(&app, "delay_notice"), 0);

    // An earlier date tells nobody anything: the preview says so.
    let earlier = app
        .get(&format!(
            "/purchase-orders/PO-1?expected_on={}",
            today() + Duration::days(3)
        ))
        .await
        .text()
        .await
        .unwrap();
    let earlier = crate::shop::text_of(&earlier);
    assert!(
        earlier.contains("2 lines get an earlier date."),
        "{earlier}"
    );
    assert!(earlier.contains("No email will go out."), "{earlier}");
}
