//! Login, sessions, CSRF, roles, the frame, static assets, probes.

use backorder_desk::db::schema::users;
use backorder_desk::db::users::{Role, find_by_email};
use diesel::prelude::*;

use crate::helpers::{PASSWORD, TestApp, csrf_in, spawn_app, spawn_app_with};

/// Where a response sends the browser, if anywhere.
fn location(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header on {}", response.url()))
        .to_str()
        .unwrap()
}

/// True when the client's cookie still opens the daily review.
async fn is_signed_in(app: &TestApp) -> bool {
    let response = app.get("/").await;
    match response.status().as_u16() {
        200 => true,
        303 => {
            assert_eq!(location(&response), Some("/login"));
            false
        }
        other => panic!("GET / answered {other}"),
    }
}

fn user_exists(app: &TestApp, email: &str) -> bool {
    find_by_email(&mut app.conn(), email).unwrap().is_some()
}

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

#[tokio::test]
async fn the_health_probes_answer() {
    let app = spawn_app().await;

    let healthz = app.get("/healthz").await;
    let readyz = app.get("/readyz").await;

    assert_eq!(healthz.status(), 200);
    assert_eq!(readyz.status(), 200);
    assert_eq!(readyz.text().await.unwrap(), "ready");
}

#[tokio::test]
async fn pages_carry_the_security_headers() {
    let app = spawn_app().await;
    // A rep, so that /admin/users shows the headers on an error page too.
    app.login_as(Role::Rep).await;

    for path in ["/login", "/", "/admin/users"] {
        let response = app.get(path).await;

        let policy = header(&response, "content-security-policy").to_owned();
        let directive = |name: &str| {
            policy
                .split(';')
                .map(str::trim)
                .find_map(|d| d.strip_prefix(name).map(str::trim))
                .unwrap_or_else(|| panic!("{path}: no {name} in {policy}"))
                .to_owned()
        };
        assert_eq!(directive("script-src "), "'self'", "{path}");
        assert_eq!(directive("style-src "), "'self'", "{path}");
        assert_eq!(directive("frame-ancestors "), "'none'", "{path}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(!policy.contains("unsafe-eval"), "{policy}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        let referrer = header(&response, "referrer-policy");
        assert!(
            [
                "same-origin",
                "no-referrer",
                "strict-origin-when-cross-origin"
            ]
            .contains(&referrer),
            "{path}: Referrer-Policy {referrer}"
        );
    }
}

#[tokio::test]
async fn the_pages_have_no_inline_scripts_or_styles() {
    let app = spawn_app().await;
    app.login_as(Role::Admin).await;

    for path in ["/login", "/", "/admin/users"] {
        let page = app.get(path).await.text().await.unwrap();

        assert!(!page.contains("<script>"), "{path} has an inline script");
        assert!(!page.contains("<style"), "{path} has a style element");
        assert!(!page.contains(" style=\""), "{path} has a style attribute");
        assert!(!page.contains(" onclick="), "{path} has an inline handler");
    }
}

#[tokio::test]
async fn a_wrong_password_shows_a_clear_error_and_creates_no_session() {
    let app = spawn_app().await;
    let email = app.add_user(Role::Manager);

    let response = app.login(&email, "not-the-password").await;

    assert_eq!(response.status(), 401);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("The email or password is not right"),
        "{page}"
    );
    assert!(page.contains(&format!("value=\"{email}\"")), "email kept");
    assert!(!is_signed_in(&app).await);
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_error() {
    let app = spawn_app().await;

    let response = app.login("nobody@shop.test", PASSWORD).await;

    assert_eq!(response.status(), 401);
    let page = response.text().await.unwrap();
    assert!(page.contains("The email or password is not right"));
    assert!(!is_signed_in(&app).await);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    let email = app.add_user(Role::Rep);

    let response = app.login(&email, PASSWORD).await;

    assert_eq!(response.status(), 303);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("bd_session="))
        .expect("the sign-in sets the session cookie");
    let attributes: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attributes.contains(&"httponly".to_owned()), "{cookie}");
    assert!(attributes.contains(&"samesite=lax".to_owned()), "{cookie}");
    assert!(attributes.contains(&"path=/".to_owned()), "{cookie}");
    // Encrypted: the user id is not readable in the cookie.
    assert!(!cookie.contains("uid"), "{cookie}");
}

