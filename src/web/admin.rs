//! Admin pages: staff accounts.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::models::AuditEntry;
use crate::db::users::{self, Role, User};
use crate::error::{AppError, AppResult, FieldError};
use crate::services::{admin, admin::accounts, admin::api_tokens, admin::audit_words};
use crate::web::orders::Words;
use crate::web::render::{self, Frame};
use crate::web::session::CurrentUser;
use crate::web::state::AppState;

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
            Ok(render::form_answer(body, true))
        }
        Err(other) => Err(other),
    }
}

/// Changes a user's role, access or password (one form per action on the users page);
/// each ends the user's sessions.
pub async fn change_user(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    form: web::Form<admin::UserChanges>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let (target, form) = (id.into_inner(), form.into_inner());
    let (actor, actor_id) = (user.actor(), user.id);
    let result = crate::db::blocking(&state.pool, move |conn| {
        admin::change_user(conn, &actor, actor_id, target, &form)
    })
    .await;
    match result {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/admin/users"))
            .finish()),
        Err(AppError::Invalid { details, .. }) => {
            let body = page(&state, &user, NewUserForm::default(), details).await?;
            Ok(render::form_answer(body, true))
        }
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "pages/admin_tokens.html")]
struct TokensPage {
    frame: Frame,
    tokens: Vec<admin::TokenRow>,
    words: Words,
    new_token: Option<String>,
    error: Option<String>,
}

async fn tokens_page(
    state: &AppState,
    user: &CurrentUser,
    new_token: Option<String>,
    error: Option<String>,
) -> AppResult<TokensPage> {
    let tokens = crate::db::blocking(&state.pool, |conn| Ok(admin::tokens(conn)?)).await?;
    Ok(TokensPage {
        frame: Frame::new(user, "admin"),
        tokens,
        words: Words {
            today: crate::clock::today(),
            currency: String::new(),
        },
        new_token,
        error,
    })
}

pub async fn tokens(state: web::Data<AppState>, user: CurrentUser) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    render::html(&tokens_page(&state, &user, None, None).await?)
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

pub async fn create_token(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<TokenForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let actor = user.actor();
    let name = form.into_inner().name;
    let result = crate::db::blocking(&state.pool, move |conn| {
        api_tokens::create(conn, &actor, &name)
    })
    .await;
    let (token, error) = match result {
        Ok(token) => (Some(token), None),
        Err(AppError::Invalid { message, .. }) => (None, Some(message)),
        Err(other) => return Err(other),
    };
    let failed = error.is_some();
    let page = tokens_page(&state, &user, token, error).await?;
    Ok(render::form_answer(page.render()?, failed))
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let (actor, id) = (user.actor(), id.into_inner());
    crate::db::blocking(&state.pool, move |conn| {
        admin::revoke_token(conn, &actor, id)
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/tokens"))
        .finish())
}

#[derive(Template)]
#[template(path = "pages/admin_settings.html")]
struct SettingsPage {
    frame: Frame,
    form: admin::SettingsForm,
    errors: Vec<FieldError>,
    saved: bool,
}

impl SettingsPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

pub async fn settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let form = crate::db::blocking(&state.pool, admin::settings_form).await?;
    let saved = query.iter().any(|(k, _)| k == "saved");
    render::html(&SettingsPage {
        frame: Frame::new(&user, "admin"),
        form,
        errors: Vec::new(),
        saved,
    })
}

pub async fn save_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<admin::SettingsForm>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let form = form.into_inner();
    let (actor, submitted) = (user.actor(), form.clone());
    let result = crate::db::blocking(&state.pool, move |conn| {
        admin::save_settings(conn, &actor, &submitted, crate::clock::today())
    })
    .await;
    match result {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/admin/settings?saved=1"))
            .finish()),
        Err(AppError::Invalid { details, .. }) => {
            let page = SettingsPage {
                frame: Frame::new(&user, "admin"),
                form,
                errors: details,
                saved: false,
            };
            Ok(render::form_answer(page.render()?, true))
        }
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "pages/admin_audit.html")]
struct AuditPage {
    frame: Frame,
    filter: admin::AuditFilter,
    rows: Vec<AuditEntry>,
    actions: Vec<String>,
    entities: Vec<String>,
    next: Option<String>,
    words: Words,
}

impl AuditPage {
    fn sentence(row: &AuditEntry) -> String {
        audit_words::describe(
            &row.action,
            row.entity_id.as_deref(),
            &row.before,
            &row.after,
        )
    }

    fn action_label(action: &str) -> String {
        audit_words::action_label(action)
    }

    fn entity_label(entity: &str) -> &'static str {
        audit_words::entity_label(entity)
    }

    /// "Riley Rep (rep@…)", "the customer (a@b)", "storefront (through the API)".
    fn who(row: &AuditEntry) -> String {
        crate::services::orders::timeline::actor_words(&row.actor)
    }

    fn next_link(&self, before: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("action", &self.filter.action),
            ("entity", &self.filter.entity),
            ("actor", &self.filter.actor),
            ("from", &self.filter.from),
            ("to", &self.filter.to),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        query.append_pair("before", before);
        format!("/admin/audit?{}", query.finish())
    }
}

pub async fn audit_log(
    state: web::Data<AppState>,
    user: CurrentUser,
    filter: web::Query<admin::AuditFilter>,
) -> AppResult<HttpResponse> {
    user.require(Role::Admin)?;
    let filter = filter.into_inner();
    let query = filter.clone();
    let admin::AuditLog {
        rows,
        actions,
        entities,
    } = crate::db::blocking(&state.pool, move |conn| {
        Ok(admin::audit_log(conn, &query, 101)?)
    })
    .await?;
    let mut rows = rows;
    let next = if rows.len() > 100 {
        rows.truncate(100);
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    render::html(&AuditPage {
        frame: Frame::new(&user, "admin"),
        filter,
        rows,
        actions,
        entities,
        next,
        words: Words {
            today: crate::clock::today(),
            currency: String::new(),
        },
    })
}
