//! The customer's order status page (`/s/{token}`), linked from every order email: no
//! login, read-only. GET and HEAD change nothing and never use the link up; the token is
//! checked here, whether it still works is the order's to say (see
//! `services::orders::order_status`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::email::links;
use crate::error::AppResult;
use crate::services::orders::order_status::{self, DAYS_AFTER_FINISHED, OrderStatus, StatusView};
use crate::web::render;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "pages/order_status.html")]
struct StatusPage {
    shop: String,
    title: String,
    message: String,
    status: Option<OrderStatus>,
    days: i64,
    css: String,
}

fn page(
    status_code: StatusCode,
    shop: String,
    title: &str,
    message: String,
    status: Option<OrderStatus>,
) -> AppResult<HttpResponse> {
    let mut response = render::html(&StatusPage {
        shop,
        title: title.to_owned(),
        message,
        status,
        days: DAYS_AFTER_FINISHED,
        css: crate::web::assets::url("status.css"),
    })?;
    *response.status_mut() = status_code;
    response.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-robots-tag"),
        actix_web::http::header::HeaderValue::from_static("noindex"),
    );
    Ok(response)
}

pub async fn show(state: web::Data<AppState>, path: web::Path<String>) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    let Ok(order_id) = links::verify_status(&state.link_key, &token) else {
        return page(
            StatusCode::NOT_FOUND,
            String::new(),
            "This link does not work",
            "This link is not one we sent, or part of it was lost on the way (some email programs break long links). Please use the “Follow your order” link in our latest email again, or just reply to it and we will tell you where your order is.".to_owned(),
            None,
        );
    };
    let view = crate::db::blocking(&state.pool, move |conn| {
        order_status::view(conn, order_id, crate::clock::now())
    })
    .await?;
    match view {
        StatusView::Live(status) => {
            let title = format!("Order {}", status.order_number);
            page(
                StatusCode::OK,
                status.shop.clone(),
                &title,
                String::new(),
                Some(*status),
            )
        }
        StatusView::Expired { shop } => page(
            StatusCode::GONE,
            shop,
            "This link has expired",
            format!(
                "Your order's status page works while anything on it is waiting, and for {DAYS_AFTER_FINISHED} days after the last item was sent or cancelled. This order finished longer ago than that. If you have a question about it, just reply to any of our emails; a person reads every answer."
            ),
            None,
        ),
    }
}
