//! One error type below the web layer. Models and services return `AppError` (or
//! `QueryResult`, converted here); what it becomes over HTTP (a page for people, JSON for
//! programs, which status) is decided in `web::errors`, so nothing here knows HTTP.

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

impl From<tokio::task::JoinError> for AppError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(anyhow::anyhow!("the blocking thread pool failed: {error}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        Self::Internal(anyhow::anyhow!("rendering a template failed: {error}"))
    }
}

pub type AppResult<T> = Result<T, AppError>;
