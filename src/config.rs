//! Settings from the environment (and a `.env` file), with defaults that serve a local
//! first run. Secrets never appear in `Debug` output or logs.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/backorder_desk";
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";

#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind_addr: SocketAddr,
    /// Where customers and staff reach the server; links in emails start with it.
    pub public_url: String,
    /// `smtp://host:port`, `smtps://user:pass@host` or `smtp://...?tls=starttls`; none
    /// writes `.eml` files to `mail_dir` instead.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub mail_dir: PathBuf,
    /// Signs session cookies and self-service links; when unset a random one is kept
    /// in the database so every instance shares it.
    pub session_secret: Option<String>,
    /// Connections in the pool of each process.
    pub pool_size: u32,
    /// Start the email delivery worker inside `serve`.
    pub run_worker: bool,
    /// How long whole-queue figures (the queue's counts, the daily review) are shared
    /// between requests; see `web::recent`. Zero counts on every request.
    pub figures_max_age: std::time::Duration,
    /// `SHOPIFY_WEBHOOK_SECRET`, `WOOCOMMERCE_WEBHOOK_SECRET`: they take precedence over
    /// the secrets set on the Integrations page.
    pub webhook_secrets: WebhookSecrets,
    /// `METRICS_ADDR`: a second listener serving `/metrics` without a token.
    pub metrics_addr: Option<SocketAddr>,
    /// `DATABASE_REPLICA_URL`: a streaming replica for the pages that only read.
    pub database_replica_url: Option<String>,
    /// `DATABASE_REPLICA_MAX_LAG_MS`: a replica further behind than this is bypassed.
    pub replica_max_lag: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`); from anyone else
    /// the peer address is the client's.
    pub trusted_proxies: Vec<IpBlock>,
    /// `ORDER_LANES`, `ORDER_BATCH_MAX`: API orders placed together in one transaction
    /// (`services::orders::lanes`).
    pub order_lanes: LaneSettings,
}

/// The storefronts' webhook secrets from the environment.
#[derive(Clone, Default)]
pub struct WebhookSecrets {
    pub shopify: Option<String>,
    pub woocommerce: Option<String>,
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecrets")
            .field("shopify", &self.shopify.as_ref().map(|_| "***"))
            .field("woocommerce", &self.woocommerce.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Settings {
    /// Reads the environment; call `dotenvy::dotenv()` before to include a `.env` file.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let bind_text = var("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND_ADDR.to_owned());
        let bind_addr: SocketAddr = bind_text.parse().with_context(|| {
            format!("BIND_ADDR {bind_text:?} is not an address like 127.0.0.1:8080")
        })?;
        let public_url = var("PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind_addr}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("PUBLIC_URL {public_url:?} must start with http:// or https://");
        }
        let session_secret = var("SESSION_SECRET");
        if let Some(secret) = &session_secret
            && secret.len() < 32
        {
            bail!("SESSION_SECRET must be at least 32 characters long");
        }
        let pool_size = match var("DATABASE_POOL_SIZE") {
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| (1..=200).contains(n))
                .context("DATABASE_POOL_SIZE must be a number from 1 to 200")?,
            None => 16,
        };
        let figures_max_age = match var("FIGURES_MAX_AGE_MS") {
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| *n <= 60_000)
                .map(std::time::Duration::from_millis)
                .context("FIGURES_MAX_AGE_MS must be a number of milliseconds from 0 to 60000")?,
            None => std::time::Duration::from_secs(2),
        };
        let metrics_addr = match var("METRICS_ADDR") {
            Some(text) => Some(text.parse().with_context(|| {
                format!("METRICS_ADDR {text:?} is not an address like 127.0.0.1:9090")
            })?),
            None => None,
        };
        let replica_max_lag = match var("DATABASE_REPLICA_MAX_LAG_MS") {
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| (100..=600_000).contains(n))
                .map(std::time::Duration::from_millis)
                .context(
                    "DATABASE_REPLICA_MAX_LAG_MS must be a number of milliseconds from 100 to 600000",
                )?,
            None => std::time::Duration::from_secs(2),
        };
        let trusted_proxies = match var("TRUSTED_PROXIES") {
            Some(list) => {
                IpBlock::parse_list(&list).map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?
            }
            None => Vec::new(),
        };
        let order_lanes = LaneSettings {
            lanes: match var("ORDER_LANES") {
                Some(n) => n
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .context("ORDER_LANES must be a number from 1 to 64")?,
                None => default_order_lanes(pool_size),
            },
            batch_max: match var("ORDER_BATCH_MAX") {
                Some(n) => n
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .context("ORDER_BATCH_MAX must be a number from 1 to 1000")?,
                None => 64,
            },
            depth: 1024,
        };
        Ok(Self {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            bind_addr,
            public_url,
            smtp_url: var("SMTP_URL"),
            mail_from: var("MAIL_FROM")
                .unwrap_or_else(|| "Backorder Desk <orders@backorder-desk.test>".to_owned()),
            mail_dir: PathBuf::from(var("MAIL_DIR").unwrap_or_else(|| "mail".to_owned())),
            session_secret,
            pool_size,
            run_worker: true,
            figures_max_age,
            webhook_secrets: WebhookSecrets {
                shopify: var("SHOPIFY_WEBHOOK_SECRET"),
                woocommerce: var("WOOCOMMERCE_WEBHOOK_SECRET"),
            },
            metrics_addr,
            database_replica_url: var("DATABASE_REPLICA_URL"),
            replica_max_lag,
            trusted_proxies,
            order_lanes,
        })
    }

    /// True when cookies must carry the `Secure` flag.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// One address or a CIDR block of them (`10.0.0.0/8`, `::1`), as `TRUSTED_PROXIES` lists
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

impl IpBlock {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or a block like 10.0.0.0/8"))?;
        let network = network.to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix must be a number from 0 to {bits}"))?,
        };
        Ok(Self { network, prefix })
    }

    /// A comma-separated list; empty entries are skipped.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        text.split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(Self::parse)
            .collect()
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let masked = |bits: u128, width: u32| -> u128 {
            let host_bits = width - u32::from(self.prefix);
            if host_bits >= 128 {
                0
            } else {
                bits >> host_bits
            }
        };
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                masked(u128::from(u32::from(network)), 32)
                    == masked(u128::from(u32::from(address)), 32)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                masked(u128::from(network), 128) == masked(u128::from(address), 128)
            }
            _ => false,
        }
    }
}

/// A URL with its password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

/// How many order lanes, how many orders one transaction takes at most, and how many may
/// wait in a lane before it answers "try again" (`services::orders::lanes`).
#[derive(Debug, Clone, Copy)]
pub struct LaneSettings {
    pub lanes: usize,
    pub batch_max: usize,
    pub depth: usize,
}

/// Lanes for API orders: one per CPU core, at most half the pool (each lane holds one
/// connection while it places a batch; the pages need the rest) and at most four. More
/// lanes than cores only split the arriving orders into smaller batches that contend for
/// the same cores: on 2 cores, 200 random backordered SKUs at 16 connections made 508-532
/// orders/s with 2 lanes and 370-421 with 4 (BENCHMARKS, issue 17).
pub fn default_order_lanes(pool_size: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (pool_size as usize / 2).min(cores).clamp(1, 4)
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind_addr", &self.bind_addr)
            .field("public_url", &self.public_url)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail_from)
            .field("mail_dir", &self.mail_dir)
            .field(
                "session_secret",
                &self.session_secret.as_ref().map(|_| "***"),
            )
            .field("pool_size", &self.pool_size)
            .field("figures_max_age", &self.figures_max_age)
            .field("webhook_secrets", &self.webhook_secrets)
            .field("metrics_addr", &self.metrics_addr)
            .field(
                "database_replica_url",
                &self.database_replica_url.as_deref().map(redact_url),
            )
            .field("replica_max_lag", &self.replica_max_lag)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("order_lanes", &self.order_lanes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxy_blocks() {
        let blocks = IpBlock::parse_list("10.0.0.0/8, 192.168.1.7,fd00::/8").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted = |s: &str| blocks.iter().any(|b| b.contains(ip(s)));
        assert!(trusted("10.200.3.4"));
        assert!(trusted("::ffff:10.1.1.1"));
        assert!(trusted("192.168.1.7"));
        assert!(!trusted("192.168.1.8"));
        assert!(!trusted("11.0.0.1"));
        assert!(trusted("fd12::1"));
        assert!(!trusted("fe80::1"));
        assert!(IpBlock::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(IpBlock::parse("10.0.0.0/33").is_err());
        assert!(IpBlock::parse("proxy.internal").is_err());
        assert!(IpBlock::parse_list("").unwrap().is_empty());
    }

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("smtps://user:hunter2@mail.example.com:465"),
            "smtps://user:***@mail.example.com:465"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
    }
}
