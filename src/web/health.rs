//! Probes for a load balancer: `/healthz` says the process is up, `/readyz` that it can
//! reach the database.

use actix_web::{HttpResponse, web};

use crate::web::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let result = crate::db::blocking(&state.pool, |conn| Ok(crate::db::ping(conn)?)).await;
    match result {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready"),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unreachable")
        }
    }
}
