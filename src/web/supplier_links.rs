//! The supplier's page for a purchase order (`/supplier/{token}`), linked from the order's
//! email: no login, no script, fits a phone. It shows the lines and the expected date, a
//! button that confirms the date and a form that gives a new one (with a note); nothing
//! internal (no reliability, no customers). A new date takes the buyer's path
//! (`services::purchasing::supplier_loop::answer`). Once the order is received or cancelled the link
//! says so and changes nothing.

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::db::models::PoStatus;
use crate::error::{AppError, AppResult};
use crate::services::purchasing::supplier_loop::{self, Answered, SupplierLink, SupplierView};
use crate::web::render::{self, Words};
use crate::web::session::csrf_token;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "pages/supplier_po.html")]
struct SupplierPage {
    shop: String,
    title: String,
    message: String,
    view: Option<SupplierView>,
    token: String,
    csrf: String,
    css: String,
    today: NaiveDate,
    words: Words,
    done: Option<String>,
    date_value: String,
    date_error: Option<String>,
    note_value: String,
    note_error: Option<String>,
}

impl SupplierPage {
    fn date(&self, date: &NaiveDate) -> String {
        format!("{} {}", self.words.date(date), date.format("%Y"))
    }

    fn time(&self, at: &DateTime<Utc>) -> String {
        self.words.time(at)
    }
}

fn blank(token: String, csrf: String) -> SupplierPage {
    let today = crate::clock::today();
    SupplierPage {
        shop: String::new(),
        title: String::new(),
        message: String::new(),
        view: None,
        token,
        csrf,
        css: crate::web::assets::url("status.css"),
        today,
        words: Words {
            today,
            currency: String::new(),
        },
        done: None,
        date_value: String::new(),
        date_error: None,
        note_value: String::new(),
        note_error: None,
    }
}

fn respond(page: &SupplierPage, status: StatusCode) -> AppResult<HttpResponse> {
    let mut response = render::html(page)?;
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::HeaderName::from_static("x-robots-tag"),
        header::HeaderValue::from_static("noindex"),
    );
    Ok(response)
}

fn message_page(
    mut page: SupplierPage,
    status: StatusCode,
    title: &str,
    message: String,
) -> AppResult<HttpResponse> {
    page.title = title.to_owned();
    page.message = message;
    respond(&page, status)
}

fn not_ours(page: SupplierPage) -> AppResult<HttpResponse> {
    message_page(
        page,
        StatusCode::NOT_FOUND,
        "This link does not work",
        "This link is not one we sent, or part of it was lost on the way (some email programs break long links). Nothing was changed. Please use the link in our email again, or reply to it.".to_owned(),
    )
}

fn closed(page: SupplierPage, reference: &str, status: PoStatus) -> AppResult<HttpResponse> {
    message_page(
        page,
        StatusCode::GONE,
        "This link no longer works",
        format!(
            "Purchase order {reference} is {status}, so there is no date to confirm any more. Nothing was changed. If something is still open between us, just reply to our email."
        ),
    )
}

/// The page with its order, or the page saying why there is none.
async fn load(
    state: &AppState,
    mut page: SupplierPage,
) -> AppResult<Result<SupplierPage, HttpResponse>> {
    let token = page.token.clone();
    let link = crate::db::blocking(&state.pool, move |conn| {
        supplier_loop::supplier_link(conn, &token)
    })
    .await;
    match link {
        Ok(SupplierLink::Open(view)) => {
            page.title = format!("Purchase order {}", view.reference);
            page.shop = view.shop.clone();
            page.view = Some(view);
            Ok(Ok(page))
        }
        Ok(SupplierLink::Closed { reference, status }) => {
            Ok(Err(closed(page, &reference, status)?))
        }
        Err(AppError::NotFound(_)) => Ok(Err(not_ours(page)?)),
        Err(other) => Err(other),
    }
}

#[derive(Deserialize)]
pub struct ShowParams {
    answered: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    params: web::Query<ShowParams>,
) -> AppResult<HttpResponse> {
    let page = blank(path.into_inner(), csrf_token(&session));
    let mut page = match load(&state, page).await? {
        Ok(page) => page,
        Err(response) => return Ok(response),
    };
    // After an answer (post, then redirect here): what it recorded, in its words.
    if params.answered.is_some()
        && let Some(last) = page.view.as_ref().and_then(|v| v.answers.first())
    {
        let date = page.date(&last.expected_on);
        let note = last
            .note
            .as_deref()
            .map(|n| format!(" Your note: “{n}”."))
            .unwrap_or_default();
        page.done = Some(if last.confirmed() {
            format!("You confirmed delivery on {date}.{note}")
        } else {
            format!(
                "Your new delivery date, {date}, is recorded and is now our expected date.{note}"
            )
        });
    }
    respond(&page, StatusCode::OK)
}

fn answered_page(token: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/supplier/{token}?answered=1#done-heading"),
        ))
        .finish()
}

async fn record(
    state: &AppState,
    page: SupplierPage,
    new_date: Option<(NaiveDate, Option<String>)>,
) -> AppResult<HttpResponse> {
    let token = page.token.clone();
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        supplier_loop::answer(conn, &token, new_date, crate::clock::today())
    })
    .await;
    match outcome {
        Ok(Answered::Closed { reference, status }) => closed(page, &reference, status),
        Ok(Answered::Confirmed { .. } | Answered::NewDate { .. }) => Ok(answered_page(&page.token)),
        Err(AppError::NotFound(_)) => not_ours(page),
        Err(other) => Err(other),
    }
}

pub async fn confirm(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let page = blank(path.into_inner(), csrf_token(&session));
    record(&state, page, None).await
}

#[derive(Deserialize)]
pub struct DateForm {
    #[serde(default)]
    expected_on: String,
    #[serde(default)]
    note: String,
}

pub async fn new_date(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    form: web::Form<DateForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let (token, csrf) = (path.into_inner(), csrf_token(&session));
    let page = blank(token.clone(), csrf.clone());
    let date = supplier_loop::check_supplier_date(&form.expected_on, page.today);
    let note = supplier_loop::check_note(&form.note);
    let (date_error, note_error) = match (date, note) {
        (Ok(date), Ok(note)) => match record(&state, page, Some((date, note))).await {
            // The order refused the date (the same checks as a buyer's): beside the field.
            Err(AppError::Invalid { message, .. }) => (Some(message), None),
            other => return other,
        },
        (date, note) => (message_of(date.err())?, message_of(note.err())?),
    };
    let mut page = blank(token, csrf);
    page.date_error = date_error;
    page.note_error = note_error;
    page.date_value = form.expected_on;
    page.note_value = form.note;
    match load(&state, page).await? {
        Ok(page) => respond(&page, StatusCode::UNPROCESSABLE_ENTITY),
        Err(response) => Ok(response),
    }
}

/// A refusal's words for the form; any other error is the request's.
fn message_of(error: Option<AppError>) -> AppResult<Option<String>> {
    match error {
        None => Ok(None),
        Some(AppError::Invalid { message, .. }) => Ok(Some(message)),
        Some(other) => Err(other),
    }
}
