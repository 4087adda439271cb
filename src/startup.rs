//! Building the application: database, migrations, secrets, the HTTP server. Tests build
//! it the same way on port 0.

use std::net::TcpListener;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use sha2::{Digest, Sha512};
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::db::{self, PgPool};
use crate::web::recent::Recent;
use crate::web::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    /// The `METRICS_ADDR` listener and its port, when set.
    metrics: Option<(Server, u16)>,
    pub pool: PgPool,
}

/// Caps glibc's malloc at two arenas. By default every thread that allocates (actix's
/// workers, the blocking pool's threads running use cases, the email worker) may get an
/// arena of its own, up to eight per core, and each keeps the memory its biggest request
/// freed: the server's peak RSS over `bench/run` was 131 MB. Two arenas cost little
/// contention on the cores this runs on. Called first thing by `main`.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other
    // thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Checks the database, migrates it and returns a pool: the first steps of every command.
/// It stores nothing about this process (see `register_public_url`).
pub fn prepare_database(settings: &Settings) -> anyhow::Result<PgPool> {
    db::ensure_database(&settings.database_url)?;
    let pool = db::connect(&settings.database_url, settings.pool_size)?;
    let mut conn = pool.get().context("cannot get a database connection")?;
    let applied = db::run_migrations(&mut conn)?;
    if applied > 0 {
        tracing::info!(applied, "database migrated");
    }
    drop(conn);
    Ok(pool)
}

/// Makes this instance's `PUBLIC_URL` the one links in emails start with. Only `serve`
/// calls it (and `worker`, when no server has said yet): a one-off command such as
/// `api-token create`, run with another environment, must not point customers elsewhere.
pub fn register_public_url(pool: &PgPool, settings: &Settings) -> anyhow::Result<()> {
    let mut conn = pool.get().context("cannot get a database connection")?;
    crate::email::links::register_public_url(&mut conn, &settings.public_url)?;
    Ok(())
}

/// The secret behind cookies: `SESSION_SECRET`, or one kept in the database.
fn master_secret(settings: &Settings, pool: &PgPool) -> anyhow::Result<String> {
    if let Some(secret) = &settings.session_secret {
        return Ok(secret.clone());
    }
    let mut conn = pool.get()?;
    Ok(crate::db::shop_settings::secret(
        &mut conn,
        "session_secret",
    )?)
}

/// The shop's email worker: the periodic jobs and the renderer for emails rendered at
/// sending (the restock email), handed in here because the worker depends on nothing
/// above it. `serve` and `worker` both start it from this.
pub fn email_worker_config() -> crate::email::worker::WorkerConfig {
    crate::email::worker::WorkerConfig {
        periodic: Some(crate::services::inventory::catalog::periodic_jobs),
        render_at_sending: Some(crate::services::messages::restock_mail::render_at_sending),
        ..Default::default()
    }
}

impl Application {
    pub fn build(settings: Settings, pool: PgPool) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.bind_addr)
            .with_context(|| format!("cannot listen on {}", settings.bind_addr))?;
        let port = listener.local_addr()?.port();
        let secret = master_secret(&settings, &pool)?;
        let cookie_key = Key::from(
            &Sha512::new()
                .chain_update(b"session:")
                .chain_update(&secret)
                .finalize(),
        );
        // Links are signed inside services too, where only a connection is at hand: the
        // key and the public URL live in the database (see `email::links`).
        let link_key = {
            let mut conn = pool.get().context("cannot get a database connection")?;
            crate::email::links::register_public_url(&mut conn, &settings.public_url)?;
            crate::email::links::signing_key(&mut conn)?
        };
        let secure = settings.is_https();
        let figures_max_age = settings.figures_max_age;
        let replica = match &settings.database_replica_url {
            Some(url) => Some(crate::db::replica::Replica::start(
                url,
                settings.pool_size,
                settings.replica_max_lag,
                pool.clone(),
            )?),
            None => None,
        };
        let reads = crate::db::replica::Pools {
            primary: pool.clone(),
            replica,
        };
        let metrics = match settings.metrics_addr {
            Some(addr) => Some(crate::web::metrics::listener(
                addr,
                crate::web::metrics::MetricsSource {
                    pools: reads.clone(),
                },
            )?),
            None => None,
        };
        let order_lanes =
            crate::services::orders::lanes::OrderLanes::start(pool.clone(), settings.order_lanes)
                .context("cannot start the order lanes")?;
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            reads,
            settings,
            link_key,
            queue_counts: Recent::new(figures_max_age),
            review: Recent::new(figures_max_age),
            availability: Recent::new(figures_max_age),
            api_tokens: Recent::new(figures_max_age),
            order_lanes,
        });
        let server = HttpServer::new(move || {
            let sessions =
                SessionMiddleware::builder(CookieSessionStore::default(), cookie_key.clone())
                    .cookie_name("bd_session".to_owned())
                    .cookie_secure(secure)
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Lax)
                    .cookie_content_security(CookieContentSecurity::Private)
                    .session_lifecycle(BrowserSession::default())
                    .build();
            App::new()
                .app_data(state.clone())
                .app_data(crate::web::input::form_config())
                .app_data(crate::web::input::path_config())
                .app_data(crate::web::input::query_config())
                .app_data(web::PayloadConfig::default().limit(4 * 1024 * 1024))
                .wrap(sessions)
                .wrap(from_fn(crate::web::forget_figures_after_changes))
                .wrap(from_fn(crate::web::reads::remember_changes))
                .wrap(crate::web::security_headers(secure))
                .wrap(TracingLogger::<crate::web::redact::RedactedRootSpan>::new())
                .wrap(from_fn(crate::web::metrics::record_requests))
                .configure(crate::web::routes)
        })
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            metrics,
            pool,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the `METRICS_ADDR` listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.metrics {
            Some((metrics, _)) => tokio::try_join!(self.server, metrics).map(|_| ()),
            None => self.server.await,
        }
    }
}
