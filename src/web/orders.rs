//! Order lookup ("when will it ship?") and the order page with its actions.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel::prelude::*;
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::services::fulfilment;
use crate::services::lookup::{self, EtaChange, LineDetail, OrderDetail, OrderMatch};
use crate::startup::AppState;
use crate::web::reads::Reads;
pub use crate::web::render::Words;
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;

#[derive(Template)]
#[template(path = "pages/orders_search.html", blocks = ["results"])]
struct SearchPage {
    frame: Frame,
    query: String,
    matches: Vec<OrderMatch>,
    words: Words,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<SearchQuery>,
) -> AppResult<HttpResponse> {
    let text: String = query.into_inner().q.chars().take(200).collect();
    let needle = text.clone();
    let (matches, currency) = Reads::of(&req, &state)
        .blocking(move |conn| {
            let matches = lookup::search(conn, &needle, 25)?;
            Ok((matches, crate::db::shop_settings::load(conn)?.currency))
        })
        .await?;
    let htmx = render::is_htmx(&req);
    if !htmx && matches.len() == 1 {
        let location = format!("/orders/{}", url_segment(&matches[0].number));
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish());
    }
    let page = SearchPage {
        frame: Frame::new(&user, "orders"),
        query: text,
        matches,
        words: Words {
            today: crate::clock::today(),
            currency,
        },
    };
    if htmx {
        return Ok(render::html_string(page.as_results().render()?));
    }
    render::html(&page)
}

/// A path segment with reserved characters escaped.
pub fn url_segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[derive(Template)]
#[template(path = "pages/order.html", blocks = ["lines", "notes"])]
struct OrderPage {
    frame: Frame,
    order: OrderDetail,
    words: Words,
    error: Option<String>,
    /// The problem with a proposed discount, shown beside its form.
    proposal_error: Option<String>,
}

impl OrderPage {
    fn history_of(&self, line: &LineDetail) -> Vec<&EtaChange> {
        self.order
            .eta_changes
            .iter()
            .filter(|c| c.order_line_id == line.id)
            .collect()
    }

    /// "slipped by 3 days" when the date told now is later than the promise.
    fn slipped(&self, line: &LineDetail) -> Option<String> {
        match (line.promised_on, line.eta_worst) {
            (Some(promised), Some(worst)) if worst > promised && line.waiting() > 0 => {
                let days = (worst - promised).num_days();
                Some(format!(
                    "slipped by {days} {}",
                    if days == 1 { "day" } else { "days" }
                ))
            }
            _ => None,
        }
    }

    fn has_waiting(&self) -> bool {
        self.order.lines.iter().any(|l| l.waiting() > 0)
    }

    fn can_ship(&self) -> bool {
        self.order.lines.iter().any(|l| l.allocated > 0)
    }

    fn order_value(&self) -> i64 {
        self.order
            .lines
            .iter()
            .map(|l| i64::from(l.qty - l.cancelled) * l.unit_price_cents)
            .sum()
    }

    fn payment(&self) -> String {
        let header = &self.order.header;
        match header.payment_state.as_str() {
            "authorized" => match header.payment_authorized_until {
                Some(until) if until < self.words.today => {
                    format!("Authorization lapsed on {}", self.words.date(&until))
                }
                Some(until) => format!("Authorized until {}", self.words.date(&until)),
                None => "Authorized".to_owned(),
            },
            "partially_captured" => {
                "Captured for what has shipped; the rest is still authorized".to_owned()
            }
            "captured" => "Captured at shipment".to_owned(),
            "voided" => "Voided (cancelled)".to_owned(),
            other => other.to_owned(),
        }
    }

    fn proposal_text(&self, p: &crate::services::lookup::OrderProposal) -> String {
        match p.kind.as_str() {
            "percent" => format!("{}% off", p.value),
            "amount" => format!("{} off", self.words.money(i64::from(p.value))),
            _ => "Free shipping".to_owned(),
        }
    }

    fn choice(line: &LineDetail) -> &'static str {
        match line.customer_choice.as_str() {
            "ship_partial" => "Ship what is ready",
            "cancel" => "Cancel the waiting items",
            _ => "Wait for everything",
        }
    }
}

