//! The home page: the daily review.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::error::AppResult;
use crate::services::review::{self, Headline};
use crate::startup::AppState;
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;

#[derive(Template)]
#[template(path = "pages/home.html", blocks = ["figures"])]
struct HomePage {
    frame: Frame,
    today: String,
    headline: Headline,
    currency: String,
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let today = chrono::Local::now().date_naive();
    let (headline, currency) = crate::db::blocking(&state.pool, move |conn| {
        let headline = review::headline(conn, today)?;
        let currency = crate::db::shop_settings::load(conn)?.currency;
        Ok((headline, currency))
    })
    .await?;
    let page = HomePage {
        frame: Frame::new(&user, "review"),
        today: today.format("%a %-d %b %Y").to_string(),
        headline,
        currency,
    };
    if render::is_htmx(&req) {
        return Ok(render::html_string(page.as_figures().render()?));
    }
    render::html(&page)
}
