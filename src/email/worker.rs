//! The delivery worker: claims due messages (`FOR UPDATE SKIP LOCKED`, so any number of
//! workers share one outbox), renders the ones queued with their facts (`at_sending`: in
//! the claiming worker, from the shop as it is then, with the renderer it was handed),
//! sends them over a pool of SMTP connections, records the server's answers (one
//! transaction a batch), and retries temporary failures with exponential backoff and
//! jitter. A server that cannot be reached at all is not a
//! message's failure: the worker puts the messages back uncounted and pauses, then tries
//! one message at a time until the server answers. It also runs the periodic jobs: the
//! coalesced ETA-change emails whose window is over (claimed per order with `SKIP
//! LOCKED`), and the status updates, behind a PostgreSQL advisory lock so one instance
//! does each round.
//!
//! Waking: diesel 2.2 (what Cargo.lock holds under rust-version 1.85) has no API to
//! receive PostgreSQL notifications, so nothing is sent on enqueueing (a `NOTIFY` nobody
//! heard cost every order batch and receipt a round trip and a database-wide lock at
//! commit); an idle worker looks for due messages every `idle_poll` (200 ms by default;
//! one index-only probe).

use std::time::Duration;

use anyhow::Context;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use rand::Rng;
use tokio::task::JoinSet;

use super::at_sending;
use super::outbox::{self, Claimed, Outcome};
use super::transport::{SendError, Transport};
use crate::config::Settings;
use crate::db::PgPool;
use diesel::PgConnection;

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
    /// While the server cannot be reached, the worker pauses this long before it tries
    /// again (with one message), twice as long each time up to `unreachable_max`: so
    /// delivery resumes at most `unreachable_max` after the server is back, however long
    /// it was away.
    pub unreachable_base: Duration,
    pub unreachable_max: Duration,
    /// How often the periodic jobs run.
    pub periodic_every: Duration,
    /// The shop's periodic jobs (status updates, date-change emails whose window is
    /// over), handed in by whoever starts the worker: the worker only delivers and keeps
    /// time, so it depends on nothing above it.
    pub periodic: Option<PeriodicJobs>,
    /// The shop's renderer for emails queued with their facts (the restock email), handed
    /// in like `periodic`. Without one the worker leaves those messages queued for a
    /// worker that has one: it never claims them, so none goes out with an empty body and
    /// none is failed for want of a renderer.
    pub render_at_sending: Option<at_sending::Renderer>,
}

