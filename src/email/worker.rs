//! The delivery worker: claims due messages (`FOR UPDATE SKIP LOCKED`, so any number of
//! workers share one outbox), sends them, records the server's answer, and retries
//! temporary failures with exponential backoff and jitter. It also runs the periodic
//! status updates, behind a PostgreSQL advisory lock so one instance does each round.
//!
//! Waking: enqueueing sends `NOTIFY bd_outbox`, but diesel 2.2 (what Cargo.lock holds
//! under rust-version 1.85) has no API to receive notifications, so an idle worker looks
//! for due messages every `idle_poll` (200 ms by default; one index-only probe).

use std::time::Duration;

use anyhow::Context;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use rand::Rng;
use tokio::task::JoinSet;

use super::outbox::{self, Claimed, Outcome};
use super::transport::{SendError, Transport};
use crate::config::Settings;
use crate::db::PgPool;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Messages claimed at once.
    pub batch: i64,
    /// Messages in flight at once (and SMTP connections in the pool).
    pub concurrency: u32,
    /// How often an idle worker looks for due messages.
    pub idle_poll: Duration,
    /// The first retry waits this long; each next one twice as long, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Attempts before a temporary failure counts as final.
    pub max_attempts: i32,
    /// How often the periodic jobs run.
    pub periodic_every: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch: 50,
            concurrency: 4,
            idle_poll: Duration::from_millis(200),
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            max_attempts: 8,
            periodic_every: Duration::from_secs(60),
        }
    }
}

impl WorkerConfig {
    /// The wait before attempt `attempts + 1`: base * 2^(attempts-1), capped, +-25% jitter
    /// so that many messages failing together do not retry together.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = (attempts.max(1) - 1).min(20) as u32;
        let plain = self
            .backoff_base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.backoff_max);
        let jitter = rand::rng().random_range(0.75..1.25);
        plain.mul_f64(jitter)
    }
}

/// A running delivery worker.
pub struct Mailer {
    pool: PgPool,
    transport: Transport,
    from: Mailbox,
    config: WorkerConfig,
}

impl Mailer {
    pub fn new(pool: PgPool, settings: &Settings, config: WorkerConfig) -> anyhow::Result<Self> {
        let transport = Transport::from_settings(settings, config.concurrency)?;
        let from: Mailbox = settings
            .mail_from
            .parse()
            .with_context(|| format!("MAIL_FROM {:?} is not an address", settings.mail_from))?;
        tracing::info!(to = %transport.describe(settings), "email delivery worker ready");
        Ok(Self {
            pool,
            transport,
            from,
            config,
        })
    }

    /// Claims one batch of due messages, sends them and records the outcomes; returns how
    /// many were claimed.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let pool = self.pool.clone();
        let batch = self.config.batch;
        let claimed = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            Ok::<_, anyhow::Error>(outbox::claim_due(&mut conn, batch)?)
        })
        .await??;
        let count = claimed.len();
        let mut outcomes = Vec::with_capacity(count);
        for chunk in claimed.chunks(self.config.concurrency.max(1) as usize) {
            let mut sends = JoinSet::new();
            for message in chunk.iter().cloned() {
                let transport = self.transport.clone();
                let from = self.from.clone();
                let config = self.config.clone();
                sends.spawn(async move {
                    let outcome = attempt(&transport, from, &message, &config).await;
                    (message.id, outcome)
                });
            }
            while let Some(done) = sends.join_next().await {
                outcomes.push(done.context("a send task failed")?);
            }
        }
        if !outcomes.is_empty() {
            let pool = self.pool.clone();
            tokio::task::spawn_blocking(move || {
                let mut conn = pool.get()?;
                for (id, outcome) in &outcomes {
                    match outcome {
                        Outcome::Sent { .. } => tracing::debug!(id, "email sent"),
                        other => tracing::warn!(id, outcome = ?other, "email not sent"),
                    }
                    outbox::record_outcome(&mut conn, *id, outcome)?;
                }
                Ok::<_, anyhow::Error>(())
            })
            .await??;
        }
        Ok(count)
    }

    /// Delivers until `stop` turns true (or forever).
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut next_periodic = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                return;
            }
            if tokio::time::Instant::now() >= next_periodic {
                next_periodic = tokio::time::Instant::now() + self.config.periodic_every;
                let pool = self.pool.clone();
                let result = tokio::task::spawn_blocking(move || {
                    let mut conn = pool.get()?;
                    crate::services::messages::run_periodic(&mut conn, crate::clock::today())
                        .map_err(|e| anyhow::anyhow!("{e}"))
                })
                .await;
                match result {
                    Ok(Ok(queued)) if queued > 0 => {
                        tracing::info!(queued, "periodic status updates queued")
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => tracing::warn!(%error, "periodic email jobs failed"),
                    Err(error) => tracing::warn!(%error, "periodic email jobs panicked"),
                }
            }
            let sent = match self.deliver_due().await {
                Ok(count) => count,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "delivering emails failed; trying again soon");
                    0
                }
            };
            if sent == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.idle_poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

/// Starts a worker on the current tokio runtime; send `true` to stop it.
pub fn spawn(
    pool: PgPool,
    settings: &Settings,
    config: WorkerConfig,
) -> anyhow::Result<(
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
)> {
    let mailer = Mailer::new(pool, settings, config)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(mailer.run(stopped));
    Ok((stop, handle))
}

fn build(from: Mailbox, message: &Claimed) -> Result<Message, String> {
    let to: Mailbox = message.recipient.parse().map_err(|e| {
        format!(
            "the recipient {:?} is not an address: {e}",
            message.recipient
        )
    })?;
    let domain = from.email.domain().to_owned();
    Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone())
        // The same message id on every attempt, so a server that saw it already can drop
        // the copy.
        .message_id(Some(format!("<outbox-{}@{domain}>", message.id)))
        .multipart(MultiPart::alternative_plain_html(
            message.body_text.clone(),
            message.body_html.clone(),
        ))
        .map_err(|e| format!("the message cannot be built: {e}"))
}

async fn attempt(
    transport: &Transport,
    from: Mailbox,
    message: &Claimed,
    config: &WorkerConfig,
) -> Outcome {
    let email = match build(from, message) {
        Ok(email) => email,
        Err(error) => return Outcome::Dead { error },
    };
    let stem = format!("{:08}", message.id);
    match transport.send(email, &stem).await {
        Ok(response) => Outcome::Sent { response },
        Err(SendError::Permanent(error)) => Outcome::Failed { error },
        Err(SendError::Temporary(error)) if message.attempts >= config.max_attempts => {
            Outcome::Failed {
                error: format!("gave up after {} attempts: {error}", message.attempts),
            }
        }
        Err(SendError::Temporary(error)) => Outcome::Retry {
            error,
            delay_seconds: config.backoff(message.attempts).as_secs_f64(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let config = WorkerConfig::default();
        for (attempts, plain) in [(1, 30.0), (2, 60.0), (3, 120.0), (30, 3600.0)] {
            let wait = config.backoff(attempts).as_secs_f64();
            assert!(
                (plain * 0.75..=plain * 1.25).contains(&wait),
                "attempt {attempts}: {wait}"
            );
        }
    }
}
