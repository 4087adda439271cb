//! Reads from a PostgreSQL streaming replica (`DATABASE_REPLICA_URL`), for the pages and
//! figures that only read. Writes never come here, nor does anything read in the same
//! request as a write; the web layer also sends a person who just changed something to
//! the primary for a while (read-your-writes, `web::reads`).
//!
//! The replica is used only while it is close enough: a monitor thread samples the
//! primary's WAL position every 250 ms and watches the replica replay it. The lag is the
//! age of the oldest sample the replica has not replayed yet (zero when it has replayed
//! them all, as when the primary is idle), so it is the time by which the replica is
//! behind, measured without writing anything. A replica that lags more than
//! `DATABASE_REPLICA_MAX_LAG_MS`, does not answer, or loses its connection in the middle
//! of a read is bypassed: the read runs on the primary, and nobody sees an error.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sql_types::{BigInt, Bool};

use super::PgPool;
use crate::config::redact_url;
use crate::error::AppError;
use crate::metrics::{PRIMARY_WAITING, REPLICA_WAITING, waiting_for};

/// How often the monitor samples both servers.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);
/// Samples kept at most (ten minutes' worth); a replica further behind is far too far.
const MAX_SAMPLES: usize = 2_400;

/// The replica's pool and what the monitor last saw of it.
pub struct Replica {
    pool: PgPool,
    max_lag: Duration,
    health: Arc<Health>,
}

#[derive(Default)]
struct Health {
    usable: AtomicBool,
    lag_ms: AtomicU64,
    /// Reads on the replica so far (the tests and `/metrics` look at it).
    reads: AtomicU64,
}

/// What `/metrics` and the tests see of the replica.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaStatus {
    pub usable: bool,
    pub lag: Duration,
    pub reads: u64,
}

impl Replica {
    /// A pool for the replica (no connection is made yet: a replica that is down at start
    /// is only bypassed) and its monitor, which runs while the replica is in use.
    pub fn start(
        url: &str,
        pool_size: u32,
        max_lag: Duration,
        primary: PgPool,
    ) -> anyhow::Result<Arc<Self>> {
        url::Url::parse(url)
            .with_context(|| format!("DATABASE_REPLICA_URL {} is not a URL", redact_url(url)))?;
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(0))
            // A replica that is away costs a read at most this long before the primary
            // takes it; the monitor notices within `CHECK_EVERY` and stops trying it.
            .connection_timeout(Duration::from_millis(500))
            .test_on_check_out(true)
            .connection_customizer(Box::new(super::SessionSettings))
            .build_unchecked(ConnectionManager::<PgConnection>::new(url));
        let replica = Arc::new(Self {
            pool,
            max_lag,
            health: Arc::new(Health::default()),
        });
        let watched = Arc::downgrade(&replica);
        std::thread::Builder::new()
            .name("replica-monitor".to_owned())
            .spawn(move || monitor(watched, primary))
            .context("cannot start the replica monitor")?;
        Ok(replica)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }

    pub fn status(&self) -> ReplicaStatus {
        ReplicaStatus {
            usable: self.health.usable.load(Ordering::SeqCst),
            lag: Duration::from_millis(self.health.lag_ms.load(Ordering::SeqCst)),
            reads: self.health.reads.load(Ordering::SeqCst),
        }
    }

    fn set_unusable(&self) {
        self.health.usable.store(false, Ordering::SeqCst);
    }
}

#[derive(QueryableByName)]
struct PrimaryPosition {
    #[diesel(sql_type = BigInt)]
    lsn: i64,
}

#[derive(QueryableByName)]
struct ReplicaPosition {
    #[diesel(sql_type = Bool)]
    standby: bool,
    #[diesel(sql_type = BigInt)]
    replayed: i64,
}

fn primary_position(primary: &PgPool) -> anyhow::Result<i64> {
    let mut conn = primary.get()?;
    let row: PrimaryPosition =
        crate::db::prepared::sql("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8 AS lsn")
            .get_result(&mut conn)?;
    Ok(row.lsn)
}