/// One round of the periodic jobs, on a connection of the worker's pool.
pub type PeriodicJobs = fn(&mut PgConnection) -> anyhow::Result<()>;

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch: 50,
            concurrency: 4,
            idle_poll: Duration::from_millis(200),
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            max_attempts: 8,
            unreachable_base: Duration::from_secs(1),
            unreachable_max: Duration::from_secs(15),
            periodic_every: Duration::from_secs(60),
            periodic: None,
            render_at_sending: None,
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

    /// Claims up to `limit` due messages, sends them (`concurrency` at a time) and records
    /// the outcomes. When the server cannot be reached the messages go back to the queue
    /// for `pause`, uncounted, and no more of them are tried.
    pub async fn deliver_due(&self, limit: i64, pause: Duration) -> anyhow::Result<Round> {
        let pool = self.pool.clone();
        let render = self.config.render_at_sending;
        let claimed = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            let mut claimed = outbox::claim_due(&mut conn, limit, render.is_some())?;
            if let Some(render) = render {
                at_sending::render_claimed(&mut conn, render, &mut claimed);
            }
            Ok::<_, anyhow::Error>(claimed)
        })
        .await??;
        let claimed_count = claimed.len();
        let mut waiting = claimed.into_iter();
        let mut sends = JoinSet::new();
        let mut tried = Vec::with_capacity(claimed_count);
        let mut gone = false;
        loop {
            while !gone && sends.len() < self.config.concurrency.max(1) as usize {
                let Some(message) = waiting.next() else { break };
                let (transport, from) = (self.transport.clone(), self.from.clone());
                sends.spawn(async move {
                    let result = attempt(&transport, from, &message).await;
                    (message, result)
                });
            }
            let Some(done) = sends.join_next().await else {
                break;
            };
            let (message, result) = done.context("a send task failed")?;
            gone |= matches!(result, Tried::Failed(SendError::Unreachable(_)));
            tried.push((message, result));
        }
        // The server is away only if it answered nothing in this round.
        let unreachable = gone
            && !tried.iter().any(|(_, result)| {
                matches!(
                    result,
                    Tried::Sent(_)
                        | Tried::Failed(SendError::Temporary(_) | SendError::Permanent(_))
                )
            });
        let later = if unreachable { pause } else { Duration::ZERO };
        let mut outcomes: Vec<(i64, Outcome)> = tried
            .into_iter()
            .map(|(message, result)| {
                let outcome = outcome(&self.config, &message, result, unreachable, later);
                (message.id, outcome)
            })
            .collect();
        outcomes.extend(waiting.map(|message| {
            let untried = Outcome::Deferred {
                error: None,
                delay_seconds: later.as_secs_f64(),
            };
            (message.id, untried)
        }));
        for (id, outcome) in &outcomes {
            crate::metrics::record_email_result(outcome);
            match outcome {
                Outcome::Sent { .. } => tracing::debug!(id, "email sent"),
                Outcome::Deferred { error: None, .. } => {}
                other => tracing::warn!(id, outcome = ?other, "email not sent"),
            }
        }
        if !outcomes.is_empty() {
            let pool = self.pool.clone();
            tokio::task::spawn_blocking(move || {
                let mut conn = pool.get()?;
                outbox::record_outcomes(&mut conn, &outcomes)?;
                Ok::<_, anyhow::Error>(())
            })
            .await??;
        }
        Ok(Round {
            claimed: claimed_count,
            unreachable,
        })
    }

    /// Delivers until `stop` turns true (or forever).
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut next_periodic = tokio::time::Instant::now();
        let mut pause = self.config.unreachable_base;
        let mut probing = false;
        loop {
            if *stop.borrow() {
                return;
            }
            if let Some(jobs) = self.config.periodic
                && tokio::time::Instant::now() >= next_periodic
            {
                next_periodic = tokio::time::Instant::now() + self.config.periodic_every;
                let pool = self.pool.clone();
                let result = tokio::task::spawn_blocking(move || {
                    let mut conn = pool.get()?;
                    jobs(&mut conn)
                })
                .await;
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::warn!(%error, "periodic email jobs failed"),
                    Err(error) => tracing::warn!(%error, "periodic email jobs panicked"),
                }
            }
            // After the server was away, one message at a time until it answers.
            let limit = if probing { 1 } else { self.config.batch };
            let wait = match self.deliver_due(limit, pause).await {
                Ok(round) if round.unreachable => {
                    tracing::warn!(
                        pause_seconds = pause.as_secs_f64(),
                        "the mail server cannot be reached; trying again after a pause"
                    );
                    let wait = pause;
                    pause = (pause * 2).min(self.config.unreachable_max);
                    probing = true;
                    Some(wait)
                }
                Ok(round) if round.claimed > 0 => {
                    if probing {
                        tracing::info!("the mail server answers again");
                    }
                    pause = self.config.unreachable_base;
                    probing = false;
                    None
                }
                Ok(_) => Some(self.config.idle_poll),
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "delivering emails failed; trying again soon");
                    Some(self.config.idle_poll)
                }
            };
            if let Some(wait) = wait {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

/// What one `deliver_due` did.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    pub claimed: usize,
    /// No message reached the server: it is away.
    pub unreachable: bool,
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
    let alternative = MultiPart::alternative_plain_html(
        message.body.body_text.clone(),
        message.body.body_html.clone(),
    );
    let body = match message.attachment() {
        None => alternative,
        Some(file) => {
            let content_type = ContentType::parse(&file.content_type)
                .map_err(|e| format!("the attachment's type cannot be read: {e}"))?;
            MultiPart::mixed()
                .multipart(alternative)
                .singlepart(Attachment::new(file.name).body(file.body, content_type))
        }
    };
    Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone())
        // The same message id on every attempt, so a server that saw it already can drop
        // the copy.
        .message_id(Some(format!("<outbox-{}@{domain}>", message.id)))
        .multipart(body)
        .map_err(|e| format!("the message cannot be built: {e}"))
}

/// One message's try.
enum Tried {
    /// The server took it; its answer.
    Sent(String),
    Failed(SendError),
    /// The message cannot be built (its address is not an address).
    Unbuildable(String),
}

async fn attempt(transport: &Transport, from: Mailbox, message: &Claimed) -> Tried {
    if !message.rendered {
        return Tried::Failed(SendError::Temporary(
            "the email could not be rendered for sending".to_owned(),
        ));
    }
    let email = match build(from, message) {
        Ok(email) => email,
        Err(error) => return Tried::Unbuildable(error),
    };
    let stem = format!("{:08}", message.id);
    match transport.send(email, &stem).await {
        Ok(response) => Tried::Sent(response),
        Err(error) => Tried::Failed(error),
    }
}

/// What becomes of a message after its try. `unreachable`: no message of the round
/// reached the server, so this one goes back uncounted after `later`.
fn outcome(
    config: &WorkerConfig,
    message: &Claimed,
    tried: Tried,
    unreachable: bool,
    later: Duration,
) -> Outcome {
    match tried {
        Tried::Sent(response) => Outcome::Sent { response },
        Tried::Unbuildable(error) => Outcome::Dead { error },
        Tried::Failed(SendError::Permanent(error)) => Outcome::Failed { error },
        Tried::Failed(SendError::Unreachable(error)) if unreachable => Outcome::Deferred {
            error: Some(error),
            delay_seconds: later.as_secs_f64(),
        },
        // The server answered others in the same round: this failure is the message's.
        Tried::Failed(SendError::Temporary(error) | SendError::Unreachable(error))
            if message.attempts >= config.max_attempts =>
        {
            Outcome::Failed {
                error: format!("gave up after {} attempts: {error}", message.attempts),
            }
        }
        Tried::Failed(SendError::Temporary(error) | SendError::Unreachable(error)) => {
            Outcome::Retry {
                error,
                delay_seconds: config.backoff(message.attempts).as_secs_f64(),
            }
        }
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