async fn load_page(
    state: &AppState,
    user: &CurrentUser,
    number: String,
    error: Option<String>,
) -> AppResult<OrderPage> {
    let (order, currency) = crate::db::blocking(&state.pool, move |conn| {
        Ok((
            lookup::order_detail(conn, &number)?,
            crate::db::shop_settings::load(conn)?.currency,
        ))
    })
    .await?;
    Ok(OrderPage {
        frame: Frame::new(user, "orders"),
        order,
        words: Words {
            today: crate::clock::today(),
            currency,
        },
        error,
        proposal_error: None,
    })
}

/// The order page again with a refused discount proposal's problem beside its form.
pub async fn with_proposal_error(
    state: &AppState,
    user: &CurrentUser,
    number: String,
    message: String,
) -> AppResult<HttpResponse> {
    let mut page = load_page(state, user, number, None).await?;
    page.proposal_error = Some(message);
    Ok(render::form_answer(page.render()?, true))
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
) -> AppResult<HttpResponse> {
    render::html(&load_page(&state, &user, number.into_inner(), None).await?)
}

/// After an action: the changed block for htmx, or back to the page for a plain form.
async fn answer(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    number: String,
    block: &str,
    outcome: AppResult<()>,
) -> AppResult<HttpResponse> {
    let error = match outcome {
        Ok(()) => None,
        Err(AppError::Invalid { message, .. } | AppError::Conflict(message)) => Some(message),
        Err(other) => return Err(other),
    };
    if !render::is_htmx(req) && error.is_none() {
        let location = format!("/orders/{}", url_segment(&number));
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish());
    }
    let failed = error.is_some();
    let page = load_page(state, user, number, error).await?;
    let body = match (render::is_htmx(req), block) {
        (true, "notes") => page.as_notes().render()?,
        (true, _) => page.as_lines().render()?,
        (false, _) => page.render()?,
    };
    Ok(render::form_answer(body, failed))
}

pub async fn ship(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
) -> AppResult<HttpResponse> {
    let number = number.into_inner();
    let (actor, target) = (user.actor(), number.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        fulfilment::ship_allocated(conn, &actor, &target, crate::clock::today()).map(|_| ())
    })
    .await;
    answer(&req, &state, &user, number, "lines", outcome).await
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
}

pub async fn cancel_line(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
    form: web::Form<CancelForm>,
) -> AppResult<HttpResponse> {
    let (number, line_id) = path.into_inner();
    let reason = form.into_inner().reason.trim().to_owned();
    let outcome = if reason.is_empty() || reason.chars().count() > 500 {
        Err(AppError::invalid(
            "reason",
            "give a reason for the cancellation (up to 500 characters)",
        ))
    } else {
        let (actor, target) = (user.actor(), number.clone());
        crate::db::blocking(&state.pool, move |conn| {
            let belongs: bool = diesel::select(diesel::dsl::exists(
                crate::db::schema::order_lines::table
                    .inner_join(crate::db::schema::orders::table)
                    .filter(crate::db::schema::order_lines::id.eq(line_id))
                    .filter(crate::db::schema::orders::number.eq(&target)),
            ))
            .get_result(conn)?;
            if !belongs {
                return Err(AppError::not_found("that line on this order"));
            }
            fulfilment::cancel_line(conn, &actor, line_id, None, &reason, crate::clock::today())
                .map(|_| ())
        })
        .await
    };
    answer(&req, &state, &user, number, "lines", outcome).await
}

/// Emails the customer the current dates of their waiting lines (at most once a day).
pub async fn send_eta_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
) -> AppResult<HttpResponse> {
    let number = number.into_inner();
    let (actor, target) = (user.actor(), number.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        let order_id: i64 = crate::db::schema::orders::table
            .filter(crate::db::schema::orders::number.eq(&target))
            .select(crate::db::schema::orders::id)
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("the order"))?;
        if crate::services::messages::queue_eta_update(conn, &actor, order_id, crate::clock::today())? {
            Ok(())
        } else {
            Err(AppError::Conflict(
                "No update was queued: nothing on this order waits, or an update went out today already.".to_owned(),
            ))
        }
    })
    .await;
    answer(&req, &state, &user, number, "lines", outcome).await
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
}

pub async fn add_note(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
    form: web::Form<NoteForm>,
) -> AppResult<HttpResponse> {
    let number = number.into_inner();
    let body = form.into_inner().body;
    let (actor, target) = (user.actor(), number.clone());
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        lookup::add_note(conn, &actor, &target, &body)
    })
    .await;
    answer(&req, &state, &user, number, "notes", outcome).await
}