#[tokio::test]
async fn behind_https_the_session_cookie_is_secure() {
    let app =
        spawn_app_with(|settings| settings.public_url = "https://desk.shop.test".into()).await;
    let email = app.add_user(Role::Rep);

    let response = app.login(&email, PASSWORD).await;

    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("bd_session="))
        .expect("the sign-in sets the session cookie");
    assert!(cookie.to_ascii_lowercase().contains("; secure"), "{cookie}");
}

#[tokio::test]
async fn a_post_without_a_valid_csrf_token_is_refused() {
    let app = spawn_app().await;
    app.login_as(Role::Admin).await;
    let new_user = [
        ("email", "new.rep@shop.test"),
        ("name", "New Rep"),
        ("role", "rep"),
        ("password", "a-good-long-password"),
    ];

    let missing = app
        .client
        .post(app.url("/admin/users"))
        .form(&new_user)
        .send()
        .await
        .unwrap();
    let mut with_wrong_token = new_user.to_vec();
    with_wrong_token.push(("csrf_token", "0123456789abcdef"));
    let wrong = app
        .client
        .post(app.url("/admin/users"))
        .form(&with_wrong_token)
        .send()
        .await
        .unwrap();
    let wrong_header = app
        .client
        .post(app.url("/logout"))
        .header("X-CSRF-Token", "0123456789abcdef")
        .send()
        .await
        .unwrap();

    assert_eq!(missing.status(), 403);
    assert_eq!(wrong.status(), 403);
    assert_eq!(wrong_header.status(), 403);
    assert!(wrong.text().await.unwrap().contains("reload the page"));
    assert!(!user_exists(&app, "new.rep@shop.test"));
    assert!(is_signed_in(&app).await, "the refused logout did nothing");
}

