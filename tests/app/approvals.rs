//! Discount approvals, the admin pages and the audit log, over HTTP against PostgreSQL.

use backorder_desk::db::users::Role;
use diesel::prelude::*;

use crate::helpers::{Browser, PASSWORD, TestApp, spawn_app};
use crate::shop::{order, product, purchase_order, sql, text_of};

/// A second person signed in to the same server, with a cookie jar of their own.
struct Staff;

impl Staff {
    async fn sign_in(app: &TestApp, role: Role) -> (Browser, String) {
        let email = app.add_user(role);
        let browser = Browser::new(app);
        browser.sign_in(&email, PASSWORD).await;
        (browser, email)
    }
}

fn proposals(app: &TestApp) -> Vec<(i64, String, i32, String, Option<String>)> {
    use backorder_desk::db::schema::discount_proposals::dsl as d;
    d::discount_proposals
        .order(d::id)
        .select((d::id, d::kind, d::value, d::status, d::coupon_code))
        .load(&mut app.conn())
        .unwrap()
}

fn offer_emails(app: &TestApp) -> Vec<String> {
    use backorder_desk::db::schema::messages::dsl as m;
    m::messages
        .filter(m::kind.eq("discount_offer"))
        .select(m::body_text)
        .load(&mut app.conn())
        .unwrap()
}

async fn shop() -> TestApp {
    let app = spawn_app().await;
    product(&app, "TENT", 0, 2_500);
    purchase_order(&app, "PO-1", "TENT", 10, 10);
    order(&app, "SO-1", "ana@example.com", "Ana", "TENT", 2, 3); // worth €50.00
    app
}

