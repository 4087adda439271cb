//! Approvals: managers decide discount proposals; reps propose from the order page and see
//! what became of their proposals.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::users::Role;
use crate::error::{AppError, AppResult};
use crate::services::approvals;
use crate::services::approvals::proposals::{self, ProposalRow};
use crate::web::orders::{Words, url_segment};
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "pages/approvals.html")]
struct ApprovalsPage {
    frame: Frame,
    pending: Vec<ProposalRow>,
    /// Proposals withdrawn because their order has nothing left to ship, newest first.
    withdrawn: Vec<ProposalRow>,
    mine: Vec<ProposalRow>,
    words: Words,
    is_manager: bool,
    user_id: i64,
    message: Option<String>,
}

/// One pending proposal's row, alone, after a decision made through htmx.
#[derive(Template)]
#[template(path = "partials/proposal_row.html")]
struct ProposalRowFragment {
    frame: Frame,
    p: ProposalRow,
    words: Words,
    user_id: i64,
    row_message: Option<String>,
}

/// "10% off", "€5.00 off", "Free shipping".
pub fn value_text(words: &Words, p: &ProposalRow) -> String {
    match p.kind.as_str() {
        "percent" => format!("{}% off", p.value),
        "amount" => format!("{} off", words.money(i64::from(p.value))),
        _ => "Free shipping".to_owned(),
    }
}

/// The value as a person would type it back.
pub fn value_input(p: &ProposalRow) -> String {
    match p.kind.as_str() {
        "amount" => format!("{:.2}", f64::from(p.value) / 100.0),
        _ => p.value.to_string(),
    }
}

pub fn order_link(p: &ProposalRow) -> String {
    format!("/orders/{}", url_segment(&p.order_number))
}

async fn load(state: &AppState, user: &CurrentUser) -> AppResult<ApprovalsPage> {
    let today = crate::clock::today();
    let user_id = user.id;
    let is_manager = user.is_manager();
    let data = crate::db::blocking(&state.pool, move |conn| {
        approvals::page(conn, user_id, is_manager, today)
    })
    .await?;
    Ok(ApprovalsPage {
        frame: Frame::new(user, "approvals"),
        pending: data.pending,
        withdrawn: data.withdrawn,
        mine: data.mine,
        words: Words {
            today,
            currency: data.currency,
        },
        is_manager,
        user_id,
        message: None,
    })
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser) -> AppResult<HttpResponse> {
    render::html(&load(&state, &user).await?)
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    note: String,
}

pub async fn decide(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    form: web::Form<DecideForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let id = id.into_inner();
    let form = form.into_inner();
    let (actor, role) = (user.actor(), user.role);
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        approvals::decide(
            conn,
            &actor,
            role,
            id,
            &form.decision,
            &form.value,
            form.note,
        )
    })
    .await;
    let (message, failed) = match outcome {
        Ok(decided) => match decided.coupon_code {
            _ if decided.withdrawn.is_some() => (
                format!(
                    "Not approved: {}; no coupon was issued.",
                    decided.withdrawn.unwrap_or_default()
                ),
                true,
            ),
            Some(code) => (
                format!("Approved: coupon {code}; the offer email is queued."),
                false,
            ),
            None => (
                "Rejected; the proposing rep sees your note.".to_owned(),
                false,
            ),
        },
        Err(AppError::Forbidden) => return Err(AppError::Forbidden),
        Err(AppError::Conflict(message) | AppError::Invalid { message, .. }) => (message, true),
        Err(other) => return Err(other),
    };
    if !render::is_htmx(&req) {
        let mut page = load(&state, &user).await?;
        page.message = Some(message);
        return Ok(render::form_answer(page.render()?, failed));
    }
    let today = crate::clock::today();
    let (row, currency) =
        crate::db::blocking(&state.pool, move |conn| approvals::row(conn, id, today)).await?;
    let fragment = ProposalRowFragment {
        frame: Frame::new(&user, "approvals"),
        p: row,
        words: Words { today, currency },
        user_id: user.id,
        row_message: Some(message),
    };
    Ok(render::form_answer(fragment.render()?, failed))
}

/// Approves every selected proposal the delay policy made, as proposed.
pub async fn bulk_approve(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Role::Manager)?;
    let ids: Vec<i64> = form
        .into_inner()
        .into_iter()
        .filter(|(k, _)| k == "proposal")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let (actor, role) = (user.actor(), user.role);
    let approved = crate::db::blocking(&state.pool, move |conn| {
        approvals::bulk_approve(conn, &actor, role, &ids)
    })
    .await?;
    let mut page = load(&state, &user).await?;
    page.message = Some(format!(
        "Approved {approved} policy proposals; the offer emails are queued."
    ));
    render::html(&page)
}

#[derive(Deserialize)]
pub struct ProposeForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
}

/// A rep proposes a discount from the order page.
pub async fn propose(
    state: web::Data<AppState>,
    user: CurrentUser,
    number: web::Path<String>,
    form: web::Form<ProposeForm>,
) -> AppResult<HttpResponse> {
    let number = number.into_inner();
    let form = form.into_inner();
    let value = match form.kind.as_str() {
        "free_shipping" => Ok(Some(0)),
        kind => proposals::parse_value(kind, &form.value),
    }
    .and_then(|value| value.ok_or_else(|| AppError::invalid("value", "enter a value")));
    let (actor, target) = (user.actor(), number.clone());
    let outcome = match value {
        Ok(value) => {
            crate::db::blocking(&state.pool, move |conn| {
                proposals::propose(conn, &actor, &target, &form.kind, value, &form.reason)
            })
            .await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(_) => {}
        Err(AppError::Invalid { details, .. }) => {
            let message = details
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return crate::web::orders::with_proposal_error(&state, &user, number, message).await;
        }
        Err(other) => return Err(other),
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!(
                "/orders/{}?done=proposal#feedback-proposal",
                url_segment(&number)
            ),
        ))
        .finish())
}
