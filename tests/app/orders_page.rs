//! "When will it ship?": the rep's lookup and the order page's actions, over HTTP.

use backorder_desk::db::users::Role;

use crate::helpers::spawn_app;
use crate::shop::{order, product, purchase_order, text_of};

#[tokio::test]
async fn a_rep_finds_an_order_by_part_of_the_customers_email_and_reads_why() {
    let app = spawn_app().await;
    product(&app, "KET-1", 0, 2_500);
    purchase_order(&app, "PO-1042", "KET-1", 40, 10);
    order(
        &app,
        "SO-1",
        "ana.lopez@example.com",
        "Ana López",
        "KET-1",
        2,
        1,
    );
    order(&app, "SO-2", "ben@example.com", "Ben Baker", "KET-1", 1, 0);
    app.login_as(Role::Rep).await;

    // As you type (htmx): a fragment with the match.
    let fragment = app.get_htmx("/orders?q=ANA.LO").await.text().await.unwrap();
    assert!(!fragment.contains("<html"), "{fragment}");
    assert!(
        fragment.contains("SO-1") && !fragment.contains("SO-2"),
        "{fragment}"
    );

    // Pressing enter with one match opens the order.
    let response = app.get("/orders?q=ana.lo").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/orders/SO-1");

    let page = text_of(&app.get("/orders/SO-1").await.text().await.unwrap());
    assert!(page.contains("2 waiting"), "{page}");
    assert!(
        page.contains("1st in line for KET-1; PO-1042 brings 40 units on"),
        "{page}"
    );
    assert!(page.contains("Ships by (told to the customer)"), "{page}");
    assert!(
        page.contains("Authorized") || page.contains("Payment"),
        "{page}"
    );

    // A name fragment finds both customers' orders only where they match.
    let fragment = app.get_htmx("/orders?q=baker").await.text().await.unwrap();
    assert!(fragment.contains("SO-2") && !fragment.contains("SO-1"));
    let none = app
        .get_htmx("/orders?q=nobody-like-this")
        .await
        .text()
        .await
        .unwrap();
    assert!(none.contains("No order matches"));
}

#[tokio::test]
async fn shipping_the_allocated_part_swaps_the_lines_and_leaves_the_rest_queued() {
    let app = spawn_app().await;
    product(&app, "LAMP", 1, 4_000);
    purchase_order(&app, "PO-7", "LAMP", 10, 5);
    order(&app, "SO-9", "cy@example.com", "Cy Costa", "LAMP", 3, 0);
    app.login_as(Role::Rep).await;
    let token = app.csrf().await;

    let response = app
        .client
        .post(app.url("/orders/SO-9/ship"))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let fragment = response.text().await.unwrap();
    assert!(
        fragment.starts_with("\n<section id=\"order-lines\"")
            || fragment.contains("id=\"order-lines\"")
    );
    assert!(!fragment.contains("<html"));
    let text = text_of(&fragment);
    assert!(
        text.contains("2 waiting") && text.contains("1 shipped"),
        "{text}"
    );
    assert!(text.contains("partial, no extra shipping charge"), "{text}");
    let (on_hand, allocated): (i32, i32) = {
        use backorder_desk::db::schema::products::dsl::*;
        use diesel::prelude::*;
        products
            .filter(sku.eq("LAMP"))
            .select((on_hand, allocated))
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!((on_hand, allocated), (0, 0));
}

#[tokio::test]
async fn cancelling_needs_a_reason_and_releases_units_to_the_next_in_line() {
    let app = spawn_app().await;
    product(&app, "MUG", 2, 900);
    purchase_order(&app, "PO-8", "MUG", 10, 5);
    order(&app, "SO-A", "a@example.com", "Ann", "MUG", 2, 2);
    order(&app, "SO-B", "b@example.com", "Bob", "MUG", 1, 1);
    app.login_as(Role::Rep).await;
    let line_id: i64 = {
        use backorder_desk::db::schema::{order_lines, orders};
        use diesel::prelude::*;
        order_lines::table
            .inner_join(orders::table)
            .filter(orders::number.eq("SO-A"))
            .select(order_lines::id)
            .first(&mut app.conn())
            .unwrap()
    };

    let refused = app
        .post_form(
            &format!("/orders/SO-A/lines/{line_id}/cancel"),
            &[("reason", " ")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("give a reason"));
    let page = text_of(&app.get("/orders/SO-B").await.text().await.unwrap());
    assert!(
        page.contains("1 waiting"),
        "nothing may change on a refused cancel: {page}"
    );

    // Cancelling asks first (issue 16), without JavaScript too: the first post only says
    // what will happen, and changes nothing.
    let asked = app
        .post_form(
            &format!("/orders/SO-A/lines/{line_id}/cancel"),
            &[("reason", "customer changed their mind")],
        )
        .await;
    assert_eq!(asked.status(), 200);
    let question = text_of(&asked.text().await.unwrap());
    assert!(
        question.contains("Cancel the 2 units of Product MUG not yet shipped?")
            && question.contains("Yes, cancel 2 units"),
        "{question}"
    );
    let page = text_of(&app.get("/orders/SO-A").await.text().await.unwrap());
    assert!(
        !page.contains("cancelled"),
        "asking changed something: {page}"
    );

    let done = app
        .post_form(
            &format!("/orders/SO-A/lines/{line_id}/cancel"),
            &[
                ("reason", "customer changed their mind"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(done.status(), 303);
    let page = text_of(&app.get("/orders/SO-A").await.text().await.unwrap());
    assert!(page.contains("2 cancelled"), "{page}");
    let next = text_of(&app.get("/orders/SO-B").await.text().await.unwrap());
    assert!(
        next.contains("1 allocated") && !next.contains("waiting"),
        "{next}"
    );
}

#[tokio::test]
async fn a_note_is_added_in_place() {
    let app = spawn_app().await;
    product(&app, "PEN", 5, 100);
    order(&app, "SO-N", "n@example.com", "Nia", "PEN", 1, 0);
    app.login_as(Role::Rep).await;
    let token = app.csrf().await;

    let response = app
        .client
        .post(app.url("/orders/SO-N/notes"))
        .header("HX-Request", "true")
        .form(&[
            ("body", "Called: <b>happy</b> to wait"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let fragment = response.text().await.unwrap();
    assert!(fragment.contains("id=\"order-notes\""));
    assert!(
        fragment.contains("Called: &#60;b&#62;happy&#60;/b&#62; to wait")
            || fragment.contains("Called: &lt;b&gt;happy&lt;/b&gt; to wait"),
        "{fragment}"
    );
    assert_eq!(app.get("/orders/NOPE").await.status(), 404);
}
