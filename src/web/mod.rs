//! The HTTP side: routes, and the middleware every response passes through.

pub mod admin;
pub mod api;
pub mod approvals;
pub mod assets;
pub mod auth;
pub mod charts;
pub mod client_ip;
pub mod errors;
pub mod health;
pub mod home;
pub mod input;
pub mod integrations;
pub mod inventory;
pub mod links;
pub mod messages;
pub mod metrics;
pub mod orders;
pub mod pages;
pub mod purchase_orders;
pub mod queue;
pub mod reads;
pub mod recent;
pub mod redact;
pub mod render;
pub mod session;
pub mod state;
pub mod status;
pub mod supplier_links;
pub mod webhooks;

use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::web;

use crate::web::render::NavItem;
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

/// Only the app's own scripts and styles; no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Browsers keep to https for a year once they have seen this over https.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

/// Headers on every response; `Strict-Transport-Security` when the server is reached over
/// https (`PUBLIC_URL`).
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = if https {
        DefaultHeaders::new().add(("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY))
    } else {
        DefaultHeaders::new()
    };
    headers
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ))
}

/// After every request that may change something (anything but GET and HEAD), the
/// whole-queue figures shared between requests are forgotten, so the next page counts
/// again and nobody sees an answer from before their own change (`recent`).
pub async fn forget_figures_after_changes(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let changes = !matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    // Tokens change only in the admin pages (a revoked token stops at once here).
    let tokens_may_change = req.path().starts_with("/admin");
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await;
    if changes && let Some(state) = state {
        state.queue_counts.invalidate();
        state.review.invalidate();
        state.availability.invalidate();
        if tokens_may_change {
            state.api_tokens.invalidate();
        }
    }
    response
}

/// Navigation entries for the sections beyond the review, in the order people use them.
pub fn extra_nav(_user: &CurrentUser) -> Vec<NavItem> {
    let item = |href, label, section| NavItem {
        href,
        label,
        section,
    };
    vec![
        item("/queue", "Queue", "queue"),
        item("/orders", "Orders", "orders"),
        item("/inventory", "Inventory", "inventory"),
        item("/purchase-orders", "Purchase orders", "purchase_orders"),
        item("/messages", "Messages", "messages"),
        item("/approvals", "Approvals", "approvals"),
    ]
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::with_token))
        .route("/static/{path:.*}", web::get().to(assets::serve))
        .configure(api::routes)
        .configure(webhooks::routes)
        .service(
            web::scope("")
                .wrap(from_fn(session::verify_csrf))
                // Outermost: the body is read, and refused if it is not a readable form,
                // before the CSRF check looks into it.
                .wrap(from_fn(input::read_page_body))
                .route("/login", web::get().to(auth::show))
                .route("/login", web::post().to(auth::submit))
                .route("/logout", web::post().to(auth::logout))
                .route(
                    "/logout/everywhere",
                    web::post().to(auth::logout_everywhere),
                )
                .route("/", web::get().to(home::show))
                .route("/review/sign-off", web::post().to(home::sign_off))
                .route("/queue", web::get().to(queue::show))
                .route("/queue.csv", web::get().to(queue::export))
                .route("/queue/bulk", web::post().to(queue::bulk))
                .route("/approvals", web::get().to(approvals::show))
                .route(
                    "/approvals/bulk-approve",
                    web::post().to(approvals::bulk_approve),
                )
                .route("/approvals/{id}/decide", web::post().to(approvals::decide))
                .route(
                    "/orders/{number}/proposals",
                    web::post().to(approvals::propose),
                )
                .route("/orders", web::get().to(orders::search))
                .route("/orders/{number}", web::get().to(orders::show))
                .route("/orders/{number}/ship", web::post().to(orders::ship))
                .route(
                    "/orders/{number}/lines/{line}/cancel",
                    web::post().to(orders::cancel_line),
                )
                .route(
                    "/orders/{number}/lines/{line}/swap",
                    web::post().to(orders::swap_line),
                )
                .route("/orders/{number}/notes", web::post().to(orders::add_note))
                .route(
                    "/orders/{number}/choice",
                    web::post().to(orders::record_choice),
                )
                .route(
                    "/orders/{number}/eta-update",
                    web::post().to(orders::send_eta_update),
                )
                .configure(messages_routes)
                .configure(inventory_routes)
                .route("/admin/users", web::get().to(admin::list))
                .route("/admin/users", web::post().to(admin::add))
                .route("/admin/users/{id}", web::post().to(admin::change_user))
                .route("/admin/tokens", web::get().to(admin::tokens))
                .route("/admin/tokens", web::post().to(admin::create_token))
                .route(
                    "/admin/tokens/{id}/revoke",
                    web::post().to(admin::revoke_token),
                )
                .route("/admin/settings", web::get().to(admin::settings))
                .route("/admin/settings", web::post().to(admin::save_settings))
                .route("/admin/audit", web::get().to(admin::audit_log))
                .configure(integrations_routes),
        );
}

