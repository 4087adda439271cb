//! Where emails go: an SMTP server through a pool of connections (`smtp_pool` for
//! `smtp://`, lettre's pooled transport for `smtps://`), or `.eml` files in a folder when
//! no `SMTP_URL` is set (the default for a first run).
//!
//! `SMTP_URL` forms:
//! - `smtp://host:port`: plain SMTP, no TLS (a local catcher such as Mailpit on 1025);
//! - `smtp://user:pass@host:587?tls=starttls`: STARTTLS required, then AUTH;
//! - `smtps://user:pass@host` (port 465 by default): TLS from the first byte;
//! - `?tls=opportunistic` on `smtp://` upgrades when the server offers STARTTLS.
//!   User and password are percent-decoded.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::response::Response;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub use lettre::transport::smtp::Error as SmtpError;

use super::smtp_pool::{SmtpPool, StartTls};
use crate::config::{Settings, redact_url};

/// How long the server may take to connect or answer.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub enum Transport {
    /// `smtp://`: connections of our own, Nagle off.
    Pooled(Arc<SmtpPool>),
    /// `smtps://`: lettre's pooled transport.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// A failed attempt: worth trying again, or not, or the server was not there to ask.
#[derive(Debug, Clone)]
pub enum SendError {
    /// The server answered 4xx (or something went wrong that may not next time).
    Temporary(String),
    /// The server answered 5xx: this message will not be taken.
    Permanent(String),
    /// No SMTP answer at all: the connection was refused, dropped or timed out.
    Unreachable(String),
}

impl Transport {
    pub fn from_settings(settings: &Settings, pool_size: u32) -> anyhow::Result<Self> {
        match &settings.smtp_url {
            None => Ok(Self::Files(settings.mail_dir.clone())),
            Some(url) => smtp_from_url(url, pool_size),
        }
    }

    /// Where mail goes, for logs (passwords hidden).
    pub fn describe(&self, settings: &Settings) -> String {
        match self {
            Self::Pooled(_) | Self::Smtp(_) => format!(
                "SMTP at {}",
                redact_url(settings.smtp_url.as_deref().unwrap_or_default())
            ),
            Self::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// Sends one message; `Ok` carries the server's answer.
    pub async fn send(&self, message: Message, file_stem: &str) -> Result<String, SendError> {
        match self {
            Self::Pooled(pool) => pool.send(&message).await,
            Self::Smtp(transport) => match transport.send(message).await {
                Ok(response) => Ok(describe_response(&response)),
                Err(error) => Err(classify(&error)),
            },
            Self::Files(dir) => {
                let dir = dir.clone();
                let path = dir.join(format!("{file_stem}.eml"));
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || {
                    std::fs::create_dir_all(&dir)?;
                    std::fs::write(&path, bytes)?;
                    Ok::<_, std::io::Error>(path)
                })
                .await
                .map_err(|e| SendError::Temporary(format!("writing the file failed: {e}")))?
                .map(|path| format!("written to {}", path.display()))
                .map_err(|e| SendError::Temporary(format!("cannot write the .eml file: {e}")))
            }
        }
    }
}

/// 5xx answers are permanent; 4xx answers and unreadable ones are temporary; no answer at
/// all (a refused, dropped or timed-out connection, a failed TLS handshake) means the
/// server could not be reached, which says nothing about the message.
pub fn classify(error: &SmtpError) -> SendError {
    let text = one_line(error);
    if error.is_permanent() {
        SendError::Permanent(text)
    } else if error.is_transient() || error.is_response() || error.is_client() {
        SendError::Temporary(text)
    } else {
        SendError::Unreachable(text)
    }
}

/// "250 2.0.0 Ok: queued as ...", as the outbox keeps it.
pub fn describe_response(response: &Response) -> String {
    format!(
        "{} {}",
        response.code(),
        response.message().collect::<Vec<_>>().join(" ")
    )
}

fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn smtp_from_url(raw: &str, pool_size: u32) -> anyhow::Result<Transport> {
    let url = url::Url::parse(raw)
        .with_context(|| format!("SMTP_URL {} is not a URL", redact_url(raw)))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .with_context(|| format!("SMTP_URL {} names no host", redact_url(raw)))?
        .to_owned();
    let tls_mode = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.to_ascii_lowercase());
    let credentials = (!url.username().is_empty()).then(|| {
        Credentials::new(
            percent_decode(url.username()),
            percent_decode(url.password().unwrap_or_default()),
        )
    });
    let starttls = match (url.scheme(), tls_mode.as_deref()) {
        ("smtps", _) => {
            let mut builder = AsyncSmtpTransport::<Tokio1Executor>::relay(&host)?
                .timeout(Some(SMTP_TIMEOUT))
                .pool_config(PoolConfig::new().max_size(pool_size.max(1)));
            if let Some(port) = url.port() {
                builder = builder.port(port);
            }
            if let Some(credentials) = credentials {
                builder = builder.credentials(credentials);
            }
            return Ok(Transport::Smtp(builder.build()));
        }
        ("smtp", Some("starttls" | "required")) => StartTls::Required,
        ("smtp", Some("opportunistic")) => StartTls::Opportunistic,
        ("smtp", None | Some("none" | "off")) => StartTls::Off,
        ("smtp", Some(other)) => {
            bail!("SMTP_URL: tls={other} is not one of starttls, opportunistic, none")
        }
        (other, _) => bail!("SMTP_URL must start with smtp:// or smtps://, not {other}://"),
    };
    // Submission with STARTTLS is 587; plain SMTP 25.
    let default_port = if starttls == StartTls::Required {
        587
    } else {
        25
    };
    Ok(Transport::Pooled(Arc::new(SmtpPool::new(
        host,
        url.port().unwrap_or(default_port),
        starttls,
        credentials,
        SMTP_TIMEOUT,
        pool_size as usize,
    ))))
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The pooled transport starts its reaper task on the runtime.
    #[tokio::test]
    async fn reads_every_documented_url_form() {
        for url in [
            "smtp://localhost:1025",
            "smtp://user:p%40ss@mail.example.com:587?tls=starttls",
            "smtp://mail.example.com?tls=opportunistic",
            "smtps://user:pass@mail.example.com",
        ] {
            assert!(smtp_from_url(url, 2).is_ok(), "{url}");
        }
        assert!(smtp_from_url("http://x", 2).is_err());
        assert!(smtp_from_url("smtp://x?tls=maybe", 2).is_err());
        assert_eq!(percent_decode("p%40ss+x"), "p@ss+x");
    }
}
