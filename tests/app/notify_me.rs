//! "Notify me" from the product page: a rep signs a customer up for one back-in-stock email.

use backorder_desk::db::users::Role;
use diesel::prelude::*;

use crate::helpers::spawn_app;
use crate::shop::{product, text_of};

fn sign_ups(app: &crate::helpers::TestApp) -> Vec<String> {
    use backorder_desk::db::schema::restock_subscriptions::dsl as r;
    r::restock_subscriptions
        .select(r::email)
        .load(&mut app.conn())
        .unwrap()
}

#[tokio::test]
async fn a_rep_signs_a_customer_up_once_and_a_bad_email_is_shown_next_to_the_field() {
    let app = spawn_app().await;
    product(&app, "LAMP", 0, 1_000);
    app.login_as(Role::Rep).await;

    let refused = app
        .post_form("/inventory/LAMP/notify-me", &[("email", "not-an-email")])
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("id=\"notify-error\""),
        "the error sits next to the field"
    );
    assert!(sign_ups(&app).is_empty());

    let done = app
        .post_form("/inventory/LAMP/notify-me", &[("email", "Ben@Example.com")])
        .await;
    assert_eq!(done.status(), 303);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    let text = text_of(&app.get(&location).await.text().await.unwrap());
    assert!(
        text.contains("Ben@Example.com will get one email when this product is back in stock"),
        "{text}"
    );
    app.post_form("/inventory/LAMP/notify-me", &[("email", "ben@example.com")])
        .await;
    assert_eq!(
        sign_ups(&app),
        vec!["Ben@Example.com".to_owned()],
        "signing up twice is one sign-up"
    );
}