#[tokio::test]
async fn a_sign_in_without_a_csrf_token_is_refused() {
    let app = spawn_app().await;
    let email = app.add_user(Role::Manager);

    let response = app
        .client
        .post(app.url("/login"))
        .form(&[("email", email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
    assert!(!is_signed_in(&app).await);
}

#[tokio::test]
async fn an_htmx_post_with_the_csrf_header_is_accepted() {
    let app = spawn_app().await;
    app.login_as(Role::Admin).await;
    let page = app.get("/admin/users").await.text().await.unwrap();
    let token = csrf_in(&page).unwrap();
    // The page hands htmx the token to send with every request it makes.
    let start = page.find("hx-headers=\"").expect("hx-headers on the page");
    let hx_headers = &page[start..start + page[start..].find('>').unwrap()];
    assert!(hx_headers.contains("X-CSRF-Token"), "{hx_headers}");
    assert!(hx_headers.contains(&token), "{hx_headers}");

    let response = app
        .client
        .post(app.url("/admin/users"))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .form(&[
            ("email", "htmx.rep@shop.test"),
            ("name", "Htmx Rep"),
            ("role", "rep"),
            ("password", "a-good-long-password"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert!(user_exists(&app, "htmx.rep@shop.test"));
}

#[tokio::test]
async fn only_an_admin_opens_the_user_admin_page() {
    let rep_app = spawn_app().await;
    rep_app.login_as(Role::Rep).await;
    let manager_app = spawn_app().await;
    manager_app.login_as(Role::Manager).await;
    let admin_app = spawn_app().await;
    admin_app.login_as(Role::Admin).await;

    let as_rep = rep_app.get("/admin/users").await;
    let as_manager = manager_app.get("/admin/users").await;
    let as_admin = admin_app.get("/admin/users").await;

    assert_eq!(as_rep.status(), 403);
    assert!(as_rep.text().await.unwrap().contains("permission"));
    assert_eq!(as_manager.status(), 403);
    assert_eq!(as_admin.status(), 200);
    assert!(as_admin.text().await.unwrap().contains("Add a user"));
    let rep_home = rep_app.get("/").await.text().await.unwrap();
    assert!(
        !rep_home.contains("href=\"/admin/users\""),
        "a rep sees no Admin link"
    );
}

#[tokio::test]
async fn a_rep_posting_the_add_user_form_by_hand_is_refused() {
    let app = spawn_app().await;
    app.login_as(Role::Rep).await;

    let response = app
        .post_form(
            "/admin/users",
            &[
                ("email", "sneaky.admin@shop.test"),
                ("name", "Sneaky"),
                ("role", "admin"),
                ("password", "a-good-long-password"),
            ],
        )
        .await;

    assert_eq!(response.status(), 403);
    assert!(!user_exists(&app, "sneaky.admin@shop.test"));
}

#[tokio::test]
async fn an_admin_adds_a_user_who_can_then_sign_in() {
    let app = spawn_app().await;
    app.login_as(Role::Admin).await;

    let response = app
        .post_form(
            "/admin/users",
            &[
                ("email", "pat@shop.test"),
                ("name", "Pat Rep"),
                ("role", "rep"),
                ("password", "pats-long-password"),
            ],
        )
        .await;

    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), Some("/admin/users"));
    let list = app.get("/admin/users").await.text().await.unwrap();
    assert!(list.contains("pat@shop.test"));
    assert!(list.contains("Customer-service rep"));
    let pat = another_browser(&app);
    assert_eq!(
        pat.login("pat@shop.test", "pats-long-password")
            .await
            .status(),
        303
    );
}

/// A second browser (its own cookies) on the same server.
fn another_browser(app: &TestApp) -> SecondClient<'_> {
    SecondClient {
        app,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap(),
    }
}

struct SecondClient<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
}

impl SecondClient<'_> {
    async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        let page = self
            .client
            .get(self.app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf_in(&page).unwrap();
        self.client
            .post(self.app.url("/login"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_short_password_in_the_add_user_form_is_shown_next_to_the_field() {
    let app = spawn_app().await;
    app.login_as(Role::Admin).await;

    let response = app
        .post_form(
            "/admin/users",
            &[
                ("email", "short@shop.test"),
                ("name", "Short Password"),
                ("role", "rep"),
                ("password", "short"),
            ],
        )
        .await;

    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    let field = page
        .find("id=\"new-password\"")
        .expect("the password field");
    let error = page
        .find("id=\"new-password-error\"")
        .expect("an error for the password field");
    assert!(error > field, "the error follows its field");
    assert!(page[error..].contains("at least 10 characters"));
    assert!(page[field..error].contains("aria-invalid=\"true\""));
    assert!(page[field..error].contains("aria-describedby=\"new-password-error\""));
    assert!(
        page.contains("value=\"short@shop.test\""),
        "what was typed is kept"
    );
    assert!(
        !page.contains("value=\"short\""),
        "the password is not echoed"
    );
    assert!(!user_exists(&app, "short@shop.test"));
}

#[tokio::test]
async fn after_five_failed_sign_ins_even_the_right_password_is_refused() {
    let app = spawn_app().await;
    let email = app.add_user(Role::Manager);
    for _ in 0..5 {
        assert_eq!(app.login(&email, "a-wrong-password").await.status(), 401);
    }

    let response = app.login(&email, PASSWORD).await;

    assert_eq!(response.status(), 429);
    let page = response.text().await.unwrap();
    assert!(page.contains("Too many"), "{page}");
    assert!(!is_signed_in(&app).await);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    app.login_as(Role::Manager).await;
    assert!(is_signed_in(&app).await);

    let response = app.post_form("/logout", &[]).await;

    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), Some("/login"));
    assert!(!is_signed_in(&app).await);
}

#[tokio::test]
async fn a_disabled_users_session_ends_on_the_next_request() {
    let app = spawn_app().await;
    let email = app.login_as(Role::Manager).await;
    assert!(is_signed_in(&app).await);

    diesel::update(users::table.filter(users::email.eq(&email)))
        .set(users::disabled.eq(true))
        .execute(&mut app.conn())
        .unwrap();

    assert!(!is_signed_in(&app).await);
    let again = app.login(&email, PASSWORD).await;
    assert_eq!(again.status(), 401, "a disabled user cannot sign in again");
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_the_login_page() {
    let app = spawn_app().await;

    let page = app.get("/").await;
    let fragment = app.get_htmx("/").await;

    assert_eq!(page.status(), 303);
    assert_eq!(location(&page), Some("/login"));
    assert_eq!(header(&fragment, "hx-redirect"), "/login");
}

#[tokio::test]
async fn htmx_gets_only_the_figures_and_a_browser_the_whole_page() {
    let app = spawn_app().await;
    app.login_as(Role::Manager).await;

    let fragment = app.get_htmx("/").await;
    let page = app.get("/").await;

    assert_eq!(fragment.status(), 200);
    assert!(header(&fragment, "vary").contains("HX-Request"));
    let fragment = fragment.text().await.unwrap();
    assert!(!fragment.contains("<html"), "{fragment}");
    assert!(!fragment.contains("<nav"), "{fragment}");
    assert!(fragment.contains("id=\"figures\""), "{fragment}");
    assert!(fragment.contains("Open backorder lines"));
    assert_eq!(page.status(), 200);
    assert!(header(&page, "vary").contains("HX-Request"));
    let page = page.text().await.unwrap();
    assert!(page.contains("<html"));
    assert!(page.contains("id=\"figures\""));
    assert!(page.contains("<h1>Daily review</h1>"));
}

#[tokio::test]
async fn htmx_is_served_with_a_javascript_type_and_an_etag() {
    let app = spawn_app().await;

    let response = app.get("/static/vendor/htmx-2.0.11.min.js").await;

    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").starts_with("text/javascript"));
    let etag = header(&response, "etag").to_owned();
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    let body = response.text().await.unwrap();
    assert!(body.contains("2.0.11"), "the vendored file is htmx 2.0.11");

    let again = app
        .client
        .get(app.url("/static/vendor/htmx-2.0.11.min.js"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();

    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_asset_urls_in_the_page_are_cached_for_a_year() {
    let app = spawn_app().await;
    let page = app.get("/login").await.text().await.unwrap();
    let start = page
        .find("/static/vendor/htmx-2.0.11.min.js?v=")
        .expect("the page loads htmx by a versioned URL");
    let end = start + page[start..].find('"').unwrap();
    let versioned = &page[start..end];

    let response = app.get(versioned).await;

    assert_eq!(response.status(), 200);
    let cache = header(&response, "cache-control");
    assert!(cache.contains("immutable"), "{cache}");
    assert!(cache.contains("max-age=31536000"), "{cache}");
    let stale = app
        .get("/static/vendor/htmx-2.0.11.min.js?v=000000000000")
        .await;
    assert!(
        !header(&stale, "cache-control").contains("immutable"),
        "a URL with an old hash is not cached for a year"
    );
}

#[tokio::test]
async fn the_css_library_and_an_unknown_asset() {
    let app = spawn_app().await;

    let css = app.get("/static/vendor/pico-2.1.1.min.css").await;
    let missing = app.get("/static/vendor/nothing.js").await;

    assert_eq!(css.status(), 200);
    assert!(header(&css, "content-type").starts_with("text/css"));
    assert_eq!(missing.status(), 404);
}
