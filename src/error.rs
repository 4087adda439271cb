//! One error type for the whole request path. The policy: models and services return
//! `AppError` (or `QueryResult`, converted here); handlers return `AppError`, which turns
//! into a page for people and, wrapped in `ApiError`, into JSON for programs. The cause is
//! logged; the response says only what is safe and useful to the person who sent it.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

/// A problem with one field of a form or a JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("you do not have permission to do this")]
    Forbidden,
    #[error("please sign in")]
    LoginRequired,
    #[error("this form has expired or did not come from this site; reload the page and try again")]
    CsrfRejected,
    #[error("a valid API token is required")]
    Unauthorized,
    #[error("{message}")]
    Invalid {
        message: String,
        details: Vec<FieldError>,
    },
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the database is not reachable right now; please try again in a moment")]
    Unavailable(String),
    #[error("something went wrong on our side")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Invalid {
            message: message.clone(),
            details: vec![FieldError::new(field, message)],
        }
    }

    pub fn invalid_fields(details: Vec<FieldError>) -> Self {
        let message = match details.as_slice() {
            [one] => one.message.clone(),
            _ => format!("{} fields need attention", details.len()),
        };
        Self::Invalid { message, details }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    /// The short title shown on an error page.
    pub fn title(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "Not found",
            Self::Forbidden | Self::CsrfRejected => "Not allowed",
            Self::LoginRequired | Self::Unauthorized => "Sign in required",
            Self::Invalid { .. } | Self::Malformed(_) => "Please check the input",
            Self::Conflict(_) => "Conflict",
            Self::TooManyRequests(_) => "Too many attempts",
            Self::PayloadTooLarge => "Too large",
            Self::Unavailable(_) => "Temporarily unavailable",
            Self::Internal(_) => "Server error",
        }
    }

    pub fn details(&self) -> &[FieldError] {
        match self {
            Self::Invalid { details, .. } => details,
            _ => &[],
        }
    }
}

impl From<DieselError> for AppError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => Self::NotFound("the record".to_owned()),
            _ if is_database_away(&error) => Self::Unavailable(error.to_string()),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::debug!(constraint = ?info.constraint_name(), "unique violation");
                Self::Conflict("this already exists".to_owned())
            }
            // Text with a NUL (from a path or a search box; forms and JSON bodies are
            // refused before): PostgreSQL cannot hold it, so it names nothing.
            DieselError::DatabaseError(_, info)
                if info
                    .message()
                    .starts_with("invalid byte sequence for encoding") =>
            {
                Self::Malformed(
                    "text with a NUL character cannot be stored or looked up".to_owned(),
                )
            }
            _ => Self::Internal(anyhow::Error::new(error)),
        }
    }
}

/// True when the error says the connection to PostgreSQL is gone (a restart, a network
/// cut), not that the statement was wrong: the request may succeed when tried again.
fn is_database_away(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        DieselError::DatabaseError(_, info) => is_connection_lost(info.message()),
        // What diesel answers on a connection whose transaction was cut off earlier.
        DieselError::BrokenTransactionManager => true,
        // COMMIT failed, and so did the ROLLBACK after it: the commit's error says why.
        DieselError::RollbackErrorOnCommit { commit_error, .. } => is_database_away(commit_error),
        _ => false,
    }
}

fn is_connection_lost(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "server closed the connection",
        "terminating connection",
        "connection refused",
        "no connection to the server",
        "could not connect",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::Internal(anyhow::anyhow!("the blocking thread pool failed: {error}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        Self::Internal(anyhow::anyhow!("rendering a template failed: {error}"))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Forbidden | Self::CsrfRejected => StatusCode::FORBIDDEN,
            Self::LoginRequired => StatusCode::SEE_OTHER,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        log_cause(self);
        if let Self::LoginRequired = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .insert_header(("HX-Redirect", "/login"))
                .finish();
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Self::Unavailable(_) = self {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        response
            .content_type("text/html; charset=utf-8")
            .body(crate::web::pages::error_page(self))
    }
}

fn log_cause(error: &AppError) {
    match error {
        AppError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
        AppError::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
        _ => tracing::debug!(%error, "request refused"),
    }
}

/// The same errors for the JSON API: `{"error": ..., "details": [...]}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Every refusal of the API: what is wrong, and each field that is wrong.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiErrorBody<'a> {
    pub error: String,
    pub details: &'a [FieldError],
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.0 {
            AppError::LoginRequired => StatusCode::UNAUTHORIZED,
            _ => self.0.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        log_cause(&self.0);
        let mut response = HttpResponse::build(self.status_code());
        match self.0 {
            AppError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            AppError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
            }
            _ => {}
        }
        response
            .content_type("application/json")
            .body(crate::web::api::to_json(&ApiErrorBody {
                error: self.0.to_string(),
                details: self.0.details(),
            }))
    }
}

pub type AppResult<T> = Result<T, AppError>;
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    fn status(error: DieselError) -> StatusCode {
        AppError::from(error).status_code()
    }

    #[test]
    fn a_lost_connection_is_503_wherever_diesel_reports_it() {
        let closed = || database_error(DatabaseErrorKind::ClosedConnection, "server closed");
        for error in [
            closed(),
            database_error(DatabaseErrorKind::UnableToSendCommand, "no connection"),
            database_error(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            DieselError::BrokenTransactionManager,
            DieselError::RollbackErrorOnCommit {
                rollback_error: Box::new(closed()),
                commit_error: Box::new(closed()),
            },
        ] {
            assert_eq!(status(error), StatusCode::SERVICE_UNAVAILABLE);
        }
    }

    #[test]
    fn a_wrong_statement_is_still_ours_to_fix() {
        let syntax = || database_error(DatabaseErrorKind::Unknown, "syntax error at or near");
        assert_eq!(status(syntax()), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            status(DieselError::RollbackErrorOnCommit {
                rollback_error: Box::new(syntax()),
                commit_error: Box::new(syntax()),
            }),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(database_error(DatabaseErrorKind::UniqueViolation, "dup")),
            StatusCode::CONFLICT
        );
    }
}
