//! The daily review over a small shop whose right answers are known.

use backorder_desk::db::users::Role;

use crate::helpers::spawn_app;
use crate::shop::{order, product, purchase_order, sql, text_of};

#[tokio::test]
async fn the_review_shows_the_queue_figures_trend_and_top_skus() {
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    product(&app, "LAMP", 0, 1_000);
    purchase_order(&app, "PO-1", "TENT", 10, 4);
    purchase_order(&app, "PO-2", "LAMP", 10, 20);
    // Three waiting lines: two customers on TENT (3 units), one on LAMP (1 unit).
    order(&app, "SO-1", "a@example.com", "Ann", "TENT", 2, 5);
    order(&app, "SO-2", "b@example.com", "Bob", "TENT", 1, 2);
    order(&app, "SO-3", "c@example.com", "Cy", "LAMP", 1, 0);
    // SO-1 was promised for yesterday: overdue.
    sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE - 1 FROM orders o WHERE o.id = order_id AND o.number = 'SO-1'",
    );
    app.login_as(Role::Manager).await;

    let page = app.get("/").await.text().await.unwrap();
    let text = text_of(&page);

    assert!(text.contains("Open backorder lines 3"), "{text}");
    assert!(text.contains("Units waiting 4"), "{text}");
    // 3 x €25.00 + 1 x €25.00 (order lines are priced at €25.00 by the test shop).
    assert!(text.contains("Value waiting €100.00"), "{text}");
    assert!(text.contains("Overdue (past promise) 1"), "{text}");
    assert!(text.contains("Oldest 5 days"), "{text}");
    assert!(
        text.contains("New today 1"),
        "SO-3 started waiting today: {text}"
    );
    // The trend walks back from today: 3 open now, 2 two days ago (SO-1 and SO-2), 1 four days ago, 0 a week ago.
    let numbers: Vec<&str> = page.split("<tr><td>").skip(1).take(30).collect();
    assert_eq!(numbers.len(), 30, "30 days in the trend");
    assert!(
        numbers[29].contains("<td class=\"num\">3</td>"),
        "today: {}",
        numbers[29]
    );
    assert!(
        numbers[27].contains("<td class=\"num\">2</td>"),
        "two days ago: {}",
        numbers[27]
    );
    assert!(
        numbers[25].contains("<td class=\"num\">1</td>"),
        "four days ago: {}",
        numbers[25]
    );
    assert!(
        numbers[22].contains("<td class=\"num\">0</td>"),
        "a week ago: {}",
        numbers[22]
    );
    // Top products: TENT (2 customers) before LAMP (1), drawn with a title for screen
    // readers and labelled with the products' names (issue 16), not their codes.
    assert!(page.contains(
        "<title id=\"top-skus-title\">Top 10 backordered products by waiting customers</title>"
    ));
    assert!(
        page.contains("Product TENT: 2 customers; Product LAMP: 1 customer<"),
        "{page}"
    );
    // Lists that need a person: the overdue line and the purchase orders due this week.
    assert!(text.contains("1 line is past their promise"), "{text}");
    assert!(text.contains("PO-1 Acme"), "{text}");
    assert!(
        !text.contains("PO-2 Acme"),
        "PO-2 is due in 20 days: {text}"
    );
}

#[tokio::test]
async fn promises_kept_counts_lines_shipped_by_their_promised_day() {
    let app = spawn_app().await;
    product(&app, "CUP", 0, 500);
    purchase_order(&app, "PO-1", "CUP", 10, 3);
    for n in 1..=4 {
        order(
            &app,
            &format!("SO-{n}"),
            &format!("c{n}@example.com"),
            "Customer",
            "CUP",
            1,
            10,
        );
    }
    // Four promises due in the last 30 days: three shipped in time, one shipped late.
    sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE - 5, allocated = 0, shipped = qty, completed_at = now() - interval '6 days'",
    );
    sql(
        &app,
        "UPDATE order_lines SET completed_at = now() - interval '1 day' WHERE id = (SELECT max(id) FROM order_lines)",
    );
    app.login_as(Role::Manager).await;

    let text = text_of(&app.get("/").await.text().await.unwrap());

    assert!(
        text.contains("Promises kept (30 days) 75% 3 of 4 due"),
        "{text}"
    );
}

#[tokio::test]
async fn a_manager_signs_the_day_off_and_a_rep_cannot() {
    let app = spawn_app().await;
    let rep = app.add_user(Role::Rep);
    app.login(&rep, crate::helpers::PASSWORD).await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(!page.contains("Mark today reviewed"));
    assert_eq!(app.post_form("/review/sign-off", &[]).await.status(), 403);

    app.post_form("/logout", &[]).await;
    app.login_as(Role::Manager).await;
    let response = app.post_form("/review/sign-off", &[]).await;
    assert_eq!(response.status(), 303);
    let text = text_of(&app.get("/").await.text().await.unwrap());
    assert!(text.contains("Reviewed by Test Manager at"), "{text}");
}

#[tokio::test]
async fn figures_show_the_change_since_yesterdays_review() {
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    purchase_order(&app, "PO-1", "TENT", 10, 4);
    order(&app, "SO-1", "a@example.com", "Ann", "TENT", 2, 1);
    // Yesterday's review saw 1 unit worth €10.00 waiting.
    sql(
        &app,
        "INSERT INTO review_snapshots (day, open_lines, waiting_units, value_waiting_cents, overdue_lines, median_age_days, oldest_age_days)
         VALUES (CURRENT_DATE - 1, 1, 1, 1000, 0, 0, 0)",
    );
    app.login_as(Role::Manager).await;

    let text = text_of(&app.get("/").await.text().await.unwrap());

    assert!(text.contains("Units waiting 2 +1 vs yesterday"), "{text}");
    assert!(
        text.contains("Value waiting €50.00 +€40.00 vs yesterday"),
        "{text}"
    );
    assert!(text.contains("Oldest 1 day +1 days vs yesterday"), "{text}");
}
