//! The HTTP side: routes, and the middleware every response passes through.

pub mod admin;
pub mod api;
pub mod assets;
pub mod auth;
pub mod charts;
pub mod health;
pub mod home;
pub mod orders;
pub mod pages;
pub mod queue;
pub mod render;
pub mod session;

use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::web;

use crate::web::render::NavItem;
use crate::web::session::CurrentUser;

/// Only the app's own scripts and styles; no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ))
}

/// Navigation entries for the sections beyond the review, in the order people use them.
pub fn extra_nav(_user: &CurrentUser) -> Vec<NavItem> {
    vec![NavItem {
        href: "/orders",
        label: "Orders",
        section: "orders",
    }]
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/{path:.*}", web::get().to(assets::serve))
        .configure(api::routes)
        .service(
            web::scope("")
                .wrap(from_fn(session::verify_csrf))
                .route("/login", web::get().to(auth::show))
                .route("/login", web::post().to(auth::submit))
                .route("/logout", web::post().to(auth::logout))
                .route("/", web::get().to(home::show))
                .route("/review/sign-off", web::post().to(home::sign_off))
                .route("/queue", web::get().to(queue::show))
                .route("/queue.csv", web::get().to(queue::export))
                .route("/queue/bulk", web::post().to(queue::bulk))
                .route("/orders", web::get().to(orders::search))
                .route("/orders/{number}", web::get().to(orders::show))
                .route("/orders/{number}/ship", web::post().to(orders::ship))
                .route(
                    "/orders/{number}/lines/{line}/cancel",
                    web::post().to(orders::cancel_line),
                )
                .route("/orders/{number}/notes", web::post().to(orders::add_note))
                .route("/admin/users", web::get().to(admin::list))
                .route("/admin/users", web::post().to(admin::add)),
        );
}
