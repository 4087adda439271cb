//! Admin pages: staff accounts.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::users::{self, Role, User};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::accounts;
use crate::startup::AppState;
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;

#[derive(Template)]
#[template(path = "pages/admin_users.html")]
struct UsersPage {
    frame: Frame,
    users: Vec<User>,
    roles: [Role; 3],
    form: NewUserForm,
    errors: Vec<FieldError>,
}

impl UsersPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    form: NewUserForm,
    errors: Vec<FieldError>,
) -> AppResult<String> {
    let users = crate::db::blocking(&state.pool, |conn| Ok(users::list(conn)?)).await?;
    let page = UsersPage {
        frame: Frame::new(user, "admin"),
        users,
        roles: Role::ALL,
        form,
        errors,
    };
    Ok(page.render()?)
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    Ok(render::html_string(
        page(&state, &user, NewUserForm::default(), Vec::new()).await?,
    ))
}

pub async fn add(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<NewUserForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let form = form.into_inner();
    let role: Result<Role, _> = form.role.parse();
    let actor = user.actor();
    let (email, name, password) = (form.email.clone(), form.name.clone(), form.password.clone());
    let result = match role {
        Ok(role) => {
            crate::db::blocking(&state.pool, move |conn| {
                accounts::add_user(conn, &actor, &email, &name, role, &password)
            })
            .await
        }
        Err(message) => Err(AppError::invalid("role", message)),
    };
    match result {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/admin/users"))
            .finish()),
        Err(AppError::Invalid { details, .. }) => {
            let form = NewUserForm {
                password: String::new(),
                ..form
            };
            let body = page(&state, &user, form, details).await?;
            Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/html; charset=utf-8")
                .body(body))
        }
        Err(other) => Err(other),
    }
}
