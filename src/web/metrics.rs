//! `GET /metrics` for Prometheus: with an API bearer token on the main address, or
//! without one on `METRICS_ADDR` (an address of its own, for a network only the
//! monitoring stack reaches). The middleware here counts and times every request by its
//! route pattern; the shop's gauges are read from the database at each scrape.

use std::net::TcpListener;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use anyhow::Context;

use crate::db::replica::Pools;
use crate::error::AppError;
use crate::metrics::{self as recorded, PRIMARY_WAITING, REPLICA_WAITING};
use crate::services::admin::monitoring::{self, ShopGauges};
use crate::web::api::BearerToken;
use crate::web::errors::ApiError;
use crate::web::state::AppState;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a scrape reads: the database pools of this process.
#[derive(Clone)]
pub struct MetricsSource {
    pub pools: Pools,
}

/// Middleware: every answered request counted and timed, by its route's pattern.
pub async fn record_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let response = next.call(req).await;
    let (route, status) = match &response {
        Ok(response) => (
            response
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned()),
            response.status().as_u16(),
        ),
        Err(error) => (
            "unmatched".to_owned(),
            error.as_response_error().status_code().as_u16(),
        ),
    };
    recorded::record_request(&method, &route, status, started.elapsed());
    response
}

fn set_gauges(source: &MetricsSource, gauges: Option<&ShopGauges>) {
    recorded::record_pool("primary", &source.pools.primary, &PRIMARY_WAITING);
    if let Some(replica) = &source.pools.replica {
        recorded::record_pool("replica", replica.pool(), &REPLICA_WAITING);
        let status = replica.status();
        metrics::gauge!("backorder_replica_lag_seconds").set(status.lag.as_secs_f64());
        metrics::gauge!("backorder_replica_in_use").set(if status.usable { 1.0 } else { 0.0 });
    }
    metrics::gauge!("backorder_database_reachable").set(if gauges.is_some() { 1.0 } else { 0.0 });
    let Some(gauges) = gauges else {
        return;
    };
    for (status, n) in &gauges.outbox {
        metrics::gauge!("backorder_outbox_messages", "status" => status.clone()).set(*n as f64);
    }
    metrics::gauge!("backorder_outbox_oldest_queued_age_seconds").set(gauges.oldest_queued_seconds);
    metrics::gauge!("backorder_waiting_lines").set(gauges.waiting_lines as f64);
    metrics::gauge!("backorder_waiting_units").set(gauges.waiting_units as f64);
    let promises = &gauges.promises;
    metrics::gauge!("backorder_promises_due_30d").set(promises.due as f64);
    metrics::gauge!("backorder_promises_kept_30d").set(promises.kept as f64);
    metrics::gauge!("backorder_promises_kept_ratio_30d").set(if promises.due > 0 {
        promises.kept as f64 / promises.due as f64
    } else {
        1.0
    });
}

fn text(source: &MetricsSource, gauges: Result<ShopGauges, AppError>) -> HttpResponse {
    let gauges = gauges
        .map_err(|error| tracing::warn!(%error, "metrics: the shop's figures could not be read"))
        .ok();
    set_gauges(source, gauges.as_ref());
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(recorded::render())
}

/// On the main address: an API token is required, as for `/api/v1`.
pub async fn with_token(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let token = BearerToken::from_request(&req);
    let shared = state.clone();
    let answer = crate::db::blocking(&state.pool, move |conn| {
        token.authenticate_recent(conn, &shared.api_tokens)?;
        Ok(monitoring::shop_gauges(conn, crate::clock::today()).map_err(AppError::from))
    })
    .await;
    let source = MetricsSource {
        pools: state.reads.clone(),
    };
    match answer {
        Ok(gauges) => text(&source, gauges),
        // Without the database the token cannot be checked: nothing is shown.
        Err(error) => ApiError(error).error_response(),
    }
}

/// On `METRICS_ADDR`: no token.
pub async fn open(source: web::Data<MetricsSource>) -> HttpResponse {
    let gauges = crate::db::blocking(&source.pools.primary, |conn| {
        Ok(monitoring::shop_gauges(conn, crate::clock::today())?)
    })
    .await;
    text(&source, gauges)
}

/// The listener on `METRICS_ADDR`: `/metrics` only. Returns the server and its port.
pub fn listener(
    addr: std::net::SocketAddr,
    source: MetricsSource,
) -> anyhow::Result<(Server, u16)> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("cannot listen on METRICS_ADDR {addr}"))?;
    let port = listener.local_addr()?.port();
    let source = web::Data::new(source);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(source.clone())
            .route("/metrics", web::get().to(open))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok((server, port))
}
