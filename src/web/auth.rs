//! Signing in and out.

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::error::AppResult;
use crate::services::admin::accounts::{self, LoginOutcome};
use crate::web::render::{self, Frame};
use crate::web::session::{self, CurrentUser};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "pages/login.html")]
struct LoginPage {
    frame: Frame,
    email: String,
    error: Option<String>,
}

pub async fn show(session: Session) -> AppResult<HttpResponse> {
    let frame = Frame::anonymous(session::csrf_token(&session));
    render::html(&LoginPage {
        frame,
        email: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<LoginForm>,
) -> AppResult<HttpResponse> {
    let LoginForm { email, password } = form.into_inner();
    let ip = crate::web::client_ip::client_ip_text(&req);
    let attempt_email = email.clone();
    let outcome = crate::db::blocking(&state.pool, move |conn| {
        accounts::login(conn, &attempt_email, &password, &ip)
    })
    .await;
    let (status, error) = match outcome {
        Ok(LoginOutcome::SignedIn { session_id, .. }) => {
            session::sign_in(&session, &session_id)?;
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/"))
                .finish());
        }
        Ok(LoginOutcome::Refused) => (
            StatusCode::UNAUTHORIZED,
            "The email or password is not right. Please try again.".to_owned(),
        ),
        Err(crate::error::AppError::TooManyRequests(message)) => {
            (StatusCode::TOO_MANY_REQUESTS, message)
        }
        Err(other) => return Err(other),
    };
    let frame = Frame::anonymous(session::csrf_token(&session));
    let body = LoginPage {
        frame,
        email,
        error: Some(error),
    }
    .render()?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// Signing out ends this session on the server: a copy of the cookie stops working too.
pub async fn logout(
    state: web::Data<AppState>,
    session: Session,
    user: Option<CurrentUser>,
) -> AppResult<HttpResponse> {
    if let Some(session_id) = session::session_id(&session) {
        crate::db::blocking(&state.pool, move |conn| {
            accounts::sign_out(conn, &session_id)
        })
        .await?;
    }
    if let Some(user) = user {
        tracing::info!(user = %user.email, "signed out");
    }
    session::sign_out(&session);
    Ok(to_login())
}

/// "Sign out everywhere": every session of the user ends, on every device.
pub async fn logout_everywhere(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let (actor, user_id) = (user.actor(), user.id);
    crate::db::blocking(&state.pool, move |conn| {
        accounts::sign_out_everywhere(conn, &actor, user_id)
    })
    .await?;
    tracing::info!(user = %user.email, "signed out everywhere");
    session::sign_out(&session);
    Ok(to_login())
}

fn to_login() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .finish()
}