/// The Integrations page (admins only).
fn integrations_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/integrations", web::get().to(integrations::show))
        .route(
            "/admin/integrations/secrets",
            web::post().to(integrations::save_secret),
        )
        .route(
            "/admin/integrations/deliveries/{id}/replay",
            web::post().to(integrations::replay),
        );
}

/// Inventory and purchase orders; fixed paths before the `{sku}` and `{reference}` ones.
fn inventory_routes(cfg: &mut web::ServiceConfig) {
    use purchase_orders as po;
    cfg.route("/inventory", web::get().to(inventory::list))
        .route("/inventory.csv", web::get().to(inventory::export))
        .route("/inventory/import", web::post().to(inventory::import))
        .route("/inventory/{sku}", web::get().to(inventory::show))
        .route("/inventory/{sku}/row", web::get().to(inventory::row))
        .route("/inventory/{sku}/edit", web::get().to(inventory::edit_row))
        .route(
            "/inventory/{sku}/settings",
            web::post().to(inventory::save_settings),
        )
        .route("/inventory/{sku}/adjust", web::post().to(inventory::adjust))
        .route(
            "/inventory/{sku}/suppliers",
            web::post().to(inventory::add_supplier),
        )
        .route(
            "/inventory/{sku}/suppliers/remove",
            web::post().to(inventory::remove_supplier),
        )
        .route(
            "/inventory/{sku}/preorder",
            web::post().to(inventory::save_preorder),
        )
        .route(
            "/inventory/{sku}/alternatives",
            web::post().to(inventory::save_alternatives),
        )
        .route(
            "/inventory/{sku}/notify-me",
            web::post().to(inventory::notify_me),
        )
        .route(
            "/inventory/{sku}/notify-me/{id}/remove",
            web::post().to(inventory::remove_sign_up),
        )
        .route("/purchase-orders", web::get().to(po::list))
        .route("/purchase-orders", web::post().to(po::create))
        .route("/purchase-orders/new", web::get().to(po::new_form))
        .route("/purchase-orders/new/line", web::get().to(po::new_line))
        .route(
            "/purchase-orders/suggestions",
            web::get().to(po::suggestions),
        )
        .route("/purchase-orders/{reference}", web::get().to(po::show))
        .route(
            "/purchase-orders/{reference}/expected-date",
            web::post().to(po::change_date),
        )
        .route(
            "/purchase-orders/{reference}/receive",
            web::get().to(po::receive_preview),
        )
        .route(
            "/purchase-orders/{reference}/receive",
            web::post().to(po::receive),
        )
        .route(
            "/purchase-orders/{reference}/cancel",
            web::post().to(po::cancel),
        )
        .route(
            "/purchase-orders/{reference}/send",
            web::post().to(po::send_to_supplier),
        );
}

/// The Messages page, and the self-service links customers follow from emails (no login).
fn messages_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/messages", web::get().to(messages::list))
        .route("/messages/compose", web::get().to(messages::compose_form))
        .route(
            "/messages/compose",
            web::post().to(messages::compose_submit),
        )
        .route("/messages/{id}", web::get().to(messages::show))
        .route(
            "/messages/{id}/body.html",
            web::get().to(messages::html_body),
        )
        .route("/messages/{id}/retry", web::post().to(messages::retry))
        // HEAD (link checkers, mail scanners) answers like GET without a body; neither
        // changes anything.
        .route("/l/{token}", web::get().to(links::show))
        .route("/l/{token}", web::head().to(links::show))
        .route("/l/{token}", web::post().to(links::confirm))
        .route("/unsubscribe/{token}", web::get().to(links::show))
        .route("/unsubscribe/{token}", web::head().to(links::show))
        .route("/unsubscribe/{token}", web::post().to(links::confirm))
        // The order's status page: read-only, never used up (GET and HEAD only).
        .route("/s/{token}", web::get().to(status::show))
        .route("/s/{token}", web::head().to(status::show))
        // A supplier's page for a purchase order (from the order's email; no login).
        .route("/supplier/{token}", web::get().to(supplier_links::show))
        .route("/supplier/{token}", web::head().to(supplier_links::show))
        .route(
            "/supplier/{token}/confirm",
            web::post().to(supplier_links::confirm),
        )
        .route(
            "/supplier/{token}/date",
            web::post().to(supplier_links::new_date),
        );
}
