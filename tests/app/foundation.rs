//! Login, sessions, CSRF, roles, the frame, static assets, probes.

use backorder_desk::db::users::Role;

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn a_manager_signs_in_and_sees_the_daily_review() {
    let app = spawn_app().await;
    let email = app.add_user(Role::Manager);

    let response = app.login(&email, PASSWORD).await;

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    let page = app.get("/").await.text().await.unwrap();
    assert!(page.contains("<h1>Daily review</h1>"), "{page}");
    assert!(page.contains("Test Manager"));
}
