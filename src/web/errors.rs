//! What an `AppError` becomes over HTTP: a page for people and, wrapped in `ApiError`, JSON
//! for programs. The cause is logged; the response says only what is safe and useful to
//! the person who sent it.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::{AppError, FieldError};

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
            .body(super::pages::error_page(self))
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
            .body(super::api::to_json(&ApiErrorBody {
                error: self.0.to_string(),
                details: self.0.details(),
            }))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<actix_web::error::BlockingError> for AppError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::Internal(anyhow::anyhow!("the blocking thread pool failed: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};

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