fn replica_position(replica: &PgPool) -> anyhow::Result<ReplicaPosition> {
    let mut conn = replica.get()?;
    Ok(crate::db::prepared::sql(
        "SELECT pg_is_in_recovery() AS standby,
                coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8, 0) AS replayed",
    )
    .get_result(&mut conn)?)
}

/// Samples the primary's position and the replica's replay until the replica is
/// dropped (the app stopped).
fn monitor(watched: Weak<Replica>, primary: PgPool) {
    let mut samples: VecDeque<(Instant, i64)> = VecDeque::new();
    let mut was_usable = false;
    loop {
        let Some(replica) = watched.upgrade() else {
            return;
        };
        if let Ok(lsn) = primary_position(&primary)
            && samples.back().is_none_or(|(_, last)| *last != lsn)
            && samples.len() < MAX_SAMPLES
        {
            samples.push_back((Instant::now(), lsn));
        }
        let usable = match replica_position(&replica.pool) {
            Ok(position) => {
                // A promoted replica (failed over to) is a primary: nothing to wait for.
                if !position.standby {
                    samples.clear();
                }
                while samples
                    .front()
                    .is_some_and(|(_, lsn)| *lsn <= position.replayed)
                {
                    samples.pop_front();
                }
                let lag = samples
                    .front()
                    .map_or(Duration::ZERO, |(at, _)| at.elapsed());
                replica
                    .health
                    .lag_ms
                    .store(lag.as_millis() as u64, Ordering::SeqCst);
                lag <= replica.max_lag
            }
            Err(error) => {
                if was_usable {
                    tracing::warn!(error = %format!("{error:#}"), "the read replica does not answer; reading from the primary");
                }
                false
            }
        };
        if usable != was_usable && usable {
            tracing::info!("reading from the replica");
        } else if !usable && was_usable {
            tracing::warn!(
                lag_ms = replica.health.lag_ms.load(Ordering::SeqCst),
                "the read replica is bypassed"
            );
        }
        was_usable = usable;
        replica.health.usable.store(usable, Ordering::SeqCst);
        drop(replica);
        std::thread::sleep(CHECK_EVERY);
    }
}

/// The primary, and the replica when one is configured.
#[derive(Clone)]
pub struct Pools {
    pub primary: PgPool,
    pub replica: Option<Arc<Replica>>,
}

impl Pools {
    pub fn primary_only(primary: PgPool) -> Self {
        Self {
            primary,
            replica: None,
        }
    }

    /// Runs a read-only use case on the replica when it is usable and `fresh` is not
    /// asked for, else (or when the replica fails under it) on the primary. Call it
    /// inside a blocking thread; `work` may run twice, so it must only read.
    pub fn read<T>(
        &self,
        fresh: bool,
        mut work: impl FnMut(&mut PgConnection) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        if let Some(replica) = self
            .replica
            .as_ref()
            .filter(|r| !fresh && r.status().usable)
        {
            let attempt = waiting_for(&REPLICA_WAITING, || replica.pool.get())
                .map_err(AppError::from)
                .and_then(|mut conn| work(&mut conn));
            match attempt {
                // The replica went away, or refused the statement (a standby cancels
                // queries that conflict with replay): the primary answers instead.
                Err(AppError::Unavailable(cause)) => {
                    tracing::warn!(%cause, "a read on the replica failed; reading from the primary");
                    replica.set_unusable();
                }
                Err(AppError::Internal(cause)) => {
                    tracing::warn!(cause = %format!("{cause:#}"), "a read on the replica failed; reading from the primary");
                }
                answer => {
                    replica.health.reads.fetch_add(1, Ordering::Relaxed);
                    return answer;
                }
            }
        }
        let mut conn = waiting_for(&PRIMARY_WAITING, || self.primary.get())?;
        work(&mut conn)
    }

    /// `read` in its own blocking hop: the request's one hop for a read-only page.
    pub async fn blocking_read<T, F>(&self, fresh: bool, work: F) -> Result<T, AppError>
    where
        F: FnMut(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pools = self.clone();
        tokio::task::spawn_blocking(move || pools.read(fresh, work)).await?
    }
}