#[tokio::test]
async fn a_rep_proposes_and_a_manager_approves_with_a_coupon_and_an_offer_email() {
    let app = shop().await;
    let (rep, _) = Staff::sign_in(&app, Role::Rep).await;
    let (manager, _) = Staff::sign_in(&app, Role::Manager).await;

    let proposed = rep
        .post(
            "/orders/SO-1/proposals",
            &[
                ("kind", "percent"),
                ("value", "15"),
                ("reason", "Waited two weeks"),
            ],
        )
        .await;
    assert_eq!(proposed.status(), 303);
    let (id, _, value, status, _) = proposals(&app)[0].clone();
    assert_eq!((value, status.as_str()), (15, "proposed"));

    // A rep cannot decide, even by posting the form by hand.
    let refused = rep
        .post(
            &format!("/approvals/{id}/decide"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(proposals(&app)[0].3, "proposed");

    let page = text_of(&manager.get("/approvals").await.text().await.unwrap());
    assert!(page.contains("SO-1 Ana 15% off"), "{page}");
    assert!(page.contains("€50.00"), "the order value is shown: {page}");
    assert!(page.contains("Waited two weeks"), "{page}");

    let approved = manager
        .post(
            &format!("/approvals/{id}/decide"),
            &[("decision", "approve")],
        )
        .await;
    let text = text_of(&approved.text().await.unwrap());
    assert!(text.contains("Approved: coupon SORRY-"), "{text}");
    let (_, _, _, status, coupon) = proposals(&app)[0].clone();
    let coupon = coupon.expect("a coupon code");
    assert_eq!(status, "approved");
    assert_eq!(coupon.len(), "SORRY-XXXX-XXXX-XXXX".len());
    let emails = offer_emails(&app);
    assert_eq!(emails.len(), 1);
    assert!(emails[0].contains(&coupon), "{}", emails[0]);

    // Deciding again is refused and says who decided.
    let again = manager
        .post(
            &format!("/approvals/{id}/decide"),
            &[("decision", "reject"), ("note", "no")],
        )
        .await;
    assert!(text_of(&again.text().await.unwrap()).contains("already approved by Test Manager"));
    assert_eq!(offer_emails(&app).len(), 1);
}

#[tokio::test]
async fn nobody_decides_their_own_proposal() {
    let app = shop().await;
    let (manager, _) = Staff::sign_in(&app, Role::Manager).await;
    manager
        .post(
            "/orders/SO-1/proposals",
            &[("kind", "free_shipping"), ("reason", "Goodwill")],
        )
        .await;
    let id = proposals(&app)[0].0;

    let response = manager
        .post(
            &format!("/approvals/{id}/decide"),
            &[("decision", "approve")],
        )
        .await;

    assert!(text_of(&response.text().await.unwrap()).contains("another manager must decide it"));
    assert_eq!(proposals(&app)[0].3, "proposed");
}

#[tokio::test]
async fn values_are_checked_against_the_kind_and_the_order() {
    let app = shop().await;
    let (rep, _) = Staff::sign_in(&app, Role::Rep).await;

    for (kind, value) in [
        ("percent", "0"),
        ("percent", "101"),
        ("amount", "50.01"),
        ("amount", "0"),
    ] {
        let response = rep
            .post(
                "/orders/SO-1/proposals",
                &[("kind", kind), ("value", value), ("reason", "late")],
            )
            .await;
        assert_eq!(response.status(), 422, "{kind} {value}");
    }
    let missing_reason = rep
        .post(
            "/orders/SO-1/proposals",
            &[("kind", "percent"), ("value", "10"), ("reason", " ")],
        )
        .await;
    assert_eq!(missing_reason.status(), 422);
    let page = missing_reason.text().await.unwrap();
    assert!(
        page.contains("id=\"proposal-error\""),
        "the problem is shown beside the form on the order page"
    );
    assert!(text_of(&page).contains("say why"), "{page}");
    assert!(proposals(&app).is_empty());

    let ok = rep
        .post(
            "/orders/SO-1/proposals",
            &[("kind", "amount"), ("value", "50.00"), ("reason", "late")],
        )
        .await;
    assert_eq!(ok.status(), 303);
    assert_eq!(proposals(&app)[0].2, 5_000);
}

#[tokio::test]
async fn a_manager_changes_the_value_or_rejects_with_a_note_the_rep_sees() {
    let app = shop().await;
    order(&app, "SO-2", "bo@example.com", "Bo", "TENT", 1, 2);
    let (rep, _) = Staff::sign_in(&app, Role::Rep).await;
    let (manager, _) = Staff::sign_in(&app, Role::Manager).await;
    rep.post(
        "/orders/SO-1/proposals",
        &[("kind", "percent"), ("value", "20"), ("reason", "late")],
    )
    .await;
    rep.post(
        "/orders/SO-2/proposals",
        &[
            ("kind", "percent"),
            ("value", "30"),
            ("reason", "very late"),
        ],
    )
    .await;
    let ids: Vec<i64> = proposals(&app).iter().map(|p| p.0).collect();

    let bad = manager
        .post(
            &format!("/approvals/{}/decide", ids[0]),
            &[("decision", "approve"), ("value", "150")],
        )
        .await;
    assert!(text_of(&bad.text().await.unwrap()).contains("a percentage must be from 1 to 100"));
    assert_eq!(proposals(&app)[0].3, "proposed");
    manager
        .post(
            &format!("/approvals/{}/decide", ids[0]),
            &[("decision", "approve"), ("value", "10")],
        )
        .await;
    manager
        .post(
            &format!("/approvals/{}/decide", ids[1]),
            &[
                ("decision", "reject"),
                ("note", "Already refunded shipping"),
            ],
        )
        .await;

    let all = proposals(&app);
    assert_eq!((all[0].2, all[0].3.as_str()), (10, "approved"));
    assert_eq!(all[1].3, "rejected");
    let mine = text_of(&rep.get("/approvals").await.text().await.unwrap());
    assert!(
        mine.contains("rejected Test Manager: “Already refunded shipping”"),
        "{mine}"
    );
}

#[tokio::test]
async fn two_managers_deciding_at_once_exactly_one_wins() {
    let app = shop().await;
    let (rep, _) = Staff::sign_in(&app, Role::Rep).await;
    let (first, _) = Staff::sign_in(&app, Role::Manager).await;
    let (second, _) = Staff::sign_in(&app, Role::Manager).await;
    rep.post(
        "/orders/SO-1/proposals",
        &[("kind", "percent"), ("value", "10"), ("reason", "late")],
    )
    .await;
    let id = proposals(&app)[0].0;
    let path = format!("/approvals/{id}/decide");

    let (a, b) = tokio::join!(
        first.post(&path, &[("decision", "approve")]),
        second.post(&path, &[("decision", "reject"), ("note", "not this time")]),
    );

    let texts = [
        text_of(&a.text().await.unwrap()),
        text_of(&b.text().await.unwrap()),
    ];
    let winners = texts
        .iter()
        .filter(|t| t.contains("Approved: coupon") || t.contains("Rejected;"))
        .count();
    let losers = texts
        .iter()
        .filter(|t| t.contains("this proposal was already"))
        .count();
    assert_eq!((winners, losers), (1, 1), "{texts:?}");
    let status = &proposals(&app)[0].3;
    assert!(status == "approved" || status == "rejected");
    assert_eq!(offer_emails(&app).len(), usize::from(status == "approved"));
}

#[tokio::test]
async fn the_delay_policy_proposes_once_per_delay_and_managers_approve_in_bulk() {
    let app = shop().await;
    // The promise was 10 days ago; the PO now comes in 10 days: 20 days late.
    sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE - 10",
    );
    let refresh = || {
        use backorder_desk::db::audit::Actor;
        use backorder_desk::services::purchasing;
        let settings = backorder_desk::db::shop_settings::load(&mut app.conn()).unwrap();
        let ctx = backorder_desk::services::engine::Ctx {
            actor: &Actor::System,
            today: crate::shop::today(),
            settings: &settings,
        };
        let ids: Vec<i64> = backorder_desk::db::schema::products::table
            .select(backorder_desk::db::schema::products::id)
            .load(&mut app.conn())
            .unwrap();
        sql(&app, "UPDATE order_lines SET eta_worst = NULL");
        purchasing::refresh_products(
            &mut app.conn(),
            &ctx,
            &ids,
            &backorder_desk::domain::EtaCause::SupplyChanged,
        )
        .unwrap();
    };
    refresh();
    refresh();

    let all = proposals(&app);
    assert_eq!(all.len(), 1, "one proposal per order and delay: {all:?}");
    assert_eq!((all[0].1.as_str(), all[0].2), ("percent", 10));

    let (manager, _) = Staff::sign_in(&app, Role::Manager).await;
    let page = text_of(&manager.get("/approvals").await.text().await.unwrap());
    assert!(page.contains("by the delay policy"), "{page}");
    let id = all[0].0.to_string();
    let response = manager
        .post("/approvals/bulk-approve", &[("proposal", &id)])
        .await;
    assert!(text_of(&response.text().await.unwrap()).contains("Approved 1 policy proposals"));
    assert_eq!(proposals(&app)[0].3, "approved");
    assert_eq!(offer_emails(&app).len(), 1);
}

#[tokio::test]
async fn an_admin_changes_roles_and_disabling_ends_the_session() {
    let app = spawn_app().await;
    let (admin, _) = Staff::sign_in(&app, Role::Admin).await;
    let (rep, rep_email) = Staff::sign_in(&app, Role::Rep).await;
    assert_eq!(rep.get("/").await.status(), 200);
    let rep_id: i64 = {
        use backorder_desk::db::schema::users::dsl as u;
        u::users
            .filter(u::email.eq(&rep_email))
            .select(u::id)
            .first(&mut app.conn())
            .unwrap()
    };

    // A role change ends the user's sessions (issue 14): they sign in again and get the
    // new role's pages.
    admin
        .post(&format!("/admin/users/{rep_id}"), &[("role", "manager")])
        .await;
    assert_eq!(rep.get("/approvals").await.status(), 303);
    let signed_in = rep
        .post("/login", &[("email", &rep_email), ("password", PASSWORD)])
        .await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(rep.get("/approvals").await.status(), 200);
    assert!(
        text_of(&rep.get("/approvals").await.text().await.unwrap())
            .contains("Waiting for a decision")
    );

    let response = admin
        .post(&format!("/admin/users/{rep_id}"), &[("disabled", "1")])
        .await;
    assert_eq!(response.status(), 303);
    let after = rep.get("/").await;
    assert_eq!(after.status(), 303, "the disabled user's session has ended");
    assert_eq!(after.headers()["location"], "/login");

    // A rep may not change anyone.
    let (other_rep, _) = Staff::sign_in(&app, Role::Rep).await;
    assert_eq!(
        other_rep
            .post(&format!("/admin/users/{rep_id}"), &[("disabled", "0")])
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn api_tokens_are_shown_once_and_revoked_tokens_stop_working() {
    // With token checks shared between requests, as in production: a revocation still
    // takes effect on the next request.
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.figures_max_age = std::time::Duration::from_secs(60);
    })
    .await;
    product(&app, "TENT", 3, 2_500);
    let (admin, _) = Staff::sign_in(&app, Role::Admin).await;

    let page = admin
        .post("/admin/tokens", &[("name", "storefront")])
        .await
        .text()
        .await
        .unwrap();
    let start = page.find("value=\"bd_").expect("the new token is shown") + "value=\"".len();
    let token = &page[start..start + 67];
    let api = |token: String| {
        let url = format!("{}/api/v1/products/TENT/availability", app.address);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(api(token.to_owned()).await, 200);
    let listing = admin.get("/admin/tokens").await.text().await.unwrap();
    assert!(!listing.contains(token), "the token is not shown again");

    let id: i64 = {
        use backorder_desk::db::schema::api_tokens::dsl as t;
        t::api_tokens.select(t::id).first(&mut app.conn()).unwrap()
    };
    admin.post(&format!("/admin/tokens/{id}/revoke"), &[]).await;
    assert_eq!(api(token.to_owned()).await, 401);
}

#[tokio::test]
async fn settings_are_all_valid_or_nothing_changes_and_every_change_is_audited() {
    let app = spawn_app().await;
    let (admin, _) = Staff::sign_in(&app, Role::Admin).await;
    let form = |handling: &'static str| {
        vec![
            ("shop_name", "Tent World"),
            ("currency", "EUR"),
            ("queue_tier_first", "on"),
            ("handling_days", handling),
            ("eta_worst_percentile", "90"),
            ("delay_discount_percent", "10"),
            ("delay_discount_after_days", "7"),
            ("expiry_limit_days", "60"),
            ("status_update_after_days", "7"),
        ]
    };

    let refused = admin.post("/admin/settings", &form("-3")).await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("id=\"e-handling_days\""),
        "the error is next to the field"
    );
    let settings = backorder_desk::db::shop_settings::load(&mut app.conn()).unwrap();
    assert_eq!(
        (
            settings.shop_name.as_str(),
            settings.handling_days,
            settings.queue_tier_first
        ),
        ("Backorder Desk demo shop", 1, false)
    );

    assert_eq!(
        admin.post("/admin/settings", &form("2")).await.status(),
        303
    );
    let settings = backorder_desk::db::shop_settings::load(&mut app.conn()).unwrap();
    assert_eq!(
        (
            settings.shop_name.as_str(),
            settings.handling_days,
            settings.queue_tier_first
        ),
        ("Tent World", 2, true)
    );

    let audit = text_of(
        &admin
            .get("/admin/audit?action=settings_changed")
            .await
            .text()
            .await
            .unwrap(),
    );
    // Before and after in words (issue 16: no raw JSON or action codes on the page).
    assert!(
        audit.contains("Changed settings: handling days 1 to 2"),
        "before and after: {audit}"
    );
    assert!(
        !audit.contains("settings_changed") && !audit.contains("\"handling_days\""),
        "{audit}"
    );
    let logins = text_of(
        &admin
            .get("/admin/audit?action=login")
            .await
            .text()
            .await
            .unwrap(),
    );
    let rows = logins
        .split("What happened")
        .nth(1)
        .expect("the log's table");
    assert!(
        rows.contains(" Signed in") && !rows.contains("Changed settings"),
        "{rows}"
    );
    let (rep, _) = Staff::sign_in(&app, Role::Rep).await;
    assert_eq!(rep.get("/admin/audit").await.status(), 403);
    assert_eq!(rep.get("/admin/settings").await.status(), 403);
}
