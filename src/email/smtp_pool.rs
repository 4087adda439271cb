//! A pool of SMTP connections for `smtp://` servers, built on lettre's connection type but
//! over sockets of our own with Nagle's algorithm off. lettre 0.11.23 writes a message's
//! body and its closing `.` in two writes on sockets with Nagle on, so the `.` waits for
//! the server's delayed ACK: 40 ms a message on Linux, ~25 messages/s a connection,
//! whatever the server (lettre PR #1159 sets TCP_NODELAY upstream; no release for Rust
//! 1.85 has it). `smtps://` stays on lettre's own transport, which cannot be handed a
//! socket for TLS from the first byte.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::Message;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;

use super::transport::{SendError, classify, describe_response};

/// A pooled connection idle longer than this is closed rather than used again.
const IDLE_FOR: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTls {
    Off,
    /// When the server offers it.
    Opportunistic,
    Required,
}

pub struct SmtpPool {
    host: String,
    port: u16,
    starttls: StartTls,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl SmtpPool {
    pub fn new(
        host: String,
        port: u16,
        starttls: StartTls,
        credentials: Option<Credentials>,
        timeout: Duration,
        max_idle: usize,
    ) -> Self {
        Self {
            host,
            port,
            starttls,
            credentials,
            hello: ClientId::default(),
            timeout,
            max_idle: max_idle.max(1),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends one message over a pooled connection (or a new one); `Ok` is the server's
    /// answer.
    pub async fn send(&self, message: &Message) -> Result<String, SendError> {
        let bytes = message.formatted();
        let mut connection = self.take().await?;
        match tokio::time::timeout(self.timeout, connection.send(message.envelope(), &bytes)).await
        {
            Ok(Ok(response)) => {
                self.give_back(connection);
                Ok(describe_response(&response))
            }
            // lettre closes a connection after any error; it is dropped here.
            Ok(Err(error)) => Err(classify(&error)),
            Err(_) => Err(SendError::Unreachable(format!(
                "no answer from the mail server in {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    /// An idle connection that still answers NOOP, or a new one.
    async fn take(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            match idle {
                Some((mut connection, since)) if since.elapsed() < IDLE_FOR => {
                    // The server may have closed it meanwhile.
                    if connection.test_connected().await {
                        return Ok(connection);
                    }
                }
                Some((mut connection, _)) => {
                    let _ = connection.quit().await;
                }
                None => return self.connect().await,
            }
        }
    }

    fn give_back(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push((connection, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let address = format!("{}:{}", self.host, self.port);
        let unreachable = |problem: String| {
            SendError::Unreachable(format!("cannot connect to {address}: {problem}"))
        };
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(&address))
            .await
            .map_err(|_| unreachable("timed out".to_owned()))?
            .map_err(|e| unreachable(e.to_string()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| unreachable(e.to_string()))?;
        let in_time = |what: &str| {
            SendError::Unreachable(format!(
                "the mail server at {address} did not finish {what} in {} s",
                self.timeout.as_secs()
            ))
        };
        let mut connection = tokio::time::timeout(
            self.timeout,
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
        )
        .await
        .map_err(|_| in_time("its greeting"))?
        .map_err(|e| classify(&e))?;
        let upgrade = match self.starttls {
            StartTls::Required => true,
            StartTls::Opportunistic => connection.can_starttls(),
            StartTls::Off => false,
        };
        if upgrade {
            let tls = TlsParameters::new(self.host.clone())
                .map_err(|e| SendError::Unreachable(format!("TLS for {}: {e}", self.host)))?;
            tokio::time::timeout(self.timeout, connection.starttls(tls, &self.hello))
                .await
                .map_err(|_| in_time("STARTTLS"))?
                .map_err(|e| classify(&e))?;
        }
        if let Some(credentials) = &self.credentials {
            tokio::time::timeout(
                self.timeout,
                connection.auth(DEFAULT_MECHANISMS, credentials),
            )
            .await
            .map_err(|_| in_time("signing in"))?
            .map_err(|e| classify(&e))?;
        }
        Ok(connection)
    }
}
