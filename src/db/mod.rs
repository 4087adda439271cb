//! The PostgreSQL side: the pool, embedded migrations, creating the database on a first
//! run, and the `blocking` hop that runs one use case on one pooled connection.

pub mod audit;
pub mod models;
pub mod prepared;
pub mod replica;
pub mod schema;
pub mod sessions;
pub mod shop_settings;
pub mod stock;
pub mod users;

use std::time::Duration;

use anyhow::{Context, anyhow};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::redact_url;
use crate::error::AppError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgPooled = PooledConnection<ConnectionManager<PgConnection>>;

/// Connects once to say clearly what is wrong before anything else starts, creating the
/// database when the server answers but the database does not exist yet.
pub fn ensure_database(database_url: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(database_url).map_err(|e| {
        anyhow!(
            "DATABASE_URL {} is not a URL: {e}",
            redact_url(database_url)
        )
    })?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(anyhow!(
            "DATABASE_URL must start with postgres://, not {}://",
            url.scheme()
        ));
    }
    let name = url.path().trim_start_matches('/').to_owned();
    if name.is_empty() {
        return Err(anyhow!(
            "DATABASE_URL {} names no database",
            redact_url(database_url)
        ));
    }
    match PgConnection::establish(database_url) {
        Ok(_) => Ok(()),
        Err(e)
            if e.to_string().contains("does not exist") && e.to_string().contains("database") =>
        {
            let mut admin_url = url.clone();
            admin_url.set_path("/postgres");
            let mut admin = PgConnection::establish(admin_url.as_str()).map_err(|e| {
                anyhow!(
                    "cannot connect to PostgreSQL at {}: {}",
                    redact_url(admin_url.as_str()),
                    one_line(&e)
                )
            })?;
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            diesel::sql_query(format!("CREATE DATABASE {quoted}"))
                .execute(&mut admin)
                .map_err(|e| anyhow!("cannot create database {name:?}: {}", one_line(&e)))?;
            tracing::info!(database = %name, "created the database");
            Ok(())
        }
        Err(e) => Err(anyhow!(
            "cannot connect to PostgreSQL at {}: {}",
            redact_url(database_url),
            one_line(&e)
        )),
    }
}

fn one_line(error: &dyn std::fmt::Display) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Settings of every pooled connection. On a machine with few cores, parallel query
/// workers take the cores other requests need, and JIT compilation costs more than the
/// short queries of a page save (PERFORMANCE.md).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionSettings;

impl diesel::r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        diesel::connection::SimpleConnection::batch_execute(
            conn,
            "SET jit = off; SET max_parallel_workers_per_gather = 0",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// One round trip to the database, for the readiness probe.
pub fn ping(conn: &mut PgConnection) -> QueryResult<()> {
    crate::db::prepared::sql("SELECT 1").execute(conn)?;
    Ok(())
}

/// Builds the connection pool. It opens no connection itself: the first checkout does
/// (`startup::prepare_database` takes one at once, so a server that does not answer is
/// still said at start).
///
/// While PostgreSQL is away a request waits at most `connection_timeout` for a connection
/// and then gets a 503, so people and load balancers hear about it in seconds. Each
/// checkout is tested with `SELECT 1` (one round trip): after a restart the pool holds
/// connections whose server is gone, and diesel only finds out when a query fails on one,
/// which would be one failed request per stale connection after PostgreSQL is back.
pub fn connect(database_url: &str, max_size: u32) -> anyhow::Result<PgPool> {
    let manager = ConnectionManager::<PgConnection>::new(database_url);
    Pool::builder()
        .max_size(max_size)
        .connection_customizer(Box::new(SessionSettings))
        // No connection is opened in the background to keep a floor of idle ones: a
        // command that exits while the pool's worker thread is still in libpq's TLS
        // handshake crashes in OpenSSL's exit handler (SIGSEGV after "API token created").
        // Connections open on demand and stay pooled until `idle_timeout` (10 minutes).
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(2))
        .test_on_check_out(true)
        .build(manager)
        .with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}",
                redact_url(database_url)
            )
        })
}

/// Applies the migrations embedded in the binary; returns how many ran.
pub fn run_migrations(conn: &mut PgConnection) -> anyhow::Result<usize> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow!("migrating the database failed: {e}"))?;
    Ok(applied.len())
}

/// The one blocking hop of a request: checks out a connection inside the thread pool and
/// runs the whole use case there.
pub async fn blocking<T, F>(pool: &PgPool, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn =
            crate::metrics::waiting_for(&crate::metrics::PRIMARY_WAITING, || pool.get())?;
        work(&mut conn)
    })
    .await?
}
