//! Which server a page reads from. With a replica (`DATABASE_REPLICA_URL`), the pages and
//! figures that only read (the queue, searches, the review, exports, availability) read
//! there; everything else, and anything a request reads while it writes, uses the
//! primary. Read-your-writes: a request that may change something (anything but GET and
//! HEAD) answers with a `bd_primary_until` cookie, and the person's reads go to the
//! primary until then (the replica's allowed lag plus two seconds), so nobody sees a page
//! from before their own change.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};
use diesel::PgConnection;

use crate::db::replica::Pools;
use crate::error::AppError;
use crate::web::state::AppState;

pub const COOKIE: &str = "bd_primary_until";

/// How long a person reads from the primary after a change: by then the replica has it,
/// or is lagging more than `max_lag` and bypassed anyway.
pub fn after_a_change(max_lag: Duration) -> Duration {
    max_lag + Duration::from_secs(2)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn may_change(method: &actix_web::http::Method) -> bool {
    !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS")
}

/// Middleware: sets the cookie after each request that may change something, when a
/// replica is configured.
pub async fn remember_changes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let window = may_change(req.method())
        .then(|| req.app_data::<web::Data<AppState>>().cloned())
        .flatten()
        .and_then(|state| {
            let replica = state.reads.replica.as_ref()?;
            Some((after_a_change(replica.max_lag()), state.settings.is_https()))
        });
    let mut response = next.call(req).await?;
    if let Some((window, secure)) = window {
        let cookie = Cookie::build(COOKIE, (now_ms() + window.as_millis() as i64).to_string())
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::seconds(
                window.as_secs() as i64 + 1,
            ))
            .finish();
        if let Err(error) = response.response_mut().add_cookie(&cookie) {
            tracing::warn!(%error, "could not set the read-your-writes cookie");
        }
    }
    Ok(response)
}

/// Where one request reads from.
pub struct Reads {
    pools: Pools,
    fresh: bool,
}

impl Reads {
    /// For `req`: the primary when the request may change something or its sender
    /// changed something a moment ago, else the replica (if any, and usable).
    pub fn of(req: &HttpRequest, state: &AppState) -> Self {
        let changed_lately = req
            .cookie(COOKIE)
            .and_then(|cookie| cookie.value().parse::<i64>().ok())
            .is_some_and(|until| until > now_ms());
        Self {
            pools: state.reads.clone(),
            fresh: may_change(req.method()) || changed_lately,
        }
    }

    /// The primary, for a request that writes and then shows a page.
    pub fn primary(state: &AppState) -> Self {
        Self {
            pools: state.reads.clone(),
            fresh: true,
        }
    }

    /// For a program (the API): no cookies, so only the request itself counts.
    pub fn for_program(state: &AppState) -> Self {
        Self {
            pools: state.reads.clone(),
            fresh: false,
        }
    }

    /// True when this request must see the latest state: it must not be served figures
    /// shared from before (see `web::recent`).
    pub fn fresh(&self) -> bool {
        self.fresh
    }

    /// Runs a read-only use case in the request's one blocking hop.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnMut(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.pools.blocking_read(self.fresh, work).await
    }

    /// The same, inside a blocking thread the caller is already on.
    pub fn run<T>(
        &self,
        work: impl FnMut(&mut PgConnection) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        self.pools.read(self.fresh, work)
    }
}
