//! Turning Askama templates into responses, and the frame every page shares.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;

use crate::domain::format::human_date;
use crate::error::AppResult;
use crate::web::session::CurrentUser;

/// True for requests made by htmx, which want a fragment rather than the full page.
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// A rendered page or fragment. Responses that differ by `HX-Request` say so in `Vary`.
pub fn html(template: &impl Template) -> AppResult<HttpResponse> {
    Ok(html_string(template.render()?))
}

pub fn html_string(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::VARY, "HX-Request"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// A page or fragment answering a form: 422 when the form had a problem (htmx is set to
/// swap 422 too, so the errors show in place), 200 otherwise.
pub fn form_answer(body: String, failed: bool) -> HttpResponse {
    let mut response = html_string(body);
    if failed {
        *response.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// One entry of the main navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub section: &'static str,
}

/// What the base layout needs: who is signed in, the CSRF token, the current section.
pub struct Frame {
    pub user: Option<CurrentUser>,
    pub csrf: String,
    pub section: &'static str,
}

impl Frame {
    pub fn new(user: &CurrentUser, section: &'static str) -> Self {
        Self {
            csrf: user.csrf.clone(),
            user: Some(user.clone()),
            section,
        }
    }

    pub fn anonymous(csrf: String) -> Self {
        Self {
            user: None,
            csrf,
            section: "",
        }
    }

    pub fn asset(&self, path: &str) -> String {
        crate::web::assets::url(path)
    }

    /// The header htmx sends with every request it makes from this page.
    pub fn hx_headers(&self) -> String {
        serde_json::json!({ crate::web::session::CSRF_HEADER: self.csrf }).to_string()
    }

    pub fn nav(&self) -> Vec<NavItem> {
        let Some(user) = &self.user else {
            return Vec::new();
        };
        let mut items = vec![NavItem {
            href: "/",
            label: "Daily review",
            section: "review",
        }];
        items.extend(crate::web::extra_nav(user));
        if user.is_admin() {
            items.push(NavItem {
                href: "/admin/users",
                label: "Admin",
                section: "admin",
            });
        }
        items
    }

    pub fn is_current(&self, item: &NavItem) -> bool {
        self.section == item.section
    }
}

/// Dates and money as people read them, for every page's template.
pub struct Words {
    pub today: NaiveDate,
    pub currency: String,
}

impl Words {
    pub fn date(&self, date: &NaiveDate) -> String {
        human_date(*date, self.today)
    }

    pub fn maybe_date(&self, date: &Option<NaiveDate>) -> String {
        date.map(|d| human_date(d, self.today))
            .unwrap_or_else(|| "unknown".to_owned())
    }

    pub fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        let local = at.with_timezone(&chrono::Local);
        format!(
            "{} {}",
            human_date(local.date_naive(), self.today),
            local.format("%H:%M")
        )
    }

    pub fn money(&self, cents: impl std::borrow::Borrow<i64>) -> String {
        crate::format::money(cents, &self.currency)
    }
}
